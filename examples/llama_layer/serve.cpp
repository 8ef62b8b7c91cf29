#include "serve.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <random>

namespace llama {

using porta::DType;
using porta::Tensor;

namespace {

std::vector<float> rows_f32(porta::Stream& s, const Tensor& t) {
  Tensor f = t;
  if (t.dtype() != DType::f32) {
    f = Tensor::empty(t.device(), DType::f32, t.shape());
    porta::ops::cast(s, t, f);
  }
  std::vector<float> h(static_cast<size_t>(f.numel()));
  f.copy_to_host(s, h.data());
  return h;
}

struct Sequence {
  std::vector<int32_t> tokens;   // prompt, then the decode tokens fed one per step
  int64_t prompt = 0, done = 0;  // tokens processed so far
  std::vector<int32_t> blocks;   // cache blocks, in order
  std::vector<float> out;        // layer outputs of every token, [tokens, hidden]
};

}  // namespace

ServeResult serve(porta::Stream& s, const Config& c, const HostWeights& w, const ServeOptions& o,
                  uint64_t seed, int64_t vocab) {
  std::mt19937 rng(static_cast<uint32_t>(seed));
  std::vector<Sequence> seqs(static_cast<size_t>(o.sequences));
  int64_t total_blocks = 4, longest = 1;
  for (int64_t i = 0; i < o.sequences; ++i) {
    Sequence& q = seqs[static_cast<size_t>(i)];
    q.prompt = 1 + (i * 17 + 5) % o.max_prompt;  // distinct lengths for the first sequences
    q.tokens.resize(static_cast<size_t>(q.prompt + o.steps));
    for (int32_t& t : q.tokens) t = static_cast<int32_t>(rng() % static_cast<uint32_t>(vocab));
    total_blocks += (static_cast<int64_t>(q.tokens.size()) + o.block_size - 1) / o.block_size;
    longest = std::max<int64_t>(longest, static_cast<int64_t>(q.tokens.size()));
  }
  Config dense_cfg = c;
  dense_cfg.max_seq = std::max(c.max_seq, longest);
  DecoderLayer layer(dense_cfg, w, s);

  porta::KvCache cache;
  cache.k = Tensor::empty(s.device(), c.dtype, {total_blocks, o.block_size, c.kv_heads, c.head_dim});
  cache.v = Tensor::empty(s.device(), c.dtype, {total_blocks, o.block_size, c.kv_heads, c.head_dim});
  porta::ops::fill(s, cache.k, std::nan(""));  // never-written slots must never be read
  porta::ops::fill(s, cache.v, std::nan(""));
  std::vector<int32_t> free_blocks(static_cast<size_t>(total_blocks));
  std::iota(free_blocks.begin(), free_blocks.end(), 0);
  std::shuffle(free_blocks.begin(), free_blocks.end(), rng);

  ServeResult r;
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t step = 0;; ++step) {
    PagedStep st;
    st.cu_seqlens_q.push_back(0);
    std::vector<std::pair<Sequence*, int64_t>> batch;  // (sequence, tokens this step)
    int64_t budget = o.token_budget;
    bool unfinished = false;
    for (int64_t i = 0; i < o.sequences; ++i) {
      Sequence& q = seqs[static_cast<size_t>(i)];
      const auto len = static_cast<int64_t>(q.tokens.size());
      if (q.done == len) continue;
      unfinished = true;
      if (i > step || budget == 0) continue;  // not arrived yet, or the step is full
      const int64_t n =
          q.done < q.prompt ? std::min(q.prompt - q.done, budget) : 1;  // prefill chunk or decode
      budget -= n;
      while (static_cast<int64_t>(q.blocks.size()) * o.block_size < q.done + n) {
        q.blocks.push_back(free_blocks.back());
        free_blocks.pop_back();
      }
      batch.emplace_back(&q, n);
      for (int64_t j = q.done; j < q.done + n; ++j) {
        st.ids.push_back(q.tokens[static_cast<size_t>(j)]);
        st.positions.push_back(static_cast<int32_t>(j));
        st.slots.push_back(q.blocks[static_cast<size_t>(j / o.block_size)] * o.block_size + j % o.block_size);
      }
      st.cu_seqlens_q.push_back(st.cu_seqlens_q.back() + static_cast<int32_t>(n));
      st.seq_lens.push_back(static_cast<int32_t>(q.done + n));
      st.max_q = std::max(st.max_q, n);
      st.max_k = std::max(st.max_k, q.done + n);
      st.max_blocks = std::max<int64_t>(st.max_blocks, static_cast<int64_t>(q.blocks.size()));
    }
    if (!unfinished) break;
    if (batch.empty()) continue;
    st.block_tables.assign(batch.size() * static_cast<size_t>(st.max_blocks), -1);  // -1 past each sequence
    for (size_t b = 0; b < batch.size(); ++b)
      std::copy(
          batch[b].first->blocks.begin(), batch[b].first->blocks.end(),
          st.block_tables.begin() + static_cast<std::ptrdiff_t>(b * static_cast<size_t>(st.max_blocks)));
    const std::vector<float> y = rows_f32(s, layer.forward_paged(s, st, cache));
    size_t row = 0;
    for (auto& [q, n] : batch) {
      q->out.insert(
          q->out.end(), y.begin() + static_cast<std::ptrdiff_t>(row * static_cast<size_t>(c.hidden)),
          y.begin() +
              static_cast<std::ptrdiff_t>((row + static_cast<size_t>(n)) * static_cast<size_t>(c.hidden)));
      row += static_cast<size_t>(n);
      q->done += n;
    }
    r.tokens += static_cast<int64_t>(st.ids.size());
    r.engine_steps = step + 1;
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  // The dense path, one sequence at a time: the prompt in one call, then token by token.
  double sq = 0, count = 0;
  for (Sequence& q : seqs) {
    const std::vector<int32_t> prompt(q.tokens.begin(), q.tokens.begin() + q.prompt);
    std::vector<float> ref = rows_f32(s, layer.forward(s, prompt, 0));
    for (int64_t j = q.prompt; j < static_cast<int64_t>(q.tokens.size()); ++j) {
      const std::vector<float> h = rows_f32(s, layer.forward(s, {q.tokens[static_cast<size_t>(j)]}, j));
      ref.insert(ref.end(), h.begin(), h.end());
    }
    for (size_t i = 0; i < ref.size(); ++i) {
      if (i >= q.out.size() || !std::isfinite(q.out[i]) || !std::isfinite(ref[i])) {
        r.nonfinite = true;
        continue;
      }
      sq += static_cast<double>(ref[i]) * ref[i];
      count += 1;
      r.max_abs = std::max(r.max_abs, std::fabs(static_cast<double>(q.out[i]) - ref[i]));
    }
  }
  const double rms = std::sqrt(sq / std::max(count, 1.0));
  r.rel = rms > 0 ? r.max_abs / rms : r.max_abs;
  return r;
}

}  // namespace llama
