// GGUF reader (versions 2 and 3): metadata key/values, tensor directory, tensor bytes in
// place in the mapping. Every length, count and offset is checked against the file before
// use, so a truncated or hostile file raises LoadError, never reads out of bounds.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mapped_file.h"
#include "tensor_data.h"

namespace porta_run {

/// A metadata value. Scalars are kept as double and int64 (whichever the type is); arrays
/// of strings as views into the mapping, numeric arrays as doubles.
struct GgufValue {
  uint32_t type = 0;       // GGUF value type (8 = string, 9 = array, ...)
  uint32_t elem_type = 0;  // for arrays
  int64_t i = 0;
  double f = 0;
  std::string_view s;
  std::vector<std::string_view> strings;
  std::vector<double> numbers;
  uint64_t count = 0;  // array length
};

class GgufFile {
 public:
  /// Parses header, metadata and tensor directory; throws LoadError naming the file.
  explicit GgufFile(const std::string& path);
  /// Parses an in-memory image (the fuzz target); `name` is used in messages. The bytes
  /// must outlive the object.
  GgufFile(const uint8_t* data, uint64_t size, const std::string& name);

  uint32_t version() const { return version_; }
  const std::string& path() const { return name_; }
  const GgufValue* find(const std::string& key) const;
  /// Typed getters throw LoadError naming the key when it is missing or of another type.
  int64_t get_int(const std::string& key) const;
  int64_t get_int(const std::string& key, int64_t fallback) const;
  double get_float(const std::string& key, double fallback) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;

  const std::map<std::string, TensorData>& tensors() const { return tensors_; }
  const TensorData* tensor(const std::string& name) const;

 private:
  void parse(const uint8_t* data, uint64_t size);

  std::unique_ptr<MappedFile> file_;
  std::string name_;
  uint32_t version_ = 0;
  std::map<std::string, GgufValue> kv_;
  std::map<std::string, TensorData> tensors_;
};

}  // namespace porta_run
