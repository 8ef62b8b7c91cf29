// The launchers of kernels/cuda/attention_sm80_mma.cu for the host emulator (emu.h): the same grids, blocks
// and dynamic shared memory as the real launchers, through emu::launch. Built by run.sh.
#include "k/attention_sm80_mma.cu"
namespace porta::cuda {
template <bool B, int D>
void emu_fa2(const AttentionDesc& d) {
  emu::launch(dim3(unsigned((d.Sq + kBQ - 1) / kBQ), unsigned(d.B * d.Hq)), dim3(kThreads),
              Fa2Tiles<D>::kSmemBytes, [&] { attention_sm80_kernel<B, D>(d); });
}
template <bool B>
void emu_fa2_d(const AttentionDesc& d) {
  switch (d.D) {
    case 64: return emu_fa2<B, 64>(d);
    case 80: return emu_fa2<B, 80>(d);
    case 96: return emu_fa2<B, 96>(d);
    case 128: return emu_fa2<B, 128>(d);
    case 256: return emu_fa2<B, 256>(d);
  }
}
void emu_attention_sm80(const AttentionDesc& d) {
  d.q.dtype == kBF16 ? emu_fa2_d<true>(d) : emu_fa2_d<false>(d);
}
}  // namespace porta::cuda
