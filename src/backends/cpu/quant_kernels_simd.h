// The quantized-weight kernels written once over a vector-traits type V (quant_kernels.h
// describes the scheme). Included by quant_kernels_avx2.cpp and quant_kernels_avx512.cpp
// only, each compiled for its ISA; everything here is TU-local (anonymous namespace), so
// the two instantiations never meet.
//
// V provides: F (float vector), I (int32 vector), L (lanes), zero(), set1(), load(),
// fma(), u8(p) / s8(p) (L bytes widened to int32 lanes), low4(i) / high4(i) (nibbles of
// those lanes as floats), fp8p(p) (L E4M3FN bytes decoded), hsum(), store_pairs(lo, hi, out)
// (out[2i] = lo[i], out[2i+1] = hi[i]), store(), h2f() (one f16 to f32, F16C) and h2f16(p, out)
// (16 f16 to f32).
#pragma once

#include <algorithm>
#include <cstdint>

#include "backends/cpu/quant_kernels.h"

namespace porta::cpu {
namespace {

/// s[n, g] and z[n, g] with f16 read by F16C: per row and group, as often as every 32 weights.
template <class V>
inline float scale_at(const QuantRows& w, int64_t n, int64_t g) {
  if (w.scale_dtype == DType::f16)
    return V::h2f(reinterpret_cast<const uint16_t*>(w.scales)[n * w.scale_rs + g * w.scale_cs]);
  return w.scale(n, g);
}
template <class V>
inline float zero_at(const QuantRows& w, int64_t n, int64_t g) {
  if (w.format == QuantFormat::int4_zp) return V::h2f(w.zeros[n * w.zero_rs + g * w.zero_cs]);
  return w.format == QuantFormat::int4 ? 8.0f : 0.0f;
}

/// s[n, g] for groups [g0, g0 + 16) as f32 into out (F16C 16 at a time where the scales are
/// contiguous f16; 0 past the last group).
template <class V>
inline void scales16(const QuantRows& w, int64_t n, int64_t g0, int64_t G, float* out) {
  if (w.scale_dtype == DType::f16 && w.scale_cs == 1 && G - g0 >= 16) {
    V::h2f16(reinterpret_cast<const uint16_t*>(w.scales) + n * w.scale_rs + g0, out);
    return;
  }
  for (int64_t j = 0; j < 16; ++j) out[j] = g0 + j < G ? scale_at<V>(w, n, g0 + j) : 0.0f;
}

/// Σ_g s[n, g]·z[n, g]·Σx over row n's groups for MB activation rows (xsum row mb at
/// xsum + mb * G): the zero points' share of an int4 GEMV, out of its group loop (groups
/// of 32 give K / 32 of them per row), 16 groups a step.
template <class V, int MB>
void zero_correction(const QuantRows& w, int64_t n, const float* xsum, int64_t G, float* corr) {
  using F = typename V::F;
  constexpr int L = V::L;
  F acc[MB];
  for (int mb = 0; mb < MB; ++mb) acc[mb] = V::zero(), corr[mb] = 0.0f;
  alignas(64) float s[16], z[16];
  const bool zp = w.format == QuantFormat::int4_zp;
  for (int64_t g0 = 0; g0 < G; g0 += 16) {
    scales16<V>(w, n, g0, G, s);
    const int64_t cnt = std::min<int64_t>(16, G - g0);
    if (zp && w.zero_cs == 1 && cnt == 16) {
      V::h2f16(w.zeros + n * w.zero_rs + g0, z);
    } else {
      for (int64_t j = 0; j < 16; ++j) z[j] = j < cnt ? zero_at<V>(w, n, g0 + j) : 0.0f;
    }
    if (cnt == 16) {
      for (int i = 0; i < 16; i += L) {
        const F sz = V::mul(V::load(s + i), V::load(z + i));
        for (int mb = 0; mb < MB; ++mb) acc[mb] = V::fma(sz, V::load(xsum + mb * G + g0 + i), acc[mb]);
      }
    } else {
      for (int64_t j = 0; j < cnt; ++j)
        for (int mb = 0; mb < MB; ++mb) corr[mb] += s[j] * z[j] * xsum[mb * G + g0 + j];
    }
  }
  for (int mb = 0; mb < MB; ++mb) corr[mb] += V::hsum(acc[mb]);
}

/// Rows [n, n + R) x activation rows [m0, m0 + MB) of the GEMV, for codes of format FMT
/// (int4_zp shares int4's loop: zeros only enter through the per-group correction). GS: the
/// group size when it is 32 or 64 (the loops unroll; 0: any group, read at run time).
/// Per group and row the work left beside the multiply-adds is one broadcast scale from a
/// buffer refilled 16 groups at a time, so groups of 32 cost little more than groups of 128.
template <class V, QuantFormat FMT, int R, int MB, int GS, bool PM>
void gemv_block(const QuantGemvArgs& a, int64_t n, int m0, int64_t n_base) {
  using F = typename V::F;
  constexpr int L = V::L;
  static_assert(GS % (2 * L) == 0, "a fixed group holds whole vector pairs");
  const QuantRows& w = *a.w;
  constexpr bool nib = FMT == QuantFormat::int4;
  const int64_t G = w.groups(), group = GS ? GS : w.group;
  const uint8_t* rows[R];
  for (int r = 0; r < R; ++r) rows[r] = w.codes + (n + r) * w.code_rs;
  const float* xs[MB];
  for (int mb = 0; mb < MB; ++mb) xs[mb] = a.x + (m0 + mb) * a.ldx;
  F tot[R][MB];
  float corr[R][MB];
  for (int r = 0; r < R; ++r)
    for (int mb = 0; mb < MB; ++mb) {
      tot[r][mb] = V::zero();
      corr[r][mb] = 0.0f;
    }
  alignas(64) float sbuf[R][16];
  for (int64_t g = 0; g < G; ++g) {
    if ((g & 15) == 0)
      for (int r = 0; r < R; ++r) scales16<V>(w, n + r, g, G, sbuf[r]);
    const int64_t j0 = g * group, len = GS ? GS : std::min(group, w.k - j0);
    const int64_t full = GS ? GS : len / (2 * L) * (2 * L);
    // The next R rows (contiguous after these), the lines starting in this group's bytes, one
    // row block ahead: the hardware streamer alone leaves one Zen core at a third of its copy
    // bandwidth on these short interleaved row streams (prefetches never fault past the
    // weight's end).
    const int64_t o0 = nib ? j0 / 2 : j0, o1 = nib ? (j0 + full) / 2 : j0 + full;
    for (int64_t p = (o0 + 63) & ~int64_t{63}; p < o1; p += 64)
      for (int r = 0; r < R; ++r) __builtin_prefetch(rows[r] + R * w.code_rs + p, 0, 2);
    F acc[R][MB];
    for (int r = 0; r < R; ++r)
      for (int mb = 0; mb < MB; ++mb) acc[r][mb] = V::zero();
    for (int64_t b = j0; b < j0 + full; b += 2 * L) {
      F w0[R], w1[R];
      for (int r = 0; r < R; ++r) {
        if constexpr (nib) {  // 2L nibbles in L bytes: even elements in the low nibbles (x reordered to
                              // match); premixed x takes the whole byte instead of the high nibble
          const auto v = V::u8(rows[r] + b / 2);
          w0[r] = V::low4(v);
          w1[r] = PM ? V::cvt(v) : V::high4(v);
        } else if constexpr (FMT == QuantFormat::int8) {
          w0[r] = V::cvt(V::s8(rows[r] + b));
          w1[r] = V::cvt(V::s8(rows[r] + b + L));
        } else {
          w0[r] = V::fp8p(rows[r] + b);
          w1[r] = V::fp8p(rows[r] + b + L);
        }
      }
      for (int mb = 0; mb < MB; ++mb) {
        const F x0 = V::load(xs[mb] + b), x1 = V::load(xs[mb] + b + L);
        for (int r = 0; r < R; ++r) acc[r][mb] = V::fma(w1[r], x1, V::fma(w0[r], x0, acc[r][mb]));
      }
    }
    for (int r = 0; r < R; ++r) {
      const F s = V::set1(sbuf[r][g & 15]);
      for (int mb = 0; mb < MB; ++mb) tot[r][mb] = V::fma(s, acc[r][mb], tot[r][mb]);
    }
  }
  // Elements past the last whole vector pair: only the last group can have them (groups of
  // 32/64/128 are whole pairs; a per-channel group is the row). Kept out of the group loop
  // so its call does not make the compiler spill the accumulators around every group.
  if (const int64_t j0 = (G - 1) * group, len = w.k - j0, full = len / (2 * L) * (2 * L); full < len)
    for (int r = 0; r < R; ++r) {
      const float s = scale_at<V>(w, n + r, G - 1);
      for (int mb = 0; mb < MB; ++mb)
        corr[r][mb] -= s * quant_dot_scalar(w, rows[r], j0 + full, j0 + len, xs[mb]);
    }
  if constexpr (nib)
    for (int r = 0; r < R; ++r) {
      float zc[MB];
      zero_correction<V, MB>(w, n + r, a.xsum + m0 * G, G, zc);
      for (int mb = 0; mb < MB; ++mb) corr[r][mb] += zc[mb];
    }
  for (int r = 0; r < R; ++r)
    for (int mb = 0; mb < MB; ++mb)
      a.y[(m0 + mb) * a.ldy + (n + r - n_base)] = V::hsum(tot[r][mb]) - corr[r][mb];
}

// Register budget: R * MB accumulators and as many group totals (<= 16 vectors).
template <class V, QuantFormat FMT, int MB, int GS, bool PM>
void gemv_rows(const QuantGemvArgs& a, int m0, int64_t n0, int64_t n1) {
  constexpr int R = MB <= 2 ? 4 : MB == 4 ? 2 : 1;
  int64_t n = n0;
  for (; n + R <= n1; n += R) gemv_block<V, FMT, R, MB, GS, PM>(a, n, m0, n0);
  for (; n < n1; ++n) gemv_block<V, FMT, 1, MB, GS, PM>(a, n, m0, n0);
}

template <class V, QuantFormat FMT, int GS, bool PM>
void gemv_format(const QuantGemvArgs& a, int64_t n0, int64_t n1) {
  int m = 0;
  for (; m + 8 <= a.M; m += 8) gemv_rows<V, FMT, 8, GS, PM>(a, m, n0, n1);
  if (m + 4 <= a.M) gemv_rows<V, FMT, 4, GS, PM>(a, m, n0, n1), m += 4;
  if (m + 2 <= a.M) gemv_rows<V, FMT, 2, GS, PM>(a, m, n0, n1), m += 2;
  if (m < a.M) gemv_rows<V, FMT, 1, GS, PM>(a, m, n0, n1);
}

template <class V, QuantFormat FMT, bool PM>
void gemv_group(const QuantGemvArgs& a, int64_t n0, int64_t n1) {
  if (a.w->groups() > 1 && a.w->group == 32) return gemv_format<V, FMT, 32, PM>(a, n0, n1);
  if (a.w->groups() > 1 && a.w->group == 64) return gemv_format<V, FMT, 64, PM>(a, n0, n1);
  gemv_format<V, FMT, 0, PM>(a, n0, n1);
}

template <class V>
void gemv(const QuantGemvArgs& a, int64_t n0, int64_t n1) {
  switch (a.w->format) {
    case QuantFormat::int8: return gemv_group<V, QuantFormat::int8, false>(a, n0, n1);
    case QuantFormat::int4:
    case QuantFormat::int4_zp:
      if (a.premixed) return gemv_group<V, QuantFormat::int4, true>(a, n0, n1);
      return gemv_group<V, QuantFormat::int4, false>(a, n0, n1);
    case QuantFormat::fp8_e4m3fn: return gemv_group<V, QuantFormat::fp8_e4m3fn, false>(a, n0, n1);
  }
}

template <class V>
void dequant_range(const QuantRows& w, int64_t n, int64_t k0, int64_t k1, float* out) {
  using F = typename V::F;
  constexpr int L = V::L;
  const uint8_t* row = w.codes + n * w.code_rs;
  const bool nib = w.format == QuantFormat::int4 || w.format == QuantFormat::int4_zp;
  out -= k0;  // out[j] from here on
  for (int64_t g = k0 / w.group; g * w.group < k1; ++g) {
    const int64_t j0 = std::max(k0, g * w.group), j1 = std::min({k1, w.k, (g + 1) * w.group});
    const float sf = scale_at<V>(w, n, g), zf = zero_at<V>(w, n, g);
    const F s = V::set1(sf), z = V::set1(zf);
    int64_t j = j0;
    if (!nib || (j & 1) == 0)  // nibble pairs start on a byte
      for (; j + 2 * L <= j1; j += 2 * L) {
        if (nib) {  // (q - z) * s: the subtraction is exact, one rounding as the reference
          const auto v = V::u8(row + j / 2);
          V::store_pairs(V::mul(V::sub(V::low4(v), z), s), V::mul(V::sub(V::high4(v), z), s), out + j);
        } else if (w.format == QuantFormat::int8) {
          V::store(out + j, V::mul(V::cvt(V::s8(row + j)), s));
          V::store(out + j + L, V::mul(V::cvt(V::s8(row + j + L)), s));
        } else {
          V::store(out + j, V::mul(V::fp8p(row + j), s));
          V::store(out + j + L, V::mul(V::fp8p(row + j + L), s));
        }
      }
    for (; j < j1; ++j) {
      switch (w.format) {
        case QuantFormat::int8: out[j] = static_cast<float>(static_cast<int8_t>(row[j])) * sf; break;
        case QuantFormat::int4:
        case QuantFormat::int4_zp: out[j] = (static_cast<float>(quant_nibble(row, j)) - zf) * sf; break;
        case QuantFormat::fp8_e4m3fn: out[j] = quant_fp8_value(row[j]) * sf; break;
      }
    }
  }
}

template <class V>
void dequant_row(const QuantRows& w, int64_t n, float* out) {
  dequant_range<V>(w, n, 0, w.k, out);
}

}  // namespace
}  // namespace porta::cpu
