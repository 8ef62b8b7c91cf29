// The launchers of kernels/cuda/attention_decode.cu for the host emulator (emu.h): the same grids, blocks
// and dynamic shared memory as the real launchers, through emu::launch. Built by run.sh.
#include "k/attention_decode.cu"
namespace porta::cuda {
template <bool B, int D, int R>
void emu_dec_v(const AttentionDesc& d) {
  constexpr size_t smem = DecodeTiles<D>::kRingBytes + sizeof(float) * R * D;
  emu::launch(dim3(unsigned(d.splits), unsigned(d.B * d.Hkv)), dim3(kThreads), smem,
              [&] { attention_decode_kernel<B, D, R>(d); });
}
template <bool B, int D>
void emu_dec_r(const AttentionDesc& d) {
  const int64_t rows = d.Sq * (d.Hq / d.Hkv);
  if (rows <= 1) return emu_dec_v<B, D, 1>(d);
  if (rows <= 2) return emu_dec_v<B, D, 2>(d);
  if (rows <= 4) return emu_dec_v<B, D, 4>(d);
  return emu_dec_v<B, D, 8>(d);
}
template <bool B>
void emu_dec_d(const AttentionDesc& d) {
  switch (d.D) {
    case 64: return emu_dec_r<B, 64>(d);
    case 128: return emu_dec_r<B, 128>(d);
    case 256: return emu_dec_r<B, 256>(d);
  }
}
void emu_attention_decode(const AttentionDesc& d) {
  d.q.dtype == kBF16 ? emu_dec_d<true>(d) : emu_dec_d<false>(d);
}
}  // namespace porta::cuda
