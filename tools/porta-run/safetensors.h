// Hugging Face safetensors: one file (8-byte header length, JSON header, data) or a
// directory with model.safetensors.index.json naming the shard of every tensor. All offsets
// and shapes are checked against the file before any tensor is used.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "mapped_file.h"
#include "tensor_data.h"

namespace porta_run {

/// Parses one safetensors image (header + data) into `out`; throws LoadError naming `name`.
void parse_safetensors(const uint8_t* data, uint64_t size, const std::string& name,
                       std::map<std::string, TensorData>& out);

class SafetensorsModel {
 public:
  /// `path`: a .safetensors file, or a directory holding model.safetensors or
  /// model.safetensors.index.json and its shards.
  explicit SafetensorsModel(const std::string& path);

  const std::map<std::string, TensorData>& tensors() const { return tensors_; }
  const TensorData* tensor(const std::string& name) const;
  const std::string& dir() const { return dir_; }

 private:
  void add_file(const std::string& path);

  std::string dir_;
  std::vector<std::unique_ptr<MappedFile>> files_;
  std::map<std::string, TensorData> tensors_;
};

}  // namespace porta_run
