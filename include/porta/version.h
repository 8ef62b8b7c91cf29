#pragma once

#define PORTA_VERSION_MAJOR 0
#define PORTA_VERSION_MINOR 1
#define PORTA_VERSION_PATCH 0

namespace porta {
/// "0.1.0"
const char* version() noexcept;
}  // namespace porta
