// AVX-512 int4 GEMV at M = 1 on int8 activation digits: the AVX2 digits kernel's scheme
// (quant_gemv_digits_avx2.cpp) on 64-byte code loads, in two forms sharing everything but the
// dot product: AVX512-VNNI's vpdpbusd multiplies 64 unsigned codes with 64 signed digits and
// adds each lane's four products into an i32 accumulator in one instruction
// (quant_gemv_digits_avx512vnni.cpp); AVX-512BW hosts without it (Skylake-SP) take vpmaddubsw
// and vpaddw into i16 lanes (4 products of <= 15·64 per lane) and widen with vpmaddwd by 128^i
// (quant_gemv_digits_avx512.cpp).
//
// A window is one 64-byte code load per row (128 elements; the split lays a span's digits out
// to match, digit_block = 128). i32 lane l of a window's sums holds elements 8l .. 8l + 7, so
// a group of 32 or 64 owns 4 or 8 adjacent lanes and the window takes one vector of per-lane
// s·u (a permute of 4 or 2 buffered slots), groups of >= 128 a broadcast. Digits combine as
// acc0 + acc1·2^7 + acc2·2^14 (at most 8 products of <= 15·64 per lane and digit: < 2^27).
// The last, partial window is a masked load; the split's digits past K are zero, so there is
// no scalar tail. Included only by files compiled with AVX-512F/BW/VL/DQ and F16C (and
// -mavx512vnni for the VNNI form); TU-local (anonymous namespace).
#pragma once

// GCC 12's AVX-512 headers (_mm512_undefined_*), for the rest of the including file:
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <immintrin.h>

#include <algorithm>

#include "backends/cpu/quant_avx512_scales.h"
#include "backends/cpu/quant_kernels.h"

namespace porta::cpu {
namespace {

constexpr int64_t kWindow = 128;  // elements per 64 bytes of codes (and per span)

/// Σ_g s·z·Σx̃ over row n's groups (z = 8 for int4, z[n, g] for int4_zp).
inline float zero_correction(const QuantRows& w, int64_t n, const float* xsum, int64_t G) {
  __m512 acc = _mm512_setzero_ps();
  const bool zp = w.format == QuantFormat::int4_zp;
  for (int64_t g = 0; g < G; g += 16) {
    const int64_t cnt = std::min<int64_t>(16, G - g);
    const auto m = static_cast<__mmask16>((1u << cnt) - 1);
    __m512 z = _mm512_set1_ps(8.0f);
    if (zp) {
      if (w.zero_cs == 1) {
        z = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, w.zeros + n * w.zero_rs + g));
      } else {
        alignas(64) float buf[16] = {};
        for (int64_t j = 0; j < cnt; ++j) buf[j] = _cvtsh_ss(w.zeros[n * w.zero_rs + (g + j) * w.zero_cs]);
        z = _mm512_load_ps(buf);
      }
    }
    acc = _mm512_fmadd_ps(_mm512_mul_ps(scales16(w, n, g, G), z), _mm512_maskz_loadu_ps(m, xsum + g), acc);
  }
  return _mm512_reduce_add_ps(acc);
}

/// out[i] = s·u of row n's slots [i0, i0 + 16) (slots: QuantGemvArgs::unit).
inline void slot_factors(const QuantGemvArgs& a, int64_t n, int64_t i0, float* out) {
  const QuantRows& w = *a.w;
  const int64_t G = w.groups();
  const __m512 u = _mm512_loadu_ps(a.unit + i0);
  if (G == 1) {
    _mm512_storeu_ps(out, _mm512_mul_ps(_mm512_set1_ps(scale_of(w, n, 0)), u));
  } else if (w.group <= kWindow) {
    _mm512_storeu_ps(out, _mm512_mul_ps(scales16(w, n, i0, G), u));
  } else {  // groups of 256, 384, ...: a slot is a span
    for (int64_t i = 0; i < 16; ++i) {
      const int64_t g = (i0 + i) * kWindow / w.group;
      out[i] = g < G ? scale_of(w, n, g) * a.unit[i0 + i] : 0.0f;
    }
  }
}

/// Rows [n, n + R). P: elements per slot (32, 64, or 128 for groups >= 128 and per row).
template <bool kVnni, int R, int D, int P>
void block(const QuantGemvArgs& a, int64_t n, int64_t n_base) {
  const QuantRows& w = *a.w;
  const int64_t K = w.k, G = w.groups(), row_bytes = (K + 1) / 2;
  const uint8_t* rows[R];
  for (int r = 0; r < R; ++r) rows[r] = w.codes + (n + r) * w.code_rs;
  w.prefetch_scales(n + R, R);  // the next rows' scales
  const __m512i low4 = _mm512_set1_epi8(15);
  // Lane l's slot within a window: l / 4 (P = 32), l / 8 (P = 64), 0.
  const __m512i lane_slot = _mm512_srli_epi32(
      _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), P == 32   ? 2
                                                                               : P == 64 ? 3
                                                                                         : 4);
  __m512 tot[R];
  for (int r = 0; r < R; ++r) tot[r] = _mm512_setzero_ps();
  alignas(64) float sbuf[R][20];  // 16 slots; a window reads up to 4 from its first
  for (int64_t j0 = 0, c = 0; j0 < K; j0 += kWindow, ++c) {
    const int64_t slot = j0 / P, off = j0 / 2;
    if ((slot & 15) == 0)
      for (int r = 0; r < R; ++r) slot_factors(a, n + r, slot, sbuf[r]);
    __m512i v[R];
    if (off + 64 <= row_bytes) {
      for (int r = 0; r < R; ++r) v[r] = _mm512_loadu_si512(rows[r] + off);
    } else {  // the row's last bytes; the digits past K are zero
      const __mmask64 m = (__mmask64{1} << (row_bytes - off)) - 1;
      for (int r = 0; r < R; ++r) v[r] = _mm512_maskz_loadu_epi8(m, rows[r] + off);
    }
    // The next R rows at this offset into L2 (prefetcht1), as the other int4 kernels.
    for (int r = 0; r < R; ++r) __builtin_prefetch(rows[r] + R * w.code_rs + off, 0, 2);
    const int8_t* xd = a.xd + c * D * kWindow;
    __m512i acc[R][D];
    for (int r = 0; r < R; ++r) {
      const __m512i lo = _mm512_and_si512(v[r], low4),
                    hi = _mm512_and_si512(_mm512_srli_epi16(v[r], 4), low4);
      for (int i = 0; i < D; ++i) {
        const __m512i de = _mm512_loadu_si512(xd + i * kWindow),
                      dodd = _mm512_loadu_si512(xd + i * kWindow + 64);
        if constexpr (kVnni) {
          acc[r][i] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), lo, de), hi, dodd);
        } else {  // i16 lanes: 4 products of <= 15·64 each
          acc[r][i] = _mm512_add_epi16(_mm512_maddubs_epi16(lo, de), _mm512_maddubs_epi16(hi, dodd));
        }
      }
    }
    for (int r = 0; r < R; ++r) {
      __m512i s32;
      if constexpr (kVnni) {
        s32 = acc[r][0];
        if constexpr (D > 1) s32 = _mm512_add_epi32(s32, _mm512_slli_epi32(acc[r][1], 7));
        if constexpr (D > 2) s32 = _mm512_add_epi32(s32, _mm512_slli_epi32(acc[r][2], 14));
      } else {  // i16 lane pairs widen into the i32 lane of the same 4 bytes, times 128^i
        s32 = _mm512_madd_epi16(acc[r][0], _mm512_set1_epi16(1));
        if constexpr (D > 1)
          s32 = _mm512_add_epi32(s32, _mm512_madd_epi16(acc[r][1], _mm512_set1_epi16(128)));
        if constexpr (D > 2)
          s32 = _mm512_add_epi32(s32, _mm512_madd_epi16(acc[r][2], _mm512_set1_epi16(16384)));
      }
      const float* f = sbuf[r] + (slot & 15);
      __m512 sv;
      if constexpr (P < kWindow) {
        sv = _mm512_permutexvar_ps(lane_slot, _mm512_castps128_ps512(_mm_loadu_ps(f)));
      } else {
        sv = _mm512_set1_ps(*f);
      }
      tot[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s32), sv, tot[r]);
    }
  }
  for (int r = 0; r < R; ++r)
    a.y[n + r - n_base] = _mm512_reduce_add_ps(tot[r]) - zero_correction(w, n + r, a.xsum, G);
}

template <bool kVnni, int D, int P>
void rows(const QuantGemvArgs& a, int64_t n0, int64_t n1) {
  constexpr int R = 4;  // 4·D accumulators + 4 totals of 32 registers
  int64_t n = n0;
  for (; n + R <= n1; n += R) block<kVnni, R, D, P>(a, n, n0);
  for (; n < n1; ++n) block<kVnni, 1, D, P>(a, n, n0);
}

template <bool kVnni, int D>
void gemv_d(const QuantGemvArgs& a, int64_t n0, int64_t n1) {
  const QuantRows& w = *a.w;
  if (w.groups() > 1 && w.group == 32) return rows<kVnni, D, 32>(a, n0, n1);
  if (w.groups() > 1 && w.group == 64) return rows<kVnni, D, 64>(a, n0, n1);
  rows<kVnni, D, kWindow>(a, n0, n1);
}

/// The GEMV (QuantKernels::gemv_digits); kVnni: vpdpbusd (compile with -mavx512vnni), else
/// vpmaddubsw into i16 lanes (AVX-512BW).
template <bool kVnni>
void gemv_digits(const QuantGemvArgs& a, int64_t n0, int64_t n1) {
  if (a.digits == 3) return gemv_d<kVnni, 3>(a, n0, n1);
  gemv_d<kVnni, 2>(a, n0, n1);
}

}  // namespace
}  // namespace porta::cpu
