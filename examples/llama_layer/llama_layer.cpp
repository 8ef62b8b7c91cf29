// llama_layer: one Llama-style decoder layer, prefill of a prompt then N decode steps,
// on the device PORTA_DEVICE (or --device) selects; prints tokens/s per phase and the
// largest difference from the same layer, same weights and tokens, on the cpu backend.
//
//   llama_layer [--size tiny|8b] [--dtype f32|f16|bf16] [--prompt N] [--steps N]
//               [--device SPEC|all] [--seed N] [--no-check]
//
// --device all runs on every device porta finds and fails when any differs from the cpu
// by more than the dtype's tolerance.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "decoder_layer.h"

namespace {

using porta::DType;

struct Args {
  llama::Config config = llama::Config::tiny();
  int64_t prompt = 32, steps = 8, vocab = 512;
  std::string device;  // empty: PORTA_DEVICE / auto
  uint64_t seed = 42;
  bool check = true;
};

[[noreturn]] void usage(const char* msg) {
  std::fprintf(stderr,
               "llama_layer: %s\nusage: llama_layer [--size tiny|8b] [--dtype f32|f16|bf16] [--prompt N] "
               "[--steps N] [--device SPEC|all] [--seed N] [--no-check]\n",
               msg);
  std::exit(2);
}

int64_t positive(const char* flag, const char* v) {
  char* end = nullptr;
  const long long n = std::strtoll(v, &end, 10);
  if (end == v || *end != '\0' || n <= 0) usage((std::string(flag) + " needs a positive integer").c_str());
  return n;
}

Args parse(int argc, char** argv) {
  Args a;
  DType dtype = DType::f32;
  bool big = false, prompt_set = false;
  for (int i = 1; i < argc; ++i) {
    const std::string f = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) usage((f + " needs a value").c_str());
      return argv[++i];
    };
    if (f == "--size") {
      const std::string v = value();
      if (v != "tiny" && v != "8b") usage("--size is tiny or 8b");
      big = v == "8b";
    } else if (f == "--dtype") {
      const std::string v = value();
      if (v == "f32")
        dtype = DType::f32;
      else if (v == "f16")
        dtype = DType::f16;
      else if (v == "bf16")
        dtype = DType::bf16;
      else
        usage("--dtype is f32, f16 or bf16");
    } else if (f == "--prompt") {
      a.prompt = positive("--prompt", value());
      prompt_set = true;
    } else if (f == "--steps") {
      a.steps = positive("--steps", value());
    } else if (f == "--device") {
      a.device = value();
    } else if (f == "--seed") {
      a.seed = static_cast<uint64_t>(positive("--seed", value()));
    } else if (f == "--no-check") {
      a.check = false;
    } else if (f == "-h" || f == "--help") {
      usage("runs one decoder layer and compares it with the cpu backend");
    } else {
      usage(("unknown argument " + f).c_str());
    }
  }
  if (big) {
    a.config = llama::Config::llama3_8b();
    if (!prompt_set) a.prompt = 512;
    a.vocab = 4096;
  }
  a.config.dtype = dtype;
  a.config.max_seq = std::max(a.config.max_seq, a.prompt + a.steps);
  return a;
}

struct Run {
  std::vector<float> outputs;  // prefill output then each decode step's, as f32
  double prefill_s = 0, decode_s = 0;
};

std::vector<float> to_f32(porta::Stream& s, const porta::Tensor& t) {
  porta::Tensor f = t;
  if (t.dtype() != DType::f32) {
    f = porta::Tensor::empty(t.device(), DType::f32, t.shape());
    porta::ops::cast(s, t, f);
  }
  std::vector<float> host(static_cast<size_t>(f.numel()));
  f.copy_to_host(s, host.data());
  return host;
}

Run run_layer(const porta::Device& dev, const Args& a, const llama::HostWeights& w,
              const std::vector<int32_t>& tokens) {
  porta::Stream s(dev);
  llama::DecoderLayer layer(a.config, w, s);
  const std::vector<int32_t> prompt(tokens.begin(), tokens.begin() + a.prompt);
  // Warm-up: kernels that compile or tune on first use do it here, not in the timings.
  layer.forward(s, prompt, 0);
  layer.forward(s, {tokens[static_cast<size_t>(a.prompt)]}, a.prompt);

  Run r;
  using clock = std::chrono::steady_clock;
  auto t0 = clock::now();
  porta::Tensor y = layer.forward(s, prompt, 0);
  r.prefill_s = std::chrono::duration<double>(clock::now() - t0).count();
  r.outputs = to_f32(s, y);
  std::vector<porta::Tensor> steps;
  t0 = clock::now();
  for (int64_t i = 0; i < a.steps; ++i)
    steps.push_back(layer.forward(s, {tokens[static_cast<size_t>(a.prompt + i)]}, a.prompt + i));
  r.decode_s = std::chrono::duration<double>(clock::now() - t0).count();
  for (const porta::Tensor& t : steps) {
    const std::vector<float> h = to_f32(s, t);
    r.outputs.insert(r.outputs.end(), h.begin(), h.end());
  }
  return r;
}

// Tolerance on max|out - ref| / rms(ref): f32 differs only by summation order; f16 and
// bf16 round every stored activation (bf16 to 8 bits of mantissa), layer after layer.
double tolerance(DType t) { return t == DType::f32 ? 1e-4 : t == DType::f16 ? 2e-2 : 1e-1; }

struct Diff {
  double max_abs = 0, rel = 0;
  bool nonfinite = false;
};

Diff compare(const std::vector<float>& out, const std::vector<float>& ref) {
  Diff d;
  double sq = 0;
  for (float v : ref) sq += static_cast<double>(v) * v;
  const double rms = std::sqrt(sq / static_cast<double>(std::max<size_t>(ref.size(), 1)));
  for (size_t i = 0; i < out.size() && i < ref.size(); ++i) {
    if (!std::isfinite(out[i]) || !std::isfinite(ref[i])) d.nonfinite = true;
    d.max_abs = std::max(d.max_abs, std::fabs(static_cast<double>(out[i]) - ref[i]));
  }
  d.rel = rms > 0 ? d.max_abs / rms : d.max_abs;
  return d;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  try {
    std::vector<porta::Device> devices;
    if (a.device == "all") {
      devices = porta::devices();
    } else {
      devices.push_back(a.device.empty() ? porta::Device::select() : porta::Device::select(a.device));
    }
    std::printf("llama_layer: %s, prompt %lld tokens, %lld decode steps\n", a.config.str().c_str(),
                static_cast<long long>(a.prompt), static_cast<long long>(a.steps));

    const llama::HostWeights w = llama::HostWeights::random(a.config, a.seed, a.vocab);
    std::vector<int32_t> tokens(static_cast<size_t>(a.prompt + a.steps));
    std::mt19937 rng(static_cast<uint32_t>(a.seed));
    for (int32_t& t : tokens) t = static_cast<int32_t>(rng() % static_cast<uint32_t>(a.vocab));

    Run ref;
    if (a.check) ref = run_layer(porta::Device::select("cpu"), a, w, tokens);
    int failures = 0;
    for (const porta::Device& d : devices) {
      if (!d.info().supports(a.config.dtype)) {
        std::printf("%-40s skipped: no %s on this device\n", d.description().c_str(),
                    porta::dtype_name(a.config.dtype));
        continue;
      }
      const bool is_ref = d.info().backend == "cpu" && d.info().index == 0;
      const Run r = a.check && is_ref ? ref : run_layer(d, a, w, tokens);
      std::printf("%-40s prefill %9.1f tokens/s (%.2f ms)   decode %9.1f tokens/s (%.3f ms/token)",
                  d.description().c_str(), static_cast<double>(a.prompt) / r.prefill_s, r.prefill_s * 1e3,
                  static_cast<double>(a.steps) / r.decode_s, r.decode_s * 1e3 / static_cast<double>(a.steps));
      if (a.check) {
        const Diff diff = compare(r.outputs, ref.outputs);
        const bool ok = !diff.nonfinite && diff.rel <= tolerance(a.config.dtype);
        std::printf("   vs cpu: max |diff| %.3g = %.3g x rms (tolerance %.0e)%s %s", diff.max_abs, diff.rel,
                    tolerance(a.config.dtype), diff.nonfinite ? ", NaN/Inf" : "", ok ? "ok" : "FAIL");
        if (!ok) ++failures;
      }
      std::printf("\n");
    }
    return failures == 0 ? 0 : 1;
  } catch (const porta::Error& e) {
    std::fprintf(stderr, "llama_layer: %s\n", e.what());
    return 1;
  }
}
