// CPU feature checks shared by the kernel dispatchers. F16C is read from CPUID directly:
// clang (the fuzz preset's compiler) does not accept "f16c" in __builtin_cpu_supports.
#pragma once

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

namespace porta::cpu {

inline bool cpu_has_f16c() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C) != 0;
}

/// AVX512-BF16 (CPUID.(7,1):EAX[5]); only asked once AVX-512 kernels were chosen.
inline bool cpu_has_avx512bf16() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  return __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 5)) != 0;
}

/// AVX512-VNNI (CPUID.(7,0):ECX[11]); only asked once AVX-512 kernels were chosen.
inline bool cpu_has_avx512vnni() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (c & (1u << 11)) != 0;
}

/// GenuineIntel (the quantized GEMV's kernel preference differs by vendor: quant_kernels()).
inline bool cpu_is_intel() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  return __get_cpuid(0, &a, &b, &c, &d) && b == 0x756e6547u && d == 0x49656e69u && c == 0x6c65746eu;
}

}  // namespace porta::cpu
#endif
