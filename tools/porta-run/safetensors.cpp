#include "safetensors.h"

#include <sys/stat.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "load_error.h"

namespace porta_run {
namespace {

using json = nlohmann::json;

bool is_dir(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}

// The safetensors dtype names porta-run reads, and what it says about the others.
bool dtype_of(const std::string& s, SrcType* t) {
  if (s == "F32") *t = SrcType::f32;
  else if (s == "F16") *t = SrcType::f16;
  else if (s == "BF16") *t = SrcType::bf16;
  else if (s == "I32") *t = SrcType::i32;  // GPTQ / AWQ packed tensors
  else return false;
  return true;
}

}  // namespace

void parse_safetensors(const uint8_t* data, uint64_t size, const std::string& name,
                       std::map<std::string, TensorData>& out) {
  if (size < 8) throw LoadError(name + ": truncated file: " + std::to_string(size) + " bytes, no safetensors header");
  uint64_t hlen;
  std::memcpy(&hlen, data, 8);
  if (hlen > size - 8)
    throw LoadError(name + ": header length " + std::to_string(hlen) + " runs past the end of the file (" +
                    std::to_string(size) + " bytes): truncated or not a safetensors file");
  if (hlen > (uint64_t{100} << 20)) throw LoadError(name + ": header of " + std::to_string(hlen) + " bytes is over the 100 MB limit");
  json h;
  try {
    h = json::parse(reinterpret_cast<const char*>(data + 8), reinterpret_cast<const char*>(data + 8 + hlen));
  } catch (const json::exception& e) {
    throw LoadError(name + ": the header is not valid JSON (" + e.what() + "): not a safetensors file?");
  }
  if (!h.is_object()) throw LoadError(name + ": the header is not a JSON object");
  const uint64_t data_size = size - 8 - hlen;
  const uint8_t* base = data + 8 + hlen;
  for (auto it = h.begin(); it != h.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    const std::string what = name + ": tensor '" + it.key() + "'";
    const json& e = it.value();
    if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets") ||
        !e["dtype"].is_string() || !e["shape"].is_array() || !e["data_offsets"].is_array() ||
        e["data_offsets"].size() != 2)
      throw LoadError(what + ": expected {\"dtype\": string, \"shape\": [..], \"data_offsets\": [begin, end]}");
    TensorData t;
    t.name = it.key();
    t.file = name;
    const std::string dt = e["dtype"].get<std::string>();
    if (!dtype_of(dt, &t.type))
      throw LoadError(what + " has dtype " + dt + ", which porta-run does not read (F32, F16, BF16; I32 for GPTQ/AWQ packed tensors)");
    if (e["shape"].size() > 4) throw LoadError(what + ": rank " + std::to_string(e["shape"].size()) + " (at most 4)");
    for (const json& d : e["shape"]) {
      if (!d.is_number_unsigned() || d.get<uint64_t>() > (uint64_t{1} << 40))
        throw LoadError(what + ": shape entries must be non-negative integers below 2^40");
      t.shape.push_back(static_cast<int64_t>(d.get<uint64_t>()));
    }
    const json& off = e["data_offsets"];
    if (!off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      throw LoadError(what + ": data_offsets must be non-negative integers");
    const uint64_t b = off[0].get<uint64_t>(), en = off[1].get<uint64_t>();
    if (b > en || en > data_size)
      throw LoadError(what + ": data_offsets [" + std::to_string(b) + ", " + std::to_string(en) +
                      ") lie outside the data section of " + std::to_string(data_size) + " bytes: truncated file?");
    t.bytes = storage_bytes(t.type, t.shape, what);
    if (t.bytes != en - b)
      throw LoadError(what + ": shape " + t.shape_str() + " of " + dt + " takes " + std::to_string(t.bytes) +
                      " bytes but data_offsets span " + std::to_string(en - b));
    t.data = base + b;
    const std::string nm = t.name;
    if (!out.emplace(nm, std::move(t)).second) throw LoadError(what + " appears in two files");
  }
}

SafetensorsModel::SafetensorsModel(const std::string& path) {
  if (!is_dir(path)) {
    const size_t slash = path.find_last_of('/');
    dir_ = slash == std::string::npos ? "." : path.substr(0, slash);
    add_file(path);
    return;
  }
  dir_ = path;
  const std::string index = path + "/model.safetensors.index.json";
  if (!exists(index)) {
    if (!exists(path + "/model.safetensors"))
      throw LoadError(path + ": holds neither model.safetensors nor model.safetensors.index.json");
    add_file(path + "/model.safetensors");
    return;
  }
  json idx;
  try {
    std::ifstream in(index);
    idx = json::parse(in);
  } catch (const json::exception& e) {
    throw LoadError(index + ": not valid JSON (" + e.what() + ")");
  }
  if (!idx.contains("weight_map") || !idx["weight_map"].is_object())
    throw LoadError(index + ": no \"weight_map\" object");
  std::set<std::string> shards;
  for (auto it = idx["weight_map"].begin(); it != idx["weight_map"].end(); ++it) {
    if (!it.value().is_string()) throw LoadError(index + ": weight_map entry '" + it.key() + "' is not a file name");
    const std::string f = it.value().get<std::string>();
    if (f.find('/') != std::string::npos || f.empty() || f[0] == '.')
      throw LoadError(index + ": shard name '" + f + "' must be a plain file name in the model directory");
    shards.insert(f);
  }
  for (const std::string& f : shards) {
    if (!exists(path + "/" + f)) throw LoadError(index + ": shard '" + f + "' is missing from " + path);
    add_file(path + "/" + f);
  }
  for (auto it = idx["weight_map"].begin(); it != idx["weight_map"].end(); ++it) {
    const TensorData* t = tensor(it.key());
    if (!t) throw LoadError(index + ": tensor '" + it.key() + "' is not in its shard " + it.value().get<std::string>());
  }
}

void SafetensorsModel::add_file(const std::string& path) {
  files_.push_back(std::make_unique<MappedFile>(path));
  parse_safetensors(files_.back()->data(), files_.back()->size(), path, tensors_);
}

const TensorData* SafetensorsModel::tensor(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

}  // namespace porta_run
