// The launchers of kernels/cuda/paged_attention.cu for the host emulator (emu.h): the same grids, blocks
// and dynamic shared memory as the real launchers, through emu::launch. Built by run.sh.
#include "k/paged_attention.cu"
namespace porta::cuda {
template <int K, int R>
void emu_variant(const PagedAttnDesc& d) {
  emu::launch(dim3(unsigned(d.plan.ctas)), dim3(kThreads), 0, [&] { paged_attention_kernel<K, R>(d); });
}
template <int K>
void emu_kind(const PagedAttnDesc& d) {
  switch (d.plan.rows) {
    case 1: return emu_variant<K, 1>(d);
    case 2: return emu_variant<K, 2>(d);
    case 4: return emu_variant<K, 4>(d);
    case 8: return emu_variant<K, 8>(d);
    default: emu::fail("bad plan rows", __LINE__);
  }
}
void emu_paged_attention(const PagedAttnDesc& d) {
  if (d.plan.ctas == 0 || d.max_q == 0) return;
  switch (d.cache.kind) {
    case kPagedF32: emu_kind<kPagedF32>(d); break;
    case kPagedF16: emu_kind<kPagedF16>(d); break;
    case kPagedBF16: emu_kind<kPagedBF16>(d); break;
    case kPagedInt8: emu_kind<kPagedInt8>(d); break;
    default: emu_kind<kPagedFp8>(d); break;
  }
  if (d.plan.splits == 1) return;
  emu::launch(dim3(unsigned(d.B * d.max_q * d.Hq)), dim3(kThreads), 0, [&] { paged_combine_kernel(d); });
}
}  // namespace porta::cuda
