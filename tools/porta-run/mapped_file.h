// A read-only memory mapping of a whole file (checkpoints are read in place, never copied whole).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace porta_run {

class MappedFile {
 public:
  /// Maps `path`; throws LoadError naming the file when it cannot be opened or mapped.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace porta_run
