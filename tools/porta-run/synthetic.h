// Synthetic checkpoints for benchmarks: a preset's real shapes with random bf16 weights
// made in memory (no file). Every tensor views one shared random buffer, so an 8B model
// costs host memory for its largest tensor only; device tensors are still separate copies.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "checkpoint.h"

namespace porta_run {

/// Presets: "llama3-8b", "llama3.2-1b", "qwen2.5-0.5b", "qwen3-0.6b", "small" (llama-shaped, 1024 wide,
/// fits 128 MiB allocations), "tiny". Throws LoadError
/// listing them for an unknown name.
std::unique_ptr<Checkpoint> open_synthetic(const std::string& preset, uint64_t seed = 1);
std::vector<std::string> synthetic_presets();

}  // namespace porta_run
