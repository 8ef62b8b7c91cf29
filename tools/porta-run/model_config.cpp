#include "model_config.h"

#include <cmath>

#include "load_error.h"

namespace porta_run {

const char* arch_name(Arch a) {
  switch (a) {
    case Arch::llama: return "llama";
    case Arch::qwen2: return "qwen2";
    case Arch::qwen3: return "qwen3";
  }
  return "?";
}

std::string ModelConfig::str() const {
  std::string s = std::string(arch_name(arch)) + ": " + std::to_string(layers) + " layers, hidden " +
                  std::to_string(hidden) + ", " + std::to_string(heads) + "/" + std::to_string(kv_heads) +
                  " heads x " + std::to_string(head_dim) + ", ffn " + std::to_string(ffn) + ", vocab " +
                  std::to_string(vocab) + ", rope theta " + std::to_string(static_cast<int64_t>(rope_theta)) +
                  (rope_style == porta::ops::RopeStyle::gptj ? " (adjacent pairs)" : " (rotate-half)");
  if (!rope_freq_factors.empty()) s += " scaled (" + (rope_scaling.empty() ? std::string("freq factors") : rope_scaling) + ")";
  if (qkv_bias) s += ", qkv bias";
  if (qk_norm) s += ", q/k norm";
  if (tied_embeddings) s += ", tied embeddings";
  return s;
}

void ModelConfig::check(const std::string& source) const {
  auto bad = [&](const std::string& what) { throw LoadError(source + ": " + what); };
  if (vocab <= 0 || hidden <= 0 || layers <= 0 || heads <= 0 || kv_heads <= 0 || ffn <= 0)
    bad("vocab, hidden size, layers, heads, kv heads and ffn size must all be positive (" + str() + ")");
  if (vocab > (int64_t{1} << 31) || hidden > (1 << 20) || layers > 4096 || heads > 4096 || ffn > (1 << 22))
    bad("implausibly large model dimensions (" + str() + ")");
  if (heads % kv_heads != 0)
    bad(std::to_string(heads) + " query heads are not a multiple of " + std::to_string(kv_heads) + " kv heads");
  if (head_dim != 64 && head_dim != 80 && head_dim != 96 && head_dim != 128 && head_dim != 256)
    bad("head dim " + std::to_string(head_dim) + " is not one porta's attention supports (64, 80, 96, 128, 256)");
  if (!(rope_theta > 0) || !std::isfinite(rope_theta)) bad("rope theta must be positive");
  if (!(norm_eps >= 0) || !std::isfinite(norm_eps)) bad("norm epsilon must be >= 0");
  if (!rope_freq_factors.empty() && static_cast<int64_t>(rope_freq_factors.size()) != head_dim / 2)
    bad("rope frequency factors have " + std::to_string(rope_freq_factors.size()) + " entries, expected head_dim/2 = " +
        std::to_string(head_dim / 2));
  for (float f : rope_freq_factors)
    if (!(f > 0) || !std::isfinite(f)) bad("rope frequency factors must be positive and finite");
}

std::vector<float> llama3_freq_factors(int64_t rot, double theta, double factor, double low_freq_factor,
                                       double high_freq_factor, double original_context) {
  // Frequencies whose wavelength is short next to the original context are kept, long ones
  // are divided by `factor`, and those between are interpolated (Meta's reference code).
  const double low_wavelen = original_context / low_freq_factor;
  const double high_wavelen = original_context / high_freq_factor;
  std::vector<float> out(static_cast<size_t>(rot / 2));
  for (int64_t i = 0; i < rot / 2; ++i) {
    const double freq = std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(rot));
    const double wavelen = 2 * M_PI / freq;
    double f = 1.0;
    if (wavelen > low_wavelen) {
      f = factor;
    } else if (wavelen >= high_wavelen) {
      const double smooth = (original_context / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor);
      f = 1.0 / ((1 - smooth) / factor + smooth);
    }
    out[static_cast<size_t>(i)] = static_cast<float>(f);
  }
  return out;
}

}  // namespace porta_run
