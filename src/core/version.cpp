#include "porta/version.h"

#include "core/backend.h"

#define PORTA_STR2(x) #x
#define PORTA_STR(x) PORTA_STR2(x)

namespace porta {
const char* version() noexcept {
  return PORTA_STR(PORTA_VERSION_MAJOR) "." PORTA_STR(PORTA_VERSION_MINOR) "." PORTA_STR(PORTA_VERSION_PATCH);
}
}  // namespace porta

namespace porta::backend {
const char* op_name(Op op) noexcept {
  static const char* const names[] = {"gemm",     "attention", "rms_norm",  "layer_norm", "rope",  "softmax",
                                      "silu_mul", "gelu",      "add",       "mul",        "scale", "cast",
                                      "copy",     "fill",      "embedding", "argmax",
                                      // interface 2
                                      "quantize", "dequantize", "gemm_quant", "embedding_quant",
                                      "kv_cache_write", "copy_blocks", "paged_attention"};
  static_assert(sizeof(names) / sizeof(names[0]) == static_cast<size_t>(Op::count), "one name per Op");
  const auto i = static_cast<size_t>(op);
  return i < sizeof(names) / sizeof(names[0]) ? names[i] : "?";
}
}  // namespace porta::backend
