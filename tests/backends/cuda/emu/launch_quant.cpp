// The launchers of kernels/cuda/quant.cu for the host emulator (emu.h): the same grids, blocks
// and dynamic shared memory as the real launchers, through emu::launch. Built by run.sh.
#include "k/quant.cu"
namespace porta::cuda {
void emu_quant_dequant(const QuantDequantDesc& d) {
  if (d.rows == 0 || d.w.k == 0) return;
  const dim3 grid(grid_cap((d.w.k + 7) / 8, kThreads, 65535), grid_cap(d.rows, 1, 65535));
#define EMU_QD(F)                                                                    \
  if (d.vec)                                                                         \
    emu::launch(grid, dim3(kThreads), 0, [&] { quant_dequant_kernel<F, true>(d); }); \
  else                                                                               \
    emu::launch(grid, dim3(kThreads), 0, [&] { quant_dequant_kernel<F, false>(d); });
  switch (d.w.format) {
    case 0: EMU_QD(0); break;
    case 1: EMU_QD(1); break;
    case 2: EMU_QD(2); break;
    default: EMU_QD(3); break;
  }
}
void emu_quant_gemv(const QuantGemvDesc& d) {
  if (d.M == 0 || d.w.n == 0) return;
  const dim3 grid(grid_cap(d.w.n, kCols, 65535 * 8));
#define EMU_QG(F)                                                                 \
  if (d.vec)                                                                      \
    emu::launch(grid, dim3(kThreads), 0, [&] { quant_gemv_kernel<F, true>(d); }); \
  else                                                                            \
    emu::launch(grid, dim3(kThreads), 0, [&] { quant_gemv_kernel<F, false>(d); });
  switch (d.w.format) {
    case 0: EMU_QG(0); break;
    case 1: EMU_QG(1); break;
    case 2: EMU_QG(2); break;
    default: EMU_QG(3); break;
  }
}
void emu_quantize(const QuantizeDesc& d) {
  if (d.w.n == 0 || d.w.k == 0) return;
  const int64_t G = (d.w.k + d.w.group - 1) / d.w.group;
  const dim3 grid(grid_cap(G, 64, 65535), grid_cap(d.w.n, 1, 65535));
  const unsigned rgrid = grid_cap(d.w.n, kThreads, 65535);
#define EMU_QZ(F)                                                                    \
  if (d.per_tensor) {                                                                \
    emu::launch(dim3(rgrid), dim3(kThreads), 0, [&] { quant_rowmax_kernel<F>(d); }); \
    emu::launch(dim3(1), dim3(kThreads), 0, [&] { quant_tensor_scale_kernel(d); });  \
  }                                                                                  \
  emu::launch(grid, dim3(64), 0, [&] { quantize_kernel<F>(d); });
  switch (d.w.format) {
    case 0: EMU_QZ(0) break;
    case 1: EMU_QZ(1) break;
    case 2: EMU_QZ(2) break;
    default: EMU_QZ(3) break;
  }
}
}  // namespace porta::cuda
