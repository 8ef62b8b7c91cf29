// The error every checkpoint problem raises: a bad or unsupported file, a tensor whose shape
// disagrees with the config, a missing shard. porta-run exits with status 2 on it.
#pragma once

#include <stdexcept>
#include <string>

namespace porta_run {

class LoadError : public std::runtime_error {
 public:
  explicit LoadError(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace porta_run
