// libFuzzer target: porta-run's GGUF reader on arbitrary bytes. Any input must either parse
// or raise porta_run::LoadError; a parsed file's tensors are then dequantized (first rows),
// which must stay inside the image (ASan/UBSan watch).
#include <cstdint>
#include <vector>

#include "gguf.h"
#include "load_error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    porta_run::GgufFile f(data, size, "fuzz.gguf");
    std::vector<float> row;
    for (const auto& kv : f.tensors()) {
      const porta_run::TensorData& t = kv.second;
      const int64_t cols = t.shape.empty() ? 1 : t.shape.back();
      if (cols <= 0 || cols > (1 << 16) || t.numel() == 0) continue;
      row.resize(static_cast<size_t>(cols));
      porta_run::to_float(t, 0, 1, row.data());
    }
    f.get_string("general.architecture", "");
    f.get_int("llama.block_count", 0);
  } catch (const porta_run::LoadError&) {
  }
  return 0;
}
