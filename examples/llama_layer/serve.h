// --serve: the decoder layer as a serving engine runs it. Sequences with different prompt
// lengths arrive one step apart; every engine step packs prefill chunks and decode tokens of
// all running sequences into one forward_paged call over a paged KV cache (continuous
// batching). Each sequence's outputs are then compared with the dense path's.
#pragma once

#include <cstdint>

#include "decoder_layer.h"

namespace llama {

struct ServeOptions {
  int64_t sequences = 8;
  int64_t max_prompt = 40;  // prompt lengths vary in [1, max_prompt]
  int64_t steps = 8;        // decode tokens per sequence after its prompt
  int64_t block_size = 16;
  int64_t token_budget = 32;  // tokens per engine step (prefill chunks fill what decode leaves)
};

struct ServeResult {
  int64_t tokens = 0, engine_steps = 0;
  double seconds = 0;           // engine loop (paged path) only
  double max_abs = 0, rel = 0;  // paged vs dense outputs: max |diff| and max |diff| / rms(dense)
  bool nonfinite = false;
};

ServeResult serve(porta::Stream& s, const Config& c, const HostWeights& w, const ServeOptions& o,
                  uint64_t seed, int64_t vocab);

}  // namespace llama
