// libFuzzer target: porta-run's safetensors header parser on arbitrary bytes. Any input must
// either parse or raise porta_run::LoadError; parsed tensors are read (first rows) to prove
// their offsets stay inside the image.
#include <cstdint>
#include <cstring>
#include <map>
#include <vector>

#include "load_error.h"
#include "safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::map<std::string, porta_run::TensorData> out;
  try {
    porta_run::parse_safetensors(data, size, "fuzz.safetensors", out);
  } catch (const porta_run::LoadError&) {
    return 0;
  }
  std::vector<float> row;
  for (const auto& kv : out) {
    const porta_run::TensorData& t = kv.second;
    const int64_t cols = t.shape.empty() ? 1 : t.shape.back();
    if (cols <= 0 || cols > (1 << 16) || t.numel() == 0) continue;
    row.resize(static_cast<size_t>(cols));
    if (t.type == porta_run::SrcType::i32) {  // GPTQ / AWQ packed words: read as stored
      std::memcpy(row.data(), t.data, static_cast<size_t>(cols) * 4);
      continue;
    }
    porta_run::to_float(t, 0, 1, row.data());
  }
  return 0;
}
