// GGML block formats to f32, written from the format's definition (ggml-common.h block
// layouts). n is a multiple of the block size; src holds n / block elements' blocks.
#pragma once

#include <cstdint>

namespace porta_run {

void dequant_q8_0(const uint8_t* src, int64_t n, float* out);  // {f16 d; i8 q[32]}: d*q
void dequant_q4_0(const uint8_t* src, int64_t n, float* out);  // {f16 d; u8 q[16]}: d*(nibble-8)
void dequant_q4_k(const uint8_t* src, int64_t n, float* out);  // 256-element super-blocks, 6-bit scales/mins
void dequant_q6_k(const uint8_t* src, int64_t n, float* out);  // 256-element super-blocks, 8-bit scales

}  // namespace porta_run
