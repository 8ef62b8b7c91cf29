// The launchers of kernels/cuda/attention_simt.cu for the host emulator (emu.h): the same grids, blocks
// and dynamic shared memory as the real launchers, through emu::launch. Built by run.sh.
#include "k/attention_simt.cu"
namespace porta::cuda {
void emu_attention_simt(const AttentionDesc& d) {
  const int64_t G = d.Sq * (d.Hq / d.Hkv);
  const size_t smem =
      sizeof(float) * size_t(d.rows_per_block * d.D + d.key_tile * (d.D + 1) + d.key_tile * d.D);
  emu::launch(dim3(unsigned((G + d.rows_per_block - 1) / d.rows_per_block), unsigned(d.B * d.Hkv),
                   unsigned(d.splits)),
              dim3(kThreads), smem, [&] { attention_kernel(d); });
}
void emu_attention_combine(const AttentionDesc& d) {
  const int64_t n = d.B * d.Hq * d.Sq * d.D;
  emu::launch(dim3(grid_for(n, 256)), dim3(256), 0, [&] { attention_combine_kernel(d); });
}
}  // namespace porta::cuda
