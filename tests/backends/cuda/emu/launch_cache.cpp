// The launchers of kernels/cuda/paged_cache.cu for the host emulator (emu.h): the same grids, blocks
// and dynamic shared memory as the real launchers, through emu::launch. Built by run.sh.
#include "k/paged_cache.cu"
namespace porta::cuda {
void emu_kv_write(const KvWriteDesc& d) {
  const int64_t rows = d.T * d.cache.Hkv;
  if (rows == 0) return;
  emu::launch(dim3(grid_for(rows, kGroups)), dim3(kThreads), 0, [&] { kv_cache_write_kernel(d); });
}
void emu_copy_blocks(const CopyBlocksDesc& d) {
  const int64_t rows = d.N * d.cache.block_size * d.cache.Hkv;
  if (rows == 0) return;
  emu::launch(dim3(grid_for(rows, kGroups)), dim3(kThreads), 0, [&] { copy_blocks_kernel(d); });
}
}  // namespace porta::cuda
