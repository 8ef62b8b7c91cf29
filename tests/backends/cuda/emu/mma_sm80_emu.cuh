// Emulation of kernels/cuda/mma_sm80.cuh (PTX ISA fragment layouts) for the host emulator.
#pragma once

#include "device_common.cuh"

namespace porta::cuda::sm80 {

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  const auto off = reinterpret_cast<const unsigned char*>(p) - ::emu::cta->dyn;
  if (off < 0 || off > (1 << 20)) ::emu::fail("smem_addr outside dynamic shared memory", __LINE__);
  return static_cast<uint32_t>(off);
}
inline unsigned char* smem_ptr(uint32_t a) { return ::emu::cta->dyn + a; }

__device__ __forceinline__ void cp_async16(uint32_t dst, const void* src, bool valid) {
  if (dst % 16) ::emu::fail("cp.async destination not 16-byte aligned", __LINE__);
  if (valid && reinterpret_cast<uintptr_t>(src) % 16)
    ::emu::fail("cp.async source not 16-byte aligned", __LINE__);
  if (valid)
    std::memcpy(smem_ptr(dst), src, 16);
  else
    std::memset(smem_ptr(dst), 0, 16);
}
__device__ __forceinline__ void cp_async_commit() {}
template <int N>
__device__ __forceinline__ void cp_async_wait() {}

// ldmatrix .x4: lane i gives the address of row i % 8 of matrix i / 8; lane t receives, in r[j],
// row t / 4, columns 2 (t % 4) and 2 (t % 4) + 1 of matrix j (.trans: of matrix j transposed).
inline void ldmatrix_emu(uint32_t addr, uint32_t r[4], bool trans, int site) {
  if (addr % 16) ::emu::fail("ldmatrix row address not 16-byte aligned", site);
  const void* a[32];
  ::emu::gather(reinterpret_cast<const void*>(uintptr_t(addr)), a, site);
  const int t = ::emu::lane;
  for (int j = 0; j < 4; ++j) {
    uint16_t e[2];
    for (int x = 0; x < 2; ++x) {
      int row = t / 4, col = 2 * (t % 4) + x;
      if (trans) std::swap(row, col);
      const uint32_t ra = uint32_t(uintptr_t(a[8 * j + row]));
      std::memcpy(&e[x], smem_ptr(ra) + 2 * col, 2);
    }
    r[j] = uint32_t(e[0]) | uint32_t(e[1]) << 16;
  }
  ::emu::gather_done();
}
#define ldmatrix_x4(addr, r) ldmatrix_emu((addr), (r), false, __LINE__)
#define ldmatrix_x4_trans(addr, r) ldmatrix_emu((addr), (r), true, __LINE__)

struct MmaIn {
  float c[4];
  uint32_t a[4], b[2];
};
template <bool kBF16>
inline float h2f(uint16_t h) {
  return kBF16 ? bf16_bits_to_f32(h) : f16_bits_to_f32(h);
}
/// D = A (16x16 row) * B (16x8 col) + C. g = lane / 4, t = lane % 4:
/// a0 A[g][2t,2t+1], a1 A[g+8][2t,..], a2 A[g][2t+8,..], a3 A[g+8][2t+8,..];
/// b0 B[2t,2t+1][g], b1 B[2t+8,2t+9][g]; c0 C[g][2t], c1 C[g][2t+1], c2 C[g+8][2t], c3 C[g+8][2t+1].
template <bool kBF16>
inline void mma_emu(float c[4], const uint32_t a[4], const uint32_t b[2], int site) {
  MmaIn in;
  std::memcpy(in.c, c, 16);
  std::memcpy(in.a, a, 16);
  std::memcpy(in.b, b, 8);
  const void* p[32];
  ::emu::gather(&in, p, site);
  float A[16][16], B[16][8], C[16][8];
  for (int l = 0; l < 32; ++l) {
    const MmaIn& x = *static_cast<const MmaIn*>(p[l]);
    const int g = l / 4, t = l % 4;
    for (int e = 0; e < 2; ++e) {
      A[g][2 * t + e] = h2f<kBF16>(uint16_t(x.a[0] >> (16 * e)));
      A[g + 8][2 * t + e] = h2f<kBF16>(uint16_t(x.a[1] >> (16 * e)));
      A[g][2 * t + 8 + e] = h2f<kBF16>(uint16_t(x.a[2] >> (16 * e)));
      A[g + 8][2 * t + 8 + e] = h2f<kBF16>(uint16_t(x.a[3] >> (16 * e)));
      B[2 * t + e][g] = h2f<kBF16>(uint16_t(x.b[0] >> (16 * e)));
      B[2 * t + 8 + e][g] = h2f<kBF16>(uint16_t(x.b[1] >> (16 * e)));
    }
    C[g][2 * t] = x.c[0], C[g][2 * t + 1] = x.c[1], C[g + 8][2 * t] = x.c[2], C[g + 8][2 * t + 1] = x.c[3];
  }
  const int g = ::emu::lane / 4, t = ::emu::lane % 4;
  const int rows[4] = {g, g, g + 8, g + 8}, cols[4] = {2 * t, 2 * t + 1, 2 * t, 2 * t + 1};
  float out[4];
  for (int e = 0; e < 4; ++e) {
    double s = C[rows[e]][cols[e]];
    for (int k = 0; k < 16; ++k) s += double(A[rows[e]][k]) * B[k][cols[e]];
    out[e] = float(s);
  }
  ::emu::gather_done();
  std::memcpy(c, out, 16);
}
template <bool kBF16>
__device__ __forceinline__ void mma16816(float c[4], const uint32_t a[4], const uint32_t b[2]) {
  mma_emu<kBF16>(c, a, b, __LINE__);
}

template <bool kBF16>
__device__ __forceinline__ uint32_t pack2(float lo, float hi) {
  const uint32_t l = kBF16 ? f32_to_bf16_bits(lo) : f32_to_f16_bits(lo);
  const uint32_t h = kBF16 ? f32_to_bf16_bits(hi) : f32_to_f16_bits(hi);
  return l | (h << 16);
}

}  // namespace porta::cuda::sm80
