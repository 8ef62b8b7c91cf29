// The launchers of kernels/cuda/paged_prefill_sm80.cu for the host emulator (emu.h): the same grids, blocks
// and dynamic shared memory as the real launchers, through emu::launch. Built by run.sh.
#include "k/paged_prefill_sm80.cu"
namespace porta::cuda {
template <bool B, int D>
void emu_pf(const PagedAttnDesc& d) {
  emu::launch(dim3(unsigned((d.max_q + kBQ - 1) / kBQ), unsigned(d.B * d.Hq)), dim3(kThreads),
              PagedFa2Tiles<D>::kSmemBytes, [&] { paged_prefill_sm80_kernel<B, D>(d); });
}
template <bool B>
void emu_pf_d(const PagedAttnDesc& d) {
  switch (d.cache.D) {
    case 64: return emu_pf<B, 64>(d);
    case 80: return emu_pf<B, 80>(d);
    case 96: return emu_pf<B, 96>(d);
    case 128: return emu_pf<B, 128>(d);
    case 256: return emu_pf<B, 256>(d);
  }
}
void emu_paged_prefill(const PagedAttnDesc& d) {
  if (d.B == 0 || d.max_q == 0) return;
  if (d.dt == kBF16)
    emu_pf_d<true>(d);
  else
    emu_pf_d<false>(d);
}
}  // namespace porta::cuda
