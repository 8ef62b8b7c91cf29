// AVX2 int4 GEMV at M = 1 on int8 activation digits. AVX2 has no bf16 or int4 dot product,
// and the f32 kernels spend four conversion ops per eight weights (unpack, widen, convert,
// FMA) where decode needs the bytes: this one multiplies 32 unsigned codes with 32 signed
// activation digits per vpmaddubsw, on integers, exactly.
//
// The activation row is split once (split_digits, quant_kernels.h) into X = round(x / u) per
// span of 128 elements, u a power of two, X held as D balanced base-128 digits (|d| <= 64).
// Per window of codes (64 elements for groups of 32 / 64, 128 otherwise) and digit, the
// products sum in 16-bit lanes (at most 8 per lane: 8·15·64 < 2^15), then widen with
// vpmaddwd by 128^i (digit weights, 2.6e8 < 2^31 per lane), convert once, and take the
// window's scale times the span's unit in one FMA. What the kernel computes is exactly
// Σ q·x̃ with x̃ = u·X (a 20-bit f32 activation with D = 3, 13-bit with D = 2, relative to
// the span's largest value) before the f32 accumulation: the driver hands the same x̃ to the
// scalar tail and the zero points' sums.
#if defined(PORTA_CPU_X86)
#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "backends/cpu/quant_digit_windows_avx2.h"
#include "backends/cpu/quant_kernels_simd.h"
#include "backends/cpu/quant_v256_avx2.h"

namespace porta::cpu {
namespace {

constexpr int64_t kSpan = kDigitSpan;
constexpr int64_t kBlock = 64;  // elements per 32 bytes of codes

/// 32 i32 lanes (four vectors) as 32 int8 in order: the digits are in [−64, 64], so the
/// saturating packs are exact; they interleave 128-bit halves, which vpermd undoes.
inline __m256i pack32(__m256i a, __m256i b, __m256i c, __m256i d) {
  const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
  return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/// Even (e) and odd (o) elements of 16 consecutive floats, each in order.
inline void deinterleave(const float* p, __m256& e, __m256& o) {
  const __m256 a = _mm256_loadu_ps(p), b = _mm256_loadu_ps(p + 8);
  e = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xd8));
  o = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xdd)), 0xd8));
}

/// Digits of 8 integer values X (as floats, |X| <= 2^20): out[i] = digit i, lowest first.
template <int D>
inline void digits8(__m256 X, __m256i out[D]) {
  __m256i rest = _mm256_cvtps_epi32(X);  // already integral: exact
  for (int i = 0; i < D; ++i) {
    if (i + 1 == D) {
      out[i] = rest;
      break;
    }
    // Balanced: d = ((rest + 64) mod 128) − 64, then rest = (rest − d) / 128, exact.
    const __m256i d = _mm256_sub_epi32(
        _mm256_and_si256(_mm256_add_epi32(rest, _mm256_set1_epi32(64)), _mm256_set1_epi32(127)),
        _mm256_set1_epi32(64));
    out[i] = d;
    rest = _mm256_srai_epi32(_mm256_sub_epi32(rest, d), 7);
  }
}

/// Span digits in blocks of B elements (64: a 32-byte code load, 128: a 64-byte one): per
/// digit, the block's B / 2 even elements, then its odd ones.
template <int D, int B>
void split_span(const float* src, int8_t* out, __m256 inv) {
  constexpr int Q = B / 16;  // 16-float steps per block
  const int mode = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
  for (int64_t b = 0; b < kSpan; b += B) {
    __m256i ev[Q][D], od[Q][D];
    for (int q = 0; q < Q; ++q) {
      __m256 e, o;
      deinterleave(src + b + 16 * q, e, o);
      digits8<D>(_mm256_round_ps(_mm256_mul_ps(e, inv), mode), ev[q]);
      digits8<D>(_mm256_round_ps(_mm256_mul_ps(o, inv), mode), od[q]);
    }
    for (int i = 0; i < D; ++i) {
      int8_t* dst = out + i * kSpan + b;
      for (int q = 0; q < Q; q += 4) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 8 * q),
                            pack32(ev[q][i], ev[q + 1][i], ev[q + 2][i], ev[q + 3][i]));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + B / 2 + 8 * q),
                            pack32(od[q][i], od[q + 1][i], od[q + 2][i], od[q + 3][i]));
      }
    }
  }
}

template <int D, int B>
bool split(const float* x, int64_t K, float* xr, int8_t* xd, float* unit) {
  constexpr int top = 7 * D - 1;  // |X| <= 2^top
  const __m256 sign = _mm256_set1_ps(-0.0f), lim = _mm256_set1_ps(0x1p120f);
  alignas(32) float buf[kSpan];
  for (int64_t c = 0, j0 = 0; j0 < K; ++c, j0 += kSpan) {
    const int64_t len = std::min(kSpan, K - j0);
    const float* src = x + j0;
    if (len < kSpan) {  // the last, partial span: zeros after the row's end
      std::fill(buf, buf + kSpan, 0.0f);
      std::copy(src, src + len, buf);
      src = buf;
    }
    __m256 amax = _mm256_setzero_ps(), bad = _mm256_setzero_ps();
    for (int64_t j = 0; j < kSpan; j += 8) {
      const __m256 a = _mm256_andnot_ps(sign, _mm256_loadu_ps(src + j));
      bad = _mm256_or_ps(bad, _mm256_cmp_ps(a, lim, _CMP_NLE_UQ));  // NaN, Inf or > 2^120
      amax = _mm256_max_ps(amax, a);
    }
    if (_mm256_movemask_ps(bad)) return false;
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, amax);
    const float m = *std::max_element(lanes, lanes + 8);
    int8_t* out = xd + c * D * kSpan;
    if (m == 0.0f) {  // all zero: digits 0 (any unit)
      std::memset(out, 0, static_cast<size_t>(D * kSpan));
      std::fill(xr + j0, xr + j0 + len, 0.0f);
      unit[c] = 0.0f;
      continue;
    }
    if (m < 0x1p-100f) return false;  // u would be subnormal
    int e = 0;
    std::frexp(m, &e);  // m < 2^e, so |x / u| < 2^top
    const float u = std::ldexp(1.0f, e - top);
    unit[c] = u;
    const __m256 inv = _mm256_set1_ps(std::ldexp(1.0f, top - e)), uv = _mm256_set1_ps(u);
    split_span<D, B>(src, out, inv);
    const int mode = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
    int64_t j = 0;
    for (; j + 8 <= len; j += 8)  // x̃ = u·X: X has <= 21 bits, so exact in f32
      _mm256_storeu_ps(
          xr + j0 + j,
          _mm256_mul_ps(_mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(src + j), inv), mode), uv));
    for (; j < len; ++j) xr[j0 + j] = std::nearbyint(src[j] * std::ldexp(1.0f, top - e)) * u;
  }
  return true;
}

inline float scale_of(const QuantRows& w, int64_t n, int64_t g) { return scale_at<V256>(w, n, g); }

/// out[i] = s·u of row n's slots [i0, i0 + 16) (slots: QuantGemvArgs::unit): F16C and two
/// multiplies where a slot is a group (groups <= 128) or the row has one scale. zsum (where
/// a slot is a group): += Σ s·Σx over these groups, from the scales just converted, for the
/// zero point's share of symmetric int4 (8 · zsum) without a second pass over the scales.
inline void slot_factors(const QuantGemvArgs& a, int64_t n, int64_t i0, float* out, __m256* zsum) {
  const QuantRows& w = *a.w;
  const int64_t G = w.groups();
  if (G == 1) {
    const __m256 s = _mm256_set1_ps(scale_of(w, n, 0));
    for (int i = 0; i < 16; i += 8)
      _mm256_store_ps(out + i, _mm256_mul_ps(s, _mm256_loadu_ps(a.unit + i0 + i)));
  } else if (w.group <= kSpan) {
    scales16<V256>(w, n, i0, G, out);  // 0 past the last group
    if (zsum) {
      alignas(32) float xs[16] = {};
      const float* x = a.xsum + i0;
      if (i0 + 16 > G) {  // the last, partial refill: xsum has G entries
        std::copy(a.xsum + i0, a.xsum + G, xs);
        x = xs;
      }
      for (int i = 0; i < 16; i += 8)
        *zsum = _mm256_fmadd_ps(_mm256_load_ps(out + i), _mm256_loadu_ps(x + i), *zsum);
    }
    for (int i = 0; i < 16; i += 8)
      _mm256_store_ps(out + i, _mm256_mul_ps(_mm256_load_ps(out + i), _mm256_loadu_ps(a.unit + i0 + i)));
  } else {  // groups of 256, 384, ...: a slot is a span
    for (int64_t i = 0; i < 16; ++i) {
      const int64_t g = (i0 + i) * kSpan / w.group;
      out[i] = g < G ? scale_of(w, n, g) * a.unit[i0 + i] : 0.0f;
    }
  }
}

/// The assembly loop's factors for row n's slots [s0, s0 + count) (whole slots of whole spans,
/// so s0 + count <= G where a slot is a group): s·u per slot into out, or for groups of 32
/// (GS = 32) per 64-element block the vector {4 x slot 2b, 4 x slot 2b + 1} the block's lanes
/// take (quant_digit_windows_avx2.h); zsum as slot_factors. f16 scales in rows (GPTQ, AWQ,
/// GGUF) and one scale per row take vector steps of 8 slots, other layouts slot_factors' 16.
template <int GS>
void factors_run(const QuantGemvArgs& a, int64_t n, int64_t s0, int64_t count, float* out, __m256* zsum) {
  const QuantRows& w = *a.w;
  const int64_t G = w.groups();
  const auto put = [&](int64_t i, __m256 f) {  // slots [i, i + 8) of the run
    if constexpr (GS == 32) {
      for (int b = 0; b < 4; ++b)  // block b of the 8 slots: lanes 0-3 slot 2b, 4-7 slot 2b + 1
        _mm256_store_ps(out + 4 * i + 8 * b,
                        _mm256_permutevar8x32_ps(f, _mm256_setr_epi32(2 * b, 2 * b, 2 * b, 2 * b, 2 * b + 1,
                                                                      2 * b + 1, 2 * b + 1, 2 * b + 1)));
    } else {
      _mm256_store_ps(out + i, f);
    }
  };
  int64_t i = 0;
  if (G == 1) {
    const __m256 sv = _mm256_set1_ps(scale_of(w, n, 0));
    for (; i < count; i += 8) put(i, _mm256_mul_ps(sv, _mm256_loadu_ps(a.unit + s0 + i)));  // unit: 16-padded
    return;
  }
  if (w.scale_dtype == DType::f16 && w.scale_cs == 1 && w.group == (GS ? GS : kSpan)) {
    const uint16_t* sp = reinterpret_cast<const uint16_t*>(w.scales) + n * w.scale_rs + s0;
    __m256 z = _mm256_setzero_ps();  // in a register: through *zsum each step waited on a store
    for (; i + 8 <= count; i += 8) {
      const __m256 sv = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sp + i)));
      if (zsum) z = _mm256_fmadd_ps(sv, _mm256_loadu_ps(a.xsum + s0 + i), z);
      put(i, _mm256_mul_ps(sv, _mm256_loadu_ps(a.unit + s0 + i)));
    }
    if (i < count) {  // fewer than 8 slots left (scalar: the scales end at G)
      alignas(32) float t[8] = {};
      float zr = 0.0f;
      for (int64_t h = 0; h < count - i; ++h) {
        const float sc = scale_of(w, n, s0 + i + h);
        t[h] = sc * a.unit[s0 + i + h];
        if (zsum) zr += sc * a.xsum[s0 + i + h];
      }
      put(i, _mm256_load_ps(t));
      z = _mm256_add_ps(z, _mm256_setr_ps(zr, 0, 0, 0, 0, 0, 0, 0));
    }
    if (zsum) *zsum = _mm256_add_ps(*zsum, z);
    return;
  }
  // Every other layout: slot_factors 16 slots a step from a multiple of 16 (runs start at
  // multiples of 64), where its reads of the 16-padded units stay inside.
  alignas(32) float tmp[16];
  float zrest = 0.0f;  // folded here slot by slot: slot_factors would fold past the run's end
  for (; i < count; i += 16) {
    slot_factors(a, n, s0 + i, tmp, nullptr);
    for (int h = 0; h < 16 && i + h < count; h += 8) put(i + h, _mm256_load_ps(tmp + h));
    if (zsum)
      for (int64_t h = i; h < std::min(count, i + 16); ++h) zrest += scale_of(w, n, s0 + h) * a.xsum[s0 + h];
  }
  if (zsum) *zsum = _mm256_add_ps(*zsum, _mm256_setr_ps(zrest, 0, 0, 0, 0, 0, 0, 0));
}

/// Rows [n, n + R) of the GEMV. GS: 32 or 64 (windows of 64 elements: one group, or two
/// groups in the 128-bit halves of the lanes), 0 (groups of multiples of 128 or one per row:
/// windows of 128). Per window and row the scale is a broadcast from a buffer of s·u refilled
/// 16 slots at a time: no scalar work beside the integer loop.
template <int R, int D, int GS>
void block(const QuantGemvArgs& a, int64_t n, int64_t n_base) {
  const QuantRows& w = *a.w;
  const int64_t K = w.k, G = w.groups(), group = w.group, full = K / kBlock * kBlock;
  constexpr int64_t W = GS ? kBlock : kSpan, P = GS ? GS : kSpan;  // window, slot
  const uint8_t* rows[R];
  for (int r = 0; r < R; ++r) rows[r] = w.codes + (n + r) * w.code_rs;
  w.prefetch_scales(n + R, R);  // the next rows' scales
  const __m256i low4 = _mm256_set1_epi8(15);
  __m256 tot[R];
  for (int r = 0; r < R; ++r) tot[r] = _mm256_setzero_ps();
  alignas(32) float sbuf[R][16];
  // Symmetric int4 with a slot per group: the zero correction rides on the slot refills.
  const bool fold = w.format == QuantFormat::int4 && G > 1 && group == P;
  __m256 zsum[R];
  for (int r = 0; r < R; ++r) zsum[r] = _mm256_setzero_ps();
  int64_t zdone = 0;    // groups [0, zdone) are in zsum
  int64_t j_first = 0;  // the first element the intrinsics loop below runs
  if constexpr (R == 2) {
    // Whole spans in assembly (quant_digit_windows_avx2.h), the factors of up to 64 slots
    // computed ahead of each run by factors_run. slot_factors' 16-slot refills between runs,
    // with the zero fold through memory, took g64 15.2 -> 16.8 and g32 16.8 -> 19.4 cycles
    // per row and 128 weights (g128 level; L2-resident, Zen 4).
    constexpr int64_t kRunSlots = 64;
    const int64_t spans_end = full / kSpan * kSpan;
    alignas(32) float sums[2][8] = {};
    alignas(32) float fac[2][kRunSlots * (GS == 32 ? 4 : 1)];
    for (int64_t c0 = 0; c0 < spans_end; c0 += kRunSlots * P) {
      const int64_t c1 = std::min(spans_end, c0 + kRunSlots * P), slot = c0 / P, count = (c1 - c0) / P;
      for (int r = 0; r < R; ++r) factors_run<GS>(a, n + r, slot, count, fac[r], fold ? &zsum[r] : nullptr);
      digit_windows<D, GS>({rows[0] + c0 / 2, rows[1] + c0 / 2, a.xd + c0 * D, fac[0], fac[1],
                            (c1 - c0) / kSpan, R * w.code_rs, sums[0], sums[1]});
    }
    for (int r = 0; r < R; ++r) tot[r] = _mm256_load_ps(sums[r]);
    j_first = spans_end;
    if (fold) zdone = spans_end / P;
  }
  int64_t base = 0;  // sbuf holds slots [base, base + 16)
  for (int64_t j0 = j_first; j0 < full; j0 += W) {
    const int64_t c = j0 / kSpan, len = std::min(W, full - j0), slot = j0 / P;
    if (j0 == j_first || slot - base >= 16) {
      // Refills start on 16-slot boundaries (the units are padded to whole refills); one that
      // starts before zdone (a last window after the assembly runs) folds nothing, and the
      // groups from zdone on fold in the tail loop below.
      base = slot / 16 * 16;
      const bool fold_here = fold && base == zdone;
      for (int r = 0; r < R; ++r) slot_factors(a, n + r, base, sbuf[r], fold_here ? &zsum[r] : nullptr);
      if (fold_here) zdone = std::min(G, base + 16);
    }
    const int8_t* xd = a.xd + c * D * kSpan + (j0 - c * kSpan);
    // The next R rows' codes of this window into L2 (prefetcht1), as the bf16 kernel: the
    // hardware streamer alone does not keep a core fed on interleaved row streams.
    for (int r = 0; r < R; ++r) {
      const uint8_t* p = rows[r] + R * w.code_rs + j0 / 2;
      __builtin_prefetch(p, 0, 2);
      __builtin_prefetch(p + W / 2 - 1, 0, 2);
    }
    // One block of codes per row into the 16-bit sums; the window's first block starts them
    // (no add to zero), and a window is at most two blocks, so the loop unrolls. The R rows'
    // nibbles are unpacked first and each digit vector is loaded once for all of them: with
    // the digits as memory operands per row (7 loads per row and block instead of 3) the
    // kernel took 18 % more time L2-resident and reached 10-15 % less bandwidth from DRAM
    // (Zen 4, f32 activations).
    __m256i acc[R][D];
    const auto step = [&](int64_t b, auto first) {
      __m256i lo[R], hi[R];
      for (int r = 0; r < R; ++r) {
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows[r] + (j0 + b) / 2));
        lo[r] = _mm256_and_si256(v, low4), hi[r] = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
      }
      for (int i = 0; i < D; ++i) {
        const int8_t* d = xd + i * kSpan + b;
        const __m256i de = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(d));
        const __m256i dodd = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(d + 32));
        for (int r = 0; r < R; ++r) {
          const __m256i p =
              _mm256_add_epi16(_mm256_maddubs_epi16(lo[r], de), _mm256_maddubs_epi16(hi[r], dodd));
          if constexpr (decltype(first)::value) {
            acc[r][i] = p;
          } else {
            acc[r][i] = _mm256_add_epi16(acc[r][i], p);
          }
        }
      }
    };
    step(0, std::true_type{});
    if (len > kBlock) step(kBlock, std::false_type{});
    for (int r = 0; r < R; ++r) {
      __m256i s32 = _mm256_madd_epi16(acc[r][0], _mm256_set1_epi16(1));
      if constexpr (D > 1) s32 = _mm256_add_epi32(s32, _mm256_madd_epi16(acc[r][1], _mm256_set1_epi16(128)));
      if constexpr (D > 2)
        s32 = _mm256_add_epi32(s32, _mm256_madd_epi16(acc[r][2], _mm256_set1_epi16(16384)));
      const float* f = sbuf[r] + (slot - base);
      const __m256 sv = GS == 32 ? _mm256_set_m128(_mm_broadcast_ss(f + 1), _mm_broadcast_ss(f))
                                 : _mm256_broadcast_ss(f);  // GS 32: lanes 0-3 elements 0-31, 4-7 32-63
      tot[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s32), sv, tot[r]);
    }
  }
  for (int r = 0; r < R; ++r) {
    // Elements past the last whole block, per group (a tail of < 64 can span two groups of 32).
    float rest = 0.0f;
    for (int64_t j = full; j < K;) {
      const int64_t g = j / group, j1 = std::min(K, (g + 1) * group);
      rest += scale_of(w, n + r, g) * quant_dot_scalar(w, rows[r], j, j1, a.x);
      j = j1;
    }
    float zc = 0.0f;
    if (fold) {
      zc = V256::hsum(zsum[r]);
      for (int64_t g = zdone; g < G; ++g) zc += scale_of(w, n + r, g) * a.xsum[g];  // tail groups
      zc *= 8.0f;
    } else {
      zero_correction<V256, 1>(w, n + r, a.xsum, G, &zc);
    }
    a.y[n + r - n_base] = V256::hsum(tot[r]) + rest - zc;
  }
}

// Two rows a block: their whole spans run in assembly with every value in the 16 registers
// (2·2 nibble vectors, 2·D 16-bit accumulators, the digit vector, two products, two sums and
// the mask; quant_digit_windows_avx2.h has the measurements); a last odd row, a last
// 64-element window and the scalar tail take the intrinsics loop of block().
template <int D, int GS>
void rows(const QuantGemvArgs& a, int64_t n0, int64_t n1) {
  constexpr int R = 2;
  int64_t n = n0;
  for (; n + R <= n1; n += R) block<R, D, GS>(a, n, n0);
  for (; n < n1; ++n) block<1, D, GS>(a, n, n0);
}

template <int D>
void gemv_d(const QuantGemvArgs& a, int64_t n0, int64_t n1) {
  const QuantRows& w = *a.w;
  if (w.groups() > 1 && w.group == 32) return rows<D, 32>(a, n0, n1);
  if (w.groups() > 1 && w.group == 64) return rows<D, 64>(a, n0, n1);
  rows<D, 0>(a, n0, n1);
}

}  // namespace

bool quant_split_digits_avx2(const float* x, int64_t K, int digits, int block, float* xr, int8_t* xd,
                             float* unit) {
  if (block == 128)
    return digits == 3 ? split<3, 128>(x, K, xr, xd, unit) : split<2, 128>(x, K, xr, xd, unit);
  return digits == 3 ? split<3, kBlock>(x, K, xr, xd, unit) : split<2, kBlock>(x, K, xr, xd, unit);
}

void quant_gemv_digits_avx2(const QuantGemvArgs& a, int64_t n0, int64_t n1) {
  if (a.digits == 3) return gemv_d<3>(a, n0, n1);
  gemv_d<2>(a, n0, n1);
}

}  // namespace porta::cpu
#endif
