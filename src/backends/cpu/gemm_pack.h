// Packing of GEMM operands into the micro-kernel's panel layout (gemm_microkernel.h):
// any strides, any float dtype in, f32 out, edge panels zero-padded to full width.
#pragma once

#include <cstdint>

#include "backends/cpu/cpu_kernels.h"
#include "backends/cpu/gemm_microkernel.h"
#include "porta/dtype.h"

namespace porta::cpu {

/// One batch entry of a strided operand: element (r, c) is at base + (r*rs + c*cs) elements.
struct GemmMatrix {
  const char* base;
  DType dtype;
  int64_t rs, cs;
  const char* at(int64_t r, int64_t c) const {
    return base + (r * rs + c * cs) * static_cast<int64_t>(dtype_size(dtype));
  }
};

/// A rows [m0, m0+mc) x depth [k0, k0+kc) into ceil(mc/mr) panels of kc x mr:
/// dst[p*kc*mr + k*mr + i] = A(m0 + p*mr + i, k0 + k), zero where m0 + p*mr + i >= m0 + mc.
void gemm_pack_a(const GemmMatrix& a, int64_t m0, int64_t mc, int64_t k0, int64_t kc, int mr, float* dst);

/// B depth [k0, k0+kc) x columns [n0, n0+nc) into ceil(nc/nr) panels of kc x nr:
/// dst[p*kc*nr + k*nr + j] = B(k0 + k, n0 + p*nr + j), zero past column n0 + nc.
/// Unit-stride sources go through the kernel set's vectorised packers.
void gemm_pack_b(const GemmMicrokernel& kern, const GemmMatrix& b, int64_t k0, int64_t kc, int64_t n0,
                 int64_t nc, float* dst);

/// A B operand that packs itself (a quantized weight dequantized straight into the panels):
/// pack(ctx, k0, kc, n0, nc, dst) writes what gemm_pack_b would for B(k, n) = the value.
/// Called by every thread of the GEMM team on its own share of a panel's columns.
struct GemmBSource {
  void (*pack)(const void* ctx, int64_t k0, int64_t kc, int64_t n0, int64_t nc, float* dst);
  const void* ctx;
};

/// gemm() with B [K, N] produced by `b` (g.b is not read): one batch entry, the packed path
/// whatever M, so every panel is packed once and reused over all rows of A.
void gemm_source_b(ThreadPool& pool, const GemmArgs& g, const GemmBSource& b);

}  // namespace porta::cpu
