// llama_layer: one Llama-style decoder layer, prefill of a prompt then N decode steps,
// on the device PORTA_DEVICE (or --device) selects; prints tokens/s per phase and the
// largest difference from the same layer, same weights and tokens, on the cpu backend.
//
//   llama_layer [--size tiny|8b] [--dtype f32|f16|bf16] [--weights int8|int4|fp8] [--prompt N]
//               [--steps N] [--device SPEC|all] [--seed N] [--no-check] [--serve [--sequences N]]
//
// --weights quantizes the four projections on each device (ops::quantize); devices that do
// not run that format (porta::supports_quant) are skipped with the reason.
//
// --serve runs the layer as a serving engine (serve.h): N sequences (default 8) with
// different prompt lengths, continuously batched over a paged KV cache (prefill chunks and
// decode tokens in one call per step); each sequence's outputs must match the dense path's
// on the same device. --prompt caps the prompt lengths, --steps sets the decode tokens.
//
// --device all runs on every device porta finds and fails when any differs from the cpu
// by more than the dtype's tolerance.
//
// --tp N (under `mpirun -n N`): the layer split tensor-parallel across the N ranks (one
// device each, PORTA_DEVICE / --device per rank), all-reduced over porta::Communicator;
// rank 0 compares the result and the greedy next tokens with the unsplit layer on one
// device, and checks that every rank holds bitwise the same output.
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
#include "serve.h"

namespace {

using porta::DType;

struct Args {
  llama::Config config = llama::Config::tiny();
  int64_t prompt = 32, steps = 8, vocab = 512;
  std::string device;  // empty: PORTA_DEVICE / auto
  uint64_t seed = 42;
  bool check = true;
  int tp = 0;  // tensor-parallel ranks (0: off)
  bool serve = false;
  int64_t sequences = 8;
};

[[noreturn]] void usage(const char* msg) {
  std::fprintf(stderr,
               "llama_layer: %s\nusage: llama_layer [--size tiny|8b] [--dtype f32|f16|bf16] [--weights "
               "int8|int4|fp8] [--prompt N] "
               "[--steps N] [--device SPEC|all] [--seed N] [--no-check] [--tp N] [--serve [--sequences N]]\n",
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
  std::string weights;
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
    } else if (f == "--weights") {
      weights = value();
      if (weights != "int8" && weights != "int4" && weights != "fp8") usage("--weights is int8, int4 or fp8");
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
    } else if (f == "--tp") {
      a.tp = static_cast<int>(positive("--tp", value()));
    } else if (f == "--serve") {
      a.serve = true;
    } else if (f == "--sequences") {
      a.sequences = positive("--sequences", value());
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
  a.config.weights = weights;
  a.config.max_seq = std::max(a.config.max_seq, a.prompt + a.steps);
  return a;
}

struct Run {
  std::vector<float> outputs;   // prefill output then each decode step's, as f32
  std::vector<int32_t> greedy;  // argmax of the LM head after the prefill and each step
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

int32_t argmax_host(porta::Stream& s, const porta::Tensor& logits) {
  std::vector<float> h(static_cast<size_t>(logits.numel()));
  logits.copy_to_host(s, h.data());
  return static_cast<int32_t>(std::max_element(h.begin(), h.end()) - h.begin());
}

Run run_layer(const porta::Device& dev, const Args& a, const llama::HostWeights& w,
              const std::vector<int32_t>& tokens, porta::Communicator* tp = nullptr) {
  porta::Stream s(dev);
  llama::DecoderLayer layer(a.config, w, s, tp);
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
  r.greedy.push_back(argmax_host(s, layer.logits(s, y)));
  std::vector<porta::Tensor> steps;
  t0 = clock::now();
  for (int64_t i = 0; i < a.steps; ++i)
    steps.push_back(layer.forward(s, {tokens[static_cast<size_t>(a.prompt + i)]}, a.prompt + i));
  r.decode_s = std::chrono::duration<double>(clock::now() - t0).count();
  for (const porta::Tensor& t : steps) {
    const std::vector<float> h = to_f32(s, t);
    r.outputs.insert(r.outputs.end(), h.begin(), h.end());
    r.greedy.push_back(argmax_host(s, layer.logits(s, t)));
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

// FNV-1a of the outputs' bits.
int32_t bits_hash(const std::vector<float>& v) {
  uint32_t h = 2166136261u;
  const auto* p = reinterpret_cast<const unsigned char*>(v.data());
  for (size_t i = 0; i < v.size() * sizeof(float); ++i) h = (h ^ p[i]) * 16777619u;
  return static_cast<int32_t>(h);
}

int run_tensor_parallel(const Args& a, const llama::HostWeights& w, const std::vector<int32_t>& tokens) {
  const porta::Device dev = a.device.empty() ? porta::Device::select() : porta::Device::select(a.device);
  porta::Communicator comm = porta::Communicator::from_mpi(dev);
  const bool lead = comm.rank() == 0;
  if (comm.size() != a.tp)
    throw porta::Error(porta::Errc::invalid_argument,
                       "llama_layer: --tp " + std::to_string(a.tp) + " but " + std::to_string(comm.size()) +
                           " MPI ranks; launch with mpirun -n " + std::to_string(a.tp));
  const Run r = run_layer(dev, a, w, tokens, &comm);
  // Every rank must hold the same bits (deterministic all_reduce), or greedy decoding diverges.
  porta::Stream s(dev);
  const int32_t mine = bits_hash(r.outputs);
  porta::Tensor h = porta::Tensor::from_host(s, DType::i32, {1}, &mine);
  porta::Tensor all = porta::Tensor::empty(dev, DType::i32, {comm.size()});
  comm.all_gather(s, h, all);
  std::vector<int32_t> hashes(static_cast<size_t>(comm.size()));
  all.copy_to_host(s, hashes.data());
  const bool same_bits = std::all_of(hashes.begin(), hashes.end(), [&](int32_t x) { return x == mine; });
  if (!lead) return 0;
  std::printf(
      "%-40s tp %d (%s): prefill %9.1f tokens/s (%.2f ms)   decode %9.1f tokens/s (%.3f ms/token)   "
      "ranks bitwise equal: %s",
      dev.description().c_str(), comm.size(), comm.transport().c_str(),
      static_cast<double>(a.prompt) / r.prefill_s, r.prefill_s * 1e3,
      static_cast<double>(a.steps) / r.decode_s, r.decode_s * 1e3 / static_cast<double>(a.steps),
      same_bits ? "yes" : "NO");
  int failures = same_bits ? 0 : 1;
  if (a.check) {
    const Run ref = run_layer(dev, a, w, tokens);  // the unsplit layer on this rank's device
    const Diff diff = compare(r.outputs, ref.outputs);
    const bool ok = !diff.nonfinite && diff.rel <= tolerance(a.config.dtype);
    size_t agree = 0;
    for (size_t i = 0; i < r.greedy.size() && i < ref.greedy.size(); ++i)
      agree += r.greedy[i] == ref.greedy[i];
    // f32 differs from the unsplit layer only in summation order: greedy tokens must agree.
    const bool tokens_ok = a.config.dtype != DType::f32 || agree == ref.greedy.size();
    std::printf(
        "\n%-40s vs 1 device: max |diff| %.3g = %.3g x rms (tolerance %.0e), greedy tokens %zu/%zu equal %s",
        "", diff.max_abs, diff.rel, tolerance(a.config.dtype), agree, ref.greedy.size(),
        ok && tokens_ok ? "ok" : "FAIL");
    if (!ok || !tokens_ok) ++failures;
  }
  std::printf("\n");
  return failures == 0 ? 0 : 1;
}

// Whether the device quantizes and multiplies this layer's weight format.
static bool quant_runs(const porta::Device& d, const llama::Config& c) {
  const porta::QuantFormat f = c.weights == "int8"   ? porta::QuantFormat::int8
                               : c.weights == "int4" ? porta::QuantFormat::int4
                                                     : porta::QuantFormat::fp8_e4m3fn;
  return porta::supports_quant(d, "quantize", f, c.dtype) && porta::supports_quant(d, "gemm", f, c.dtype);
}

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  try {
    std::vector<porta::Device> devices;
    if (a.device == "all") {
      devices = porta::devices();
    } else {
      devices.push_back(a.device.empty() ? porta::Device::select() : porta::Device::select(a.device));
    }
    const llama::HostWeights w = llama::HostWeights::random(a.config, a.seed, a.vocab);
    std::vector<int32_t> tokens(static_cast<size_t>(a.prompt + a.steps));
    std::mt19937 rng(static_cast<uint32_t>(a.seed));
    for (int32_t& t : tokens) t = static_cast<int32_t>(rng() % static_cast<uint32_t>(a.vocab));
    if (a.tp > 0) return run_tensor_parallel(a, w, tokens);
    std::printf("llama_layer: %s, prompt %lld tokens, %lld decode steps\n", a.config.str().c_str(),
                static_cast<long long>(a.prompt), static_cast<long long>(a.steps));

    if (a.serve) {
      llama::ServeOptions so;
      so.sequences = a.sequences, so.max_prompt = a.prompt, so.steps = a.steps;
      int failures = 0;
      for (const porta::Device& d : devices) {
        porta::Stream s(d);
        llama::ServeResult r;
        try {
          r = llama::serve(s, a.config, w, so, a.seed, a.vocab);
        } catch (const porta::Error& e) {
          if (e.code() != porta::Errc::unsupported) throw;
          std::printf("%-40s skipped: %s\n", d.description().c_str(), e.what());
          continue;
        }
        const bool ok = !r.nonfinite && r.rel <= tolerance(a.config.dtype);
        std::printf(
            "%-40s serve: %lld sequences, %lld tokens in %lld steps, %.1f tokens/s; vs dense: max |diff| "
            "%.3g = %.3g x rms (tolerance %.0e)%s %s\n",
            d.description().c_str(), static_cast<long long>(a.sequences), static_cast<long long>(r.tokens),
            static_cast<long long>(r.engine_steps), static_cast<double>(r.tokens) / r.seconds, r.max_abs,
            r.rel, tolerance(a.config.dtype), r.nonfinite ? ", NaN/Inf" : "", ok ? "ok" : "FAIL");
        if (!ok) ++failures;
      }
      return failures == 0 ? 0 : 1;
    }

    Run ref;
    if (a.check) ref = run_layer(porta::Device::select("cpu"), a, w, tokens);
    int failures = 0;
    for (const porta::Device& d : devices) {
      if (!d.info().supports(a.config.dtype)) {
        std::printf("%-40s skipped: no %s on this device\n", d.description().c_str(),
                    porta::dtype_name(a.config.dtype));
        continue;
      }
      if (!a.config.weights.empty() && !quant_runs(d, a.config)) {
        std::printf("%-40s skipped: no %s weights on this device (porta::supports_quant)\n",
                    d.description().c_str(), a.config.weights.c_str());
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
