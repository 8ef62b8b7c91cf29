// porta: one tensor and kernel API, many accelerators.
#pragma once

#include "porta/device.h"
#include "porta/dtype.h"
#include "porta/error.h"
#include "porta/ops.h"
#include "porta/serving.h"
#include "porta/stream.h"
#include "porta/tensor.h"
#include "porta/version.h"
