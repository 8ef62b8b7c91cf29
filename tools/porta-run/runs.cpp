#include "runs.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "load_error.h"
#include "porta/quant.h"

namespace porta_run {

using porta::DType;
using porta::Tensor;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

}  // namespace

std::vector<int32_t> parse_ids(const std::string& text, const std::string& what) {
  std::vector<int32_t> ids;
  std::string cur;
  auto flush = [&] {
    if (cur.empty()) return;
    char* end = nullptr;
    const long long v = std::strtoll(cur.c_str(), &end, 10);
    if (*end != '\0' || v < 0 || v > 0x7fffffff) throw LoadError(what + ": '" + cur + "' is not a token id");
    ids.push_back(static_cast<int32_t>(v));
    cur.clear();
  };
  for (char ch : text) {
    if (ch == ' ' || ch == ',' || ch == '\n' || ch == '\t' || ch == '\r') flush();
    else cur += ch;
  }
  flush();
  return ids;
}

void run_generate(Model& m, const Vocab& vocab, porta::Stream& s, const GenerateOptions& o, Report& r) {
  const ModelConfig& c = m.config();
  if (o.prompt.empty()) throw LoadError("the prompt has no token ids");
  if (static_cast<int64_t>(o.prompt.size()) + o.max_tokens > m.ctx())
    throw LoadError("prompt (" + std::to_string(o.prompt.size()) + ") + --max-tokens (" + std::to_string(o.max_tokens) +
                    ") exceed --ctx " + std::to_string(m.ctx()));
  Sampler sampler(o.sampler);
  uint64_t peak = s.device().allocated_bytes();
  auto t0 = Clock::now();
  std::vector<float> logits = m.logits(s, o.prompt, 0, false);
  const double prefill_s = seconds_since(t0);
  peak = std::max(peak, s.device().allocated_bytes());
  std::vector<int32_t> out;
  std::string text;
  int64_t pos = static_cast<int64_t>(o.prompt.size());
  double decode_s = 0;
  int64_t decoded = 0;
  for (int64_t i = 0; i < o.max_tokens; ++i) {
    const int32_t id = sampler.next(logits.data(), c.vocab);
    out.push_back(id);
    const std::string piece = vocab.decode(id);
    text += piece;
    if (o.stream_text) {
      std::fputs(piece.c_str(), stdout);
      std::fflush(stdout);
    }
    if (std::find(c.eos_ids.begin(), c.eos_ids.end(), id) != c.eos_ids.end() || i + 1 == o.max_tokens) break;
    t0 = Clock::now();
    logits = m.logits(s, {id}, pos++, false);
    decode_s += seconds_since(t0);
    ++decoded;
    peak = std::max(peak, s.device().allocated_bytes());
  }
  if (o.stream_text) std::fputs("\n", stdout);
  std::string ids;
  for (int32_t id : out) ids += (ids.empty() ? "" : " ") + std::to_string(id);
  r.str("output_ids", ids);
  r.str("output_text", text);
  r.num("prompt_tokens", static_cast<double>(o.prompt.size()));
  r.num("generated_tokens", static_cast<double>(out.size()));
  r.num("prefill_tok_s", static_cast<double>(o.prompt.size()) / prefill_s);
  if (decoded > 0) r.num("decode_tok_s", static_cast<double>(decoded) / decode_s);
  r.num("peak_device_mib", static_cast<double>(peak) / (1 << 20));
}

void run_perplexity(Model& m, porta::Stream& s, const std::vector<int32_t>& ids, Report& r) {
  if (ids.size() < 2) throw LoadError("--perplexity needs at least 2 token ids");
  const int64_t V = m.config().vocab, window = std::min<int64_t>(m.ctx(), 512);
  double nll = 0;
  int64_t count = 0;
  const auto t0 = Clock::now();
  for (size_t start = 0; start + 1 < ids.size(); start += static_cast<size_t>(window)) {
    const size_t end = std::min(ids.size(), start + static_cast<size_t>(window));
    std::vector<int32_t> chunk(ids.begin() + static_cast<std::ptrdiff_t>(start), ids.begin() + static_cast<std::ptrdiff_t>(end));
    const std::vector<float> lg = m.logits(s, chunk, 0, true);  // each window starts a fresh cache
    for (size_t i = 0; i + 1 < chunk.size(); ++i) {
      const float* row = lg.data() + i * static_cast<size_t>(V);
      const double mx = *std::max_element(row, row + V);
      double sum = 0;
      for (int64_t j = 0; j < V; ++j) sum += std::exp(static_cast<double>(row[j]) - mx);
      nll += mx + std::log(sum) - static_cast<double>(row[chunk[i + 1]]);
      ++count;
    }
  }
  r.num("perplexity", std::exp(nll / static_cast<double>(count)));
  r.num("perplexity_tokens", static_cast<double>(count));
  r.num("perplexity_tok_s", static_cast<double>(count) / seconds_since(t0));
}

namespace {

// porta::ops::copy of a large f32 tensor, read + write bytes per second (best of 5).
double copy_gbps(porta::Stream& s) {
  const uint64_t cap = s.device().info().max_allocation_bytes;
  const int64_t n = static_cast<int64_t>(std::min<uint64_t>(uint64_t{256} << 20, cap ? cap : uint64_t{256} << 20) / 4);
  Tensor src = Tensor::empty(s.device(), DType::f32, {n}), dst = Tensor::empty(s.device(), DType::f32, {n});
  porta::ops::fill(s, src, 1.0);
  porta::ops::copy(s, src, dst);
  s.synchronize();
  double best = 0;
  for (int i = 0; i < 5; ++i) {
    const auto t0 = Clock::now();
    porta::ops::copy(s, src, dst);
    s.synchronize();
    best = std::max(best, 2.0 * static_cast<double>(src.nbytes()) / seconds_since(t0) / 1e9);
  }
  return best;
}

// porta's GEMM at the prefill shape on the model's own down projection ([H, F], the same
// weight format): FLOP/s (best of 3).
double gemm_gflops(porta::Stream& s, const Model& m, int64_t M, DType act) {
  const Weight& w = m.sample_weight();
  const int64_t N = w.rows(), K = w.quant.defined() ? w.quant.k() : w.dense.dim(1);
  Tensor a = Tensor::empty(s.device(), act, {M, K});
  Tensor y = Tensor::empty(s.device(), act, {M, N});
  porta::ops::fill(s, a, 0.01);
  auto run = [&] {
    if (w.quant.defined()) {
      porta::ops::gemm(s, a, w.quant, y);
    } else {
      porta::ops::GemmOptions g;
      g.trans_b = true;
      porta::ops::gemm(s, a, w.dense, y, g);
    }
  };
  run();
  s.synchronize();
  double best = 0;
  for (int i = 0; i < 3; ++i) {
    const auto t0 = Clock::now();
    run();
    s.synchronize();
    best = std::max(best, 2.0 * static_cast<double>(M * N * K) / seconds_since(t0) / 1e9);
  }
  return best;
}

}  // namespace

void run_bench(Model& m, porta::Stream& s, const BenchOptions& o, Report& r) {
  const ModelConfig& c = m.config();
  const int64_t L = m.layers_built();
  const double full_layers = static_cast<double>(L) * o.layer_scale;
  if (o.prompt + o.decode + 1 > m.ctx()) throw LoadError("--bench-prompt + --bench-decode exceed --ctx");
  std::vector<int32_t> prompt(static_cast<size_t>(o.prompt));
  for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = static_cast<int32_t>((i * 7919 + 13) % static_cast<size_t>(c.vocab));

  // Time with all built layers and with none (embedding, final norm, LM head): the layers'
  // share scales to the model's full depth when only a subset is built. The two are timed
  // alternately and the layers' time is the median of the paired differences, so a change
  // in the host's load between them (a shared machine) does not enter the difference.
  auto timed = [&](int64_t layers, const std::vector<int32_t>& ids, int64_t pos) {
    m.set_active_layers(layers);
    const auto t0 = Clock::now();
    m.forward(s, ids, pos, false);
    return seconds_since(t0);
  };
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const bool scaled = L > 0 && full_layers != static_cast<double>(L);
  timed(-1, prompt, 0);  // warm-up: kernels compiled, pages touched
  timed(0, prompt, 0);
  std::vector<double> pf_all, pf_diff;
  for (int i = 0; i < (scaled ? 3 : 2); ++i) {
    const double a = timed(-1, prompt, 0);
    pf_all.push_back(a);
    if (scaled) pf_diff.push_back(a - timed(0, prompt, 0));
  }
  timed(-1, prompt, 0);  // fills the cache the decode steps attend to
  timed(-1, {1}, o.prompt);
  std::vector<double> dc_all, dc_diff;
  for (int64_t i = 0; i < o.decode; ++i) {
    const std::vector<int32_t> id = {static_cast<int32_t>((i * 31) % c.vocab)};
    const double a = timed(-1, id, o.prompt + i);
    dc_all.push_back(a);
    if (scaled) dc_diff.push_back(a - timed(0, id, o.prompt + i));  // no layer: no cache written
  }
  m.set_active_layers(-1);
  // Full depth: the built model's time plus the missing layers at the per-layer time.
  const double extra = full_layers - static_cast<double>(L);
  const double pf_layers = scaled ? median(pf_diff) : 0, dc_layers = scaled ? median(dc_diff) : 0;
  const double pf = median(pf_all) + (scaled ? pf_layers / static_cast<double>(L) * extra : 0);
  const double dc = median(dc_all) + (scaled ? dc_layers / static_cast<double>(L) * extra : 0);

  const double bytes_tok = static_cast<double>(m.head_bytes()) + static_cast<double>(m.layer_bytes()) * full_layers;
  const double gbps = copy_gbps(s);
  const double decode_bound = gbps * 1e9 / bytes_tok;
  const double macs_tok = static_cast<double>(m.layer_macs()) * full_layers;  // prefill: the head runs for 1 token
  const double gflops = gemm_gflops(s, m, o.prompt, m.act_dtype());
  const double prefill_bound = gflops * 1e9 / (2 * macs_tok);

  r.num("layers_built", static_cast<double>(L));
  r.num("layers_model", full_layers);
  r.num("prefill_tokens", static_cast<double>(o.prompt));
  r.num("prefill_tok_s", static_cast<double>(o.prompt) / pf);
  r.num("prefill_gemm_gflops", gflops);
  r.num("prefill_bound_tok_s", prefill_bound);
  r.num("prefill_vs_gemm_bound", static_cast<double>(o.prompt) / pf / prefill_bound);
  r.num("decode_tok_s", 1.0 / dc);
  r.num("decode_ms_per_token", dc * 1e3);
  r.num("bytes_per_token_mib", bytes_tok / (1 << 20));
  r.num("copy_gbps", gbps);
  r.num("decode_bound_tok_s", decode_bound);
  r.num("decode_vs_bound", 1.0 / dc / decode_bound);
  r.num("peak_device_mib", static_cast<double>(s.device().allocated_bytes()) / (1 << 20));
  if (scaled)
    r.str("note", "timed " + std::to_string(L) + " of " + std::to_string(static_cast<int64_t>(full_layers)) +
                      " layers plus embedding and LM head; per-layer time (alternating runs with and without "
                      "the layers) scaled to the full depth");
  // Faster than the copy bound, or layers that took no time, cannot be right: the host's
  // load changed under the measurement. Said in the output rather than hidden.
  if ((scaled && (pf_layers <= 0 || dc_layers <= 0)) || 1.0 / dc > 1.1 * decode_bound)
    r.str("warning", "the timings are inconsistent (decode " + std::to_string(1.0 / dc / decode_bound).substr(0, 5) +
                         "x the bandwidth bound, layer time " + std::to_string(dc_layers * 1e3).substr(0, 7) +
                         " ms per step): the host's load changed during the run; rerun on an idle machine");
}

}  // namespace porta_run
