#include "packed_int4.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "load_error.h"
#include "porta/error.h"
#include "porta/quant_import.h"

namespace porta_run {
namespace {

using json = nlohmann::json;

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string str_key(const json& q, const char* key, const std::string& dflt, const std::string& source) {
  if (!q.contains(key) || q[key].is_null()) return dflt;
  if (!q[key].is_string())
    throw LoadError(source + ": quantization_config key '" + key + "' must be a string");
  return lower(q[key].get<std::string>());
}

int64_t int_key(const json& q, const char* key, int64_t dflt, const std::string& source) {
  if (!q.contains(key) || q[key].is_null()) return dflt;
  if (!q[key].is_number_integer())
    throw LoadError(source + ": quantization_config key '" + key + "' must be an integer");
  return q[key].get<int64_t>();
}

bool bool_key(const json& q, const char* key, bool dflt, const std::string& source) {
  if (!q.contains(key) || q[key].is_null()) return dflt;
  if (!q[key].is_boolean())
    throw LoadError(source + ": quantization_config key '" + key + "' must be true or false");
  return q[key].get<bool>();
}

std::string dims(const std::vector<int64_t>& d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
  return s + "]";
}

// The safetensors dtype names (these tensors only come from safetensors files).
std::string st_dtype(SrcType t) {
  std::string s = src_type_name(t);
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::string PackedFormat::str() const {
  if (method == Method::none) return "unquantized";
  std::string s = method == Method::gptq ? (gptq_v2 ? "GPTQ v2" : "GPTQ v1") : "AWQ gemm";
  s += " int4 " + (group == -1 ? std::string("per-channel") : "g" + std::to_string(group));
  if (desc_act) s += " act-order";
  return s;
}

PackedFormat parse_packed_format(const json& q, const std::string& source, bool default_gptq) {
  if (!q.is_object()) throw LoadError(source + ": quantization_config is not a JSON object");
  PackedFormat f;
  const std::string method = str_key(q, "quant_method", default_gptq ? "gptq" : "", source);
  auto refuse = [&](const std::string& what) { throw LoadError(source + ": " + what); };
  if (method == "gptq") {
    f.method = PackedFormat::Method::gptq;
    const int64_t bits = int_key(q, "bits", 0, source);
    if (bits != 4)
      refuse("GPTQ with bits " + std::to_string(bits) +
             " is not supported (porta-run reads 4-bit GPTQ: \"bits\": 4)");
    f.group = static_cast<int>(int_key(q, "group_size", 128, source));
    f.desc_act = bool_key(q, "desc_act", false, source);
    f.sym = bool_key(q, "sym", true, source);
    // GPTQModel writes checkpoint_format (older) or format (newer); AutoGPTQ neither (v1).
    const std::string fmt = str_key(q, "checkpoint_format", str_key(q, "format", "gptq", source), source);
    if (fmt == "gptq_v2")
      f.gptq_v2 = true;
    else if (fmt != "gptq")
      refuse(
          "GPTQ checkpoint_format '" + fmt +
          "' is a kernel-specific repacking porta-run does not read (it reads gptq and gptq_v2; re-save the "
          "model in the gptq format)");
    const std::string pack = str_key(q, "pack_dtype", "int32", source);
    if (pack != "int32")
      refuse("GPTQ pack_dtype '" + pack + "' is not supported (porta-run reads int32 packing)");
    if (q.contains("dynamic") && !q["dynamic"].is_null() && !q["dynamic"].empty())
      refuse(
          "GPTQ per-module 'dynamic' overrides are not supported (every layer must use the same bits and "
          "group)");
  } else if (method == "awq") {
    f.method = PackedFormat::Method::awq;
    const int64_t bits = int_key(q, "bits", int_key(q, "w_bit", 0, source), source);
    if (bits != 4)
      refuse("AWQ with bits " + std::to_string(bits) +
             " is not supported (porta-run reads 4-bit AWQ: \"bits\": 4)");
    f.group = static_cast<int>(int_key(q, "group_size", int_key(q, "q_group_size", 128, source), source));
    if (!bool_key(q, "zero_point", true, source))
      refuse(
          "AWQ without zero points (\"zero_point\": false) is not supported (porta-run reads AutoAWQ's gemm "
          "layout "
          "with zero points)");
    const std::string version = str_key(q, "version", "gemm", source);
    if (version != "gemm")
      refuse("AWQ version '" + version +
             "' is not supported (porta-run reads AutoAWQ's gemm layout; gemv, gemv_fast, marlin, exllama "
             "and ipex "
             "checkpoints are not read)");
    const std::string backend = str_key(q, "backend", "autoawq", source);
    if (backend != "autoawq")
      refuse("AWQ backend '" + backend +
             "' is not supported (porta-run reads checkpoints written by AutoAWQ)");
  } else {
    refuse("quant_method '" + method +
           "' is not supported (porta-run reads 4-bit gptq and awq checkpoints, and unquantized ones)");
  }
  if (f.group != -1 && f.group < 1)
    refuse("group_size " + std::to_string(f.group) + " must be -1 or positive");
  return f;
}

void check_packed(const PackedFormat& f, const PackedLinear& p, int64_t n, int64_t k,
                  const std::string& config) {
  const bool gptq = f.method == PackedFormat::Method::gptq;
  const std::string what = (p.qweight ? p.qweight->file + ": " : std::string()) + f.str() + " layer '" +
                           p.name + "' [" + std::to_string(n) + " out, " + std::to_string(k) + " in]";
  if (n % 8 != 0 || k % 8 != 0)
    throw LoadError(what + ": both extents must be multiples of 8 (8 int4 values per int32) for " + config);
  const int64_t group = f.group == -1 ? k : f.group;
  if (k % group != 0)
    throw LoadError(what + ": group_size " + std::to_string(group) + " does not divide the " +
                    std::to_string(k) + " inputs (" + config + ")");
  const int64_t G = k / group;
  auto want = [&](const TensorData* t, const char* part, SrcType type, const std::vector<int64_t>& shape,
                  const char* why) {
    if (!t) throw LoadError(what + ": tensor '" + p.name + "." + part + "' is missing");
    if (t->type != type)
      throw LoadError(t->file + ": tensor '" + t->name + "' has dtype " + st_dtype(t->type) + ", expected " +
                      st_dtype(type) + " (" + f.str() + ")");
    if (t->shape != shape)
      throw LoadError(t->file + ": tensor '" + t->name + "' has shape " + t->shape_str() + " but " + f.str() +
                      " for the config (" + config + ") needs " + dims(shape) + " (" + why + ")");
  };
  if (gptq) {
    want(p.qweight, "qweight", SrcType::i32, {k / 8, n}, "8 input channels per int32");
    want(p.qzeros, "qzeros", SrcType::i32, {G, n / 8}, "groups x 8 outputs per int32");
    want(p.scales, "scales", SrcType::f16, {G, n}, "groups x outputs");
    if (p.g_idx)
      want(p.g_idx, "g_idx", SrcType::i32, {k}, "the group of each input channel");
    else if (f.desc_act)
      throw LoadError(what + ": desc_act is set but tensor '" + p.name + ".g_idx' is missing");
  } else {
    want(p.qweight, "qweight", SrcType::i32, {k, n / 8}, "inputs x 8 outputs per int32");
    want(p.qzeros, "qzeros", SrcType::i32, {G, n / 8}, "groups x 8 outputs per int32");
    want(p.scales, "scales", SrcType::f16, {G, n}, "groups x outputs");
  }
}

porta::QuantHostWeight import_packed(const PackedFormat& f, const PackedLinear& p, int64_t n, int64_t k) {
  // The mapped data of safetensors tensors is only byte-aligned in general; the importers
  // read int32/f16 arrays, so misaligned tensors are copied first.
  std::vector<std::vector<uint8_t>> copies;
  auto aligned = [&](const TensorData* t) -> const void* {
    if (!t) return nullptr;
    if (reinterpret_cast<uintptr_t>(t->data) % 4 == 0) return t->data;
    copies.emplace_back(t->data, t->data + t->bytes);
    return copies.back().data();
  };
  try {
    if (f.method == PackedFormat::Method::gptq) {
      porta::quant_import::GptqTensors t;
      t.n = n, t.k = k, t.group = f.group, t.v2 = f.gptq_v2;
      t.qweight = static_cast<const int32_t*>(aligned(p.qweight));
      t.qweight_rows = p.qweight->shape[0], t.qweight_cols = p.qweight->shape[1];
      t.qzeros = static_cast<const int32_t*>(aligned(p.qzeros));
      t.qzeros_rows = p.qzeros->shape[0], t.qzeros_cols = p.qzeros->shape[1];
      t.scales = static_cast<const uint16_t*>(aligned(p.scales));
      t.scales_rows = p.scales->shape[0], t.scales_cols = p.scales->shape[1];
      if (p.g_idx) {
        t.g_idx = static_cast<const int32_t*>(aligned(p.g_idx));
        t.g_idx_len = p.g_idx->shape[0];
      }
      return porta::quant_import::gptq(p.name, t);
    }
    porta::quant_import::AwqTensors t;
    t.n = n, t.k = k, t.group = f.group;
    t.qweight = static_cast<const int32_t*>(aligned(p.qweight));
    t.qweight_rows = p.qweight->shape[0], t.qweight_cols = p.qweight->shape[1];
    t.qzeros = static_cast<const int32_t*>(aligned(p.qzeros));
    t.qzeros_rows = p.qzeros->shape[0], t.qzeros_cols = p.qzeros->shape[1];
    t.scales = static_cast<const uint16_t*>(aligned(p.scales));
    t.scales_rows = p.scales->shape[0], t.scales_cols = p.scales->shape[1];
    return porta::quant_import::awq(p.name, t);
  } catch (const porta::Error& e) {
    throw LoadError(p.qweight->file + ": " + e.what());
  }
}

std::vector<float> dequantize_host(const porta::QuantHostWeight& h) {
  std::vector<float> out(static_cast<size_t>(h.n * h.k));
  for (int64_t r = 0; r < h.n; ++r)
    for (int64_t j = 0; j < h.k; ++j) {
      const int64_t ch = h.perm.empty() ? j : h.perm[static_cast<size_t>(j)];
      out[static_cast<size_t>(r * h.k + ch)] = static_cast<float>(h.value(r, j));
    }
  return out;
}

}  // namespace porta_run
