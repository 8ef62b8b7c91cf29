#include "dequant.h"

#include <cstring>

#include "porta/dtype.h"

namespace porta_run {
namespace {

float half_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return porta::f16_to_float(h);
}

// Q4_K packs eight 6-bit (scale, min) pairs into 12 bytes: pairs 0-3 in the low 6 bits of
// bytes 0-3 (scales) and 4-7 (mins); pairs 4-7 take 4 bits from bytes 8-11 and their top
// 2 bits from the spare high bits of bytes 0-7.
void q4k_scale_min(int j, const uint8_t* q, int* sc, int* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

}  // namespace

void dequant_q8_0(const uint8_t* src, int64_t n, float* out) {
  for (int64_t b = 0; b < n / 32; ++b, src += 34, out += 32) {
    const float d = half_at(src);
    for (int i = 0; i < 32; ++i) out[i] = d * static_cast<float>(static_cast<int8_t>(src[2 + i]));
  }
}

void dequant_q4_0(const uint8_t* src, int64_t n, float* out) {
  for (int64_t b = 0; b < n / 32; ++b, src += 18, out += 32) {
    const float d = half_at(src);
    for (int i = 0; i < 16; ++i) {
      out[i] = d * static_cast<float>((src[2 + i] & 0xF) - 8);
      out[i + 16] = d * static_cast<float>((src[2 + i] >> 4) - 8);
    }
  }
}

void dequant_q4_k(const uint8_t* src, int64_t n, float* out) {
  // {f16 d; f16 dmin; u8 scales[12]; u8 qs[128]}: 8 sub-blocks of 32, value = d*sc*q - dmin*m
  for (int64_t b = 0; b < n / 256; ++b, src += 144) {
    const float d = half_at(src), dmin = half_at(src + 2);
    const uint8_t* scales = src + 4;
    const uint8_t* q = src + 16;
    for (int j = 0; j < 8; j += 2, q += 32, out += 64) {
      int sc0, m0, sc1, m1;
      q4k_scale_min(j, scales, &sc0, &m0);
      q4k_scale_min(j + 1, scales, &sc1, &m1);
      for (int l = 0; l < 32; ++l) {
        out[l] = d * static_cast<float>(sc0) * static_cast<float>(q[l] & 0xF) - dmin * static_cast<float>(m0);
        out[l + 32] = d * static_cast<float>(sc1) * static_cast<float>(q[l] >> 4) - dmin * static_cast<float>(m1);
      }
    }
  }
}

void dequant_q6_k(const uint8_t* src, int64_t n, float* out) {
  // {u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d}: 6-bit q = low 4 bits from ql, high 2
  // from qh, minus 32; 16 sub-blocks of 16 with their own scale.
  for (int64_t b = 0; b < n / 256; ++b, src += 210) {
    const uint8_t* ql = src;
    const uint8_t* qh = src + 128;
    const int8_t* sc = reinterpret_cast<const int8_t*>(src + 192);
    const float d = half_at(src + 208);
    for (int half = 0; half < 2; ++half, ql += 64, qh += 32, sc += 8, out += 128) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        out[l] = d * static_cast<float>(sc[is]) * static_cast<float>(q1);
        out[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
        out[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
        out[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
      }
    }
  }
}

}  // namespace porta_run
