// What porta-run does with a loaded model: generate, measure perplexity, benchmark. Each
// fills a Report that main prints as text or JSON.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "model.h"
#include "sampler.h"

namespace porta_run {

/// Named figures of one run, printed in insertion order ("prefill_tok_s": 812.4, ...).
struct Report {
  std::vector<std::pair<std::string, std::string>> text;  // key -> value as printed
  std::vector<std::pair<std::string, double>> numbers;
  void num(const std::string& k, double v) { numbers.emplace_back(k, v); }
  void str(const std::string& k, const std::string& v) { text.emplace_back(k, v); }
};

struct GenerateOptions {
  std::vector<int32_t> prompt;
  int64_t max_tokens = 32;
  SamplerOptions sampler;
  bool stream_text = true;  // print tokens as they come (text mode)
};

/// Prefill the prompt, then decode until an EOS id or max_tokens. Generated ids (and text)
/// go to the report; timings too.
void run_generate(Model& m, const Vocab& vocab, porta::Stream& s, const GenerateOptions& o, Report& r);

/// Teacher-forced perplexity over `ids` in windows of the model's context.
void run_perplexity(Model& m, porta::Stream& s, const std::vector<int32_t>& ids, Report& r);

struct BenchOptions {
  int64_t prompt = 512;   // prefill tokens
  int64_t decode = 32;    // decode steps timed
  double layer_scale = 1;  // the model's layers / the layers built (timings are scaled by it)
};

/// Prefill and decode tokens/s, bytes per token, the bandwidth bound from porta::ops::copy
/// measured in the same run and the prefill bound from porta's GEMM at the prefill shape.
void run_bench(Model& m, porta::Stream& s, const BenchOptions& o, Report& r);

/// Token ids from text: integers separated by spaces, commas or newlines. Throws LoadError.
std::vector<int32_t> parse_ids(const std::string& text, const std::string& what);

}  // namespace porta_run
