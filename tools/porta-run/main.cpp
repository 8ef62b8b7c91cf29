// porta-run: loads a Llama / Qwen2 / Qwen3 checkpoint (GGUF or Hugging Face safetensors)
// and generates from token ids, measures perplexity, or benchmarks (also on synthetic
// weights of a real model's shapes). Exit status: 0 ok, 1 device/runtime error, 2 bad or
// unsupported file or arguments.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "checkpoint.h"
#include "load_error.h"
#include "model.h"
#include "runs.h"
#include "synthetic.h"

namespace {

using namespace porta_run;

porta::DType parse_act(const std::string& s) {
  if (s == "f32") return porta::DType::f32;
  if (s == "f16") return porta::DType::f16;
  if (s == "bf16") return porta::DType::bf16;
  throw LoadError("--dtype " + s + ": expected f32, f16 or bf16");
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw LoadError(path + ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void print(const Report& r, bool json, const std::string& header) {
  if (json) {
    nlohmann::json j;
    for (const auto& kv : r.text) j[kv.first] = kv.second;
    for (const auto& kv : r.numbers) j[kv.first] = kv.second;
    std::cout << j.dump(2) << "\n";
    return;
  }
  if (!header.empty()) std::cout << header << "\n";
  for (const auto& kv : r.text)
    if (kv.first != "output_text") std::cout << "  " << kv.first << ": " << kv.second << "\n";
  for (const auto& kv : r.numbers) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.4g", kv.second);
    std::cout << "  " << kv.first << ": " << buf << "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"porta-run: run a Llama / Qwen2 / Qwen3 checkpoint (GGUF or safetensors) on any porta device"};
  std::string model, device, dtype = "f32", weights = "auto", prompt, prompt_file, text, ppl_file, synthetic;
  int64_t ctx = 0, max_tokens = 32, bench_prompt = 512, bench_decode = 32, bench_layers = 0;
  SamplerOptions so;
  bool json = false, bench = false, quiet = false;
  app.add_option("-m,--model", model, "a .gguf file, a .safetensors file or a Hugging Face model directory");
  app.add_option("--synthetic", synthetic, "random weights of a preset's shapes instead of a file (llama3-8b, llama3.2-1b, qwen2.5-0.5b, qwen3-0.6b, small, tiny)");
  app.add_option("--device", device, "device spec (default: PORTA_DEVICE, else auto)");
  app.add_option("--dtype", dtype, "activations and KV cache: f32, f16, bf16")->capture_default_str();
  app.add_option("--weights", weights, "weight format on the device: auto (as stored; GGUF Q8_0/Q4_0 as int8/int4 where the device runs them, other block formats as bf16), f32, f16, bf16, int8, int4 (quantized at load, group 32)")->capture_default_str();
  app.add_option("--ctx", ctx, "KV cache length (default: the model's context, at most 4096)");
  app.add_option("-p,--prompt", prompt, "prompt token ids, separated by spaces or commas (default: the BOS id)");
  app.add_option("--prompt-file", prompt_file, "file of prompt token ids");
  app.add_option("-t,--text", text, "prompt text, encoded with the GGUF file's byte-level BPE (tokenizer.ggml.merges; pre-tokenizers llama-bpe and qwen2); BOS first when the file says so");
  app.add_option("-n,--max-tokens", max_tokens, "tokens to generate")->capture_default_str();
  app.add_option("--temperature", so.temperature, "0: greedy")->capture_default_str();
  app.add_option("--top-k", so.top_k, "0: off")->capture_default_str();
  app.add_option("--top-p", so.top_p, "1: off")->capture_default_str();
  app.add_option("--seed", so.seed, "sampling seed")->capture_default_str();
  app.add_option("--perplexity", ppl_file, "file of token ids: print their perplexity under the model");
  app.add_flag("--bench", bench, "time prefill and decode and compare them with the device's bounds");
  app.add_option("--bench-prompt", bench_prompt, "prefill tokens timed by --bench")->capture_default_str();
  app.add_option("--bench-decode", bench_decode, "decode steps timed by --bench")->capture_default_str();
  app.add_option("--bench-layers", bench_layers, "build only this many layers and scale (default: 4 for --synthetic, all otherwise)");
  app.add_flag("--json", json, "machine-readable output");
  app.add_flag("-q,--quiet", quiet, "no progress lines");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  auto progress = [&](const std::string& m) {
    if (!quiet) std::fprintf(stderr, "porta-run: %s\n", m.c_str());
  };
  try {
    if (model.empty() == synthetic.empty()) throw LoadError("give either --model PATH or --synthetic PRESET");
    porta::Device dev = porta::Device::select(device);
    porta::Stream s(dev);
    progress("device " + dev.description());
    const auto t0 = std::chrono::steady_clock::now();
    std::unique_ptr<Checkpoint> ck = synthetic.empty() ? Checkpoint::open(model) : open_synthetic(synthetic);
    progress(ck->description() + ": " + ck->config().str());
    ModelOptions mo;
    mo.act = parse_act(dtype);
    mo.weights = parse_weight_format(weights);
    mo.ctx = ctx;
    if (bench && !synthetic.empty() && bench_layers == 0) bench_layers = 4;
    mo.layers = bench ? bench_layers : 0;
    if (bench && ctx == 0) mo.ctx = std::max<int64_t>(bench_prompt + bench_decode + 1, 1024);
    mo.progress = progress;
    Model m(*ck, s, mo);
    const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    progress("loaded in " + std::to_string(load_s).substr(0, 5) + " s: weights " + m.weights_summary() + ", " +
             std::to_string(m.weight_bytes() >> 20) + " MiB on the device; activations " + dtype + ", ctx " +
             std::to_string(m.ctx()));
    Report r;
    r.str("model", ck->description());
    r.str("device", dev.description());
    r.str("weights", m.weights_summary());
    r.str("activations", dtype);
    r.num("load_s", load_s);
    if (bench) {
      BenchOptions bo;
      bo.prompt = bench_prompt;
      bo.decode = bench_decode;
      bo.layer_scale = static_cast<double>(ck->config().layers) / static_cast<double>(m.layers_built());
      progress("benchmarking: prefill " + std::to_string(bench_prompt) + " tokens, decode " + std::to_string(bench_decode) + " steps");
      run_bench(m, s, bo, r);
      print(r, json, "bench:");
    } else if (!ppl_file.empty()) {
      run_perplexity(m, s, parse_ids(read_file(ppl_file), ppl_file), r);
      print(r, json, "perplexity:");
    } else {
      GenerateOptions go;
      if (!text.empty() && (!prompt.empty() || !prompt_file.empty()))
        throw LoadError("give --text or token ids (--prompt / --prompt-file), not both");
      if (!text.empty()) {
        if (!ck->encoder()) throw LoadError(ck->encoder_note());
        if (ck->add_bos() && ck->config().bos_id >= 0) go.prompt.push_back(ck->config().bos_id);
        const std::vector<int32_t> ids = ck->encoder()->encode(text);
        go.prompt.insert(go.prompt.end(), ids.begin(), ids.end());
        std::string shown;
        for (int32_t id : go.prompt) shown += (shown.empty() ? "" : " ") + std::to_string(id);
        progress("text encoded (" + ck->encoder()->pre() + " pre-tokenizer): " + std::to_string(go.prompt.size()) + " ids: " + shown);
      } else {
        go.prompt = parse_ids(prompt_file.empty() ? prompt : read_file(prompt_file), prompt_file.empty() ? "--prompt" : prompt_file);
      }
      if (go.prompt.empty()) go.prompt.push_back(ck->config().bos_id >= 0 ? ck->config().bos_id : 0);
      go.max_tokens = max_tokens;
      go.sampler = so;
      go.stream_text = !json;
      run_generate(m, ck->vocab(), s, go, r);
      print(r, json, "");
    }
    return 0;
  } catch (const LoadError& e) {
    std::fprintf(stderr, "porta-run: error: %s\n", e.what());
    return 2;
  } catch (const porta::Error& e) {
    std::fprintf(stderr, "porta-run: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "porta-run: error: %s\n", e.what());
    return 1;
  }
}
