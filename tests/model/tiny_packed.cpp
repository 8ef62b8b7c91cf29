#include "tiny_packed.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "porta/dtype.h"

namespace porta_run_test {
namespace {

bool is_projection(const std::string& name) { return name.find("_proj.weight") != std::string::npos; }

template <typename T>
std::vector<uint8_t> bytes_of(const std::vector<T>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// One [n out, k in] layer quantized asymmetrically per (output, group): scale = f16 of
// (max(w, 0) − min(w, 0)) / 15, zero = round(−min / scale) kept in [1, 15] (GPTQ v1 stores
// zero − 1 in a nibble), code = clamp(round(w / scale) + zero, 0, 15).
struct Quantized {
  int64_t n, k, G;
  std::vector<int> q;           // [n, k]
  std::vector<int> zero;        // [G, n]
  std::vector<uint16_t> scale;  // [G, n] f16 bits
  std::vector<int32_t> g_idx;   // [k]
  std::vector<double> held;     // [n, k]: (q − zero)·scale
};

Quantized quantize(const std::vector<float>& w, int64_t n, int64_t k, int group, bool act_order,
                   std::mt19937_64& rng) {
  Quantized r{n, k, k / group, {}, {}, {}, {}, {}};
  r.g_idx.resize(static_cast<size_t>(k));
  for (int64_t i = 0; i < k; ++i) r.g_idx[static_cast<size_t>(i)] = static_cast<int32_t>(i / group);
  if (act_order)
    std::shuffle(r.g_idx.begin(), r.g_idx.end(), rng);  // each group still holds `group` channels
  r.q.resize(static_cast<size_t>(n * k));
  r.zero.resize(static_cast<size_t>(r.G * n));
  r.scale.resize(static_cast<size_t>(r.G * n));
  r.held.resize(static_cast<size_t>(n * k));
  for (int64_t c = 0; c < n; ++c)
    for (int64_t g = 0; g < r.G; ++g) {
      double lo = 0, hi = 0;
      for (int64_t i = 0; i < k; ++i)
        if (r.g_idx[static_cast<size_t>(i)] == g) {
          lo = std::min(lo, static_cast<double>(w[static_cast<size_t>(c * k + i)]));
          hi = std::max(hi, static_cast<double>(w[static_cast<size_t>(c * k + i)]));
        }
      const uint16_t sb = porta::float_to_f16(static_cast<float>(std::max((hi - lo) / 15, 1e-4)));
      const double s = porta::f16_to_float(sb);
      const int z = static_cast<int>(std::min(15.0, std::max(1.0, std::nearbyint(-lo / s))));
      r.scale[static_cast<size_t>(g * n + c)] = sb;
      r.zero[static_cast<size_t>(g * n + c)] = z;
      for (int64_t i = 0; i < k; ++i) {
        if (r.g_idx[static_cast<size_t>(i)] != g) continue;
        const size_t at = static_cast<size_t>(c * k + i);
        const int q = static_cast<int>(std::min(15.0, std::max(0.0, std::nearbyint(w[at] / s) + z)));
        r.q[at] = q;
        r.held[at] = (q - z) * s;
      }
    }
  return r;
}

// AutoGPTQ QuantLinear.pack: qweight [k/8, n] with input channel 8r + j in bits 4j..4j+3 of
// qweight[r][c]; qzeros [G, n/8] with output 8c + j in bits 4j of qzeros[g][c] (v1: zero − 1).
void pack_gptq(const Quantized& r, const std::string& base, bool v2, std::vector<StEntry>& out) {
  std::vector<int32_t> qweight(static_cast<size_t>(r.k / 8 * r.n), 0),
      qzeros(static_cast<size_t>(r.G * r.n / 8), 0);
  for (int64_t row = 0; row < r.k / 8; ++row)
    for (int64_t c = 0; c < r.n; ++c) {
      uint32_t word = 0;
      for (int j = 0; j < 8; ++j)
        word |= static_cast<uint32_t>(r.q[static_cast<size_t>(c * r.k + row * 8 + j)]) << (4 * j);
      qweight[static_cast<size_t>(row * r.n + c)] = static_cast<int32_t>(word);
    }
  for (int64_t g = 0; g < r.G; ++g)
    for (int64_t c = 0; c < r.n / 8; ++c) {
      uint32_t word = 0;
      for (int j = 0; j < 8; ++j)
        word |= static_cast<uint32_t>(r.zero[static_cast<size_t>(g * r.n + c * 8 + j)] - (v2 ? 0 : 1))
                << (4 * j);
      qzeros[static_cast<size_t>(g * (r.n / 8) + c)] = static_cast<int32_t>(word);
    }
  out.push_back({base + ".qweight", "I32", {r.k / 8, r.n}, bytes_of(qweight)});
  out.push_back({base + ".qzeros", "I32", {r.G, r.n / 8}, bytes_of(qzeros)});
  out.push_back({base + ".scales", "F16", {r.G, r.n}, bytes_of(r.scale)});
  out.push_back({base + ".g_idx", "I32", {r.k}, bytes_of(r.g_idx)});
}

// AutoAWQ WQLinear_GEMM: qweight [k, n/8] and qzeros [G, n/8] packed along the outputs, nibble
// p of each int32 holding output 8c + order[p].
void pack_awq(const Quantized& r, const std::string& base, std::vector<StEntry>& out) {
  constexpr int order[8] = {0, 2, 4, 6, 1, 3, 5, 7};
  std::vector<int32_t> qweight(static_cast<size_t>(r.k * r.n / 8), 0),
      qzeros(static_cast<size_t>(r.G * r.n / 8), 0);
  for (int64_t i = 0; i < r.k; ++i)
    for (int64_t c = 0; c < r.n / 8; ++c) {
      uint32_t word = 0;
      for (int p = 0; p < 8; ++p)
        word |= static_cast<uint32_t>(r.q[static_cast<size_t>((c * 8 + order[p]) * r.k + i)]) << (4 * p);
      qweight[static_cast<size_t>(i * (r.n / 8) + c)] = static_cast<int32_t>(word);
    }
  for (int64_t g = 0; g < r.G; ++g)
    for (int64_t c = 0; c < r.n / 8; ++c) {
      uint32_t word = 0;
      for (int p = 0; p < 8; ++p)
        word |= static_cast<uint32_t>(r.zero[static_cast<size_t>(g * r.n + c * 8 + order[p])]) << (4 * p);
      qzeros[static_cast<size_t>(g * (r.n / 8) + c)] = static_cast<int32_t>(word);
    }
  out.push_back({base + ".qweight", "I32", {r.k, r.n / 8}, bytes_of(qweight)});
  out.push_back({base + ".qzeros", "I32", {r.G, r.n / 8}, bytes_of(qzeros)});
  out.push_back({base + ".scales", "F16", {r.G, r.n}, bytes_of(r.scale)});
}

}  // namespace

std::string packed_config_json(const PackedSpec& p) {
  const std::string g = std::to_string(p.group);
  if (p.kind == PackedKind::awq)
    return "{\"quant_method\":\"awq\",\"bits\":4,\"group_size\":" + g +
           ",\"zero_point\":true,\"version\":\"gemm\"}";
  return "{\"quant_method\":\"gptq\",\"bits\":4,\"group_size\":" + g +
         ",\"desc_act\":" + (p.act_order ? "true" : "false") + ",\"sym\":false,\"checkpoint_format\":\"" +
         (p.kind == PackedKind::gptq_v2 ? "gptq_v2" : "gptq") + "\"}";
}

std::vector<StEntry> packed_entries(const TinyModel& m, const PackedSpec& p, uint64_t seed,
                                    porta::ref::WeightMap* held) {
  std::mt19937_64 rng(seed);
  const porta::ref::WeightMap f16 = m.stored(FileType::f16, false);
  std::vector<StEntry> out;
  for (const auto& kv : m.weights) {
    const std::vector<int64_t>& shape = m.shapes.at(kv.first);
    if (!is_projection(kv.first)) {
      out.push_back({kv.first, "F16", shape, encode_as(FileType::f16, kv.second)});
      if (held) (*held)[kv.first] = f16.at(kv.first);
      continue;
    }
    const std::string base = kv.first.substr(0, kv.first.size() - std::string(".weight").size());
    const Quantized r = quantize(kv.second, shape[0], shape[1], p.group, p.act_order, rng);
    if (p.kind == PackedKind::awq)
      pack_awq(r, base, out);
    else
      pack_gptq(r, base, p.kind == PackedKind::gptq_v2, out);
    if (held) (*held)[kv.first] = r.held;
  }
  return out;
}

porta::ref::WeightMap write_packed(const TinyModel& m, const std::string& dir, const PackedSpec& p,
                                   uint64_t seed) {
  porta::ref::WeightMap held;
  write_safetensors_file(dir + "/model.safetensors", packed_entries(m, p, seed, &held));
  write_config(m, dir, packed_config_json(p));
  return held;
}

}  // namespace porta_run_test
