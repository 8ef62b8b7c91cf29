// The SPIR-V of kernels/vulkan/*.comp, compiled by glslc at build time and embedded by
// cmake/PortaEmbedShaders.cmake (one entry per dtype/feature variant).
#pragma once

#include <cstddef>

namespace porta::vk {

struct EmbeddedShader {
  const char* name;
  const unsigned char* spirv;
  size_t bytes;
};
extern const EmbeddedShader kEmbeddedShaders[];
extern const size_t kEmbeddedShaderCount;

/// The embedded shader called `name`, or null.
const EmbeddedShader* find_shader(const char* name);

}  // namespace porta::vk
