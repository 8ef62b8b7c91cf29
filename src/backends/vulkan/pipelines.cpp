#include "backends/vulkan/pipelines.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>

#include "backends/vulkan/shaders.h"

namespace porta::vk {

namespace {

// A blob is reused only when its header names this device, driver and cache UUID; the
// driver checks again, but some drivers crash on foreign blobs rather than ignore them.
bool header_matches(const std::vector<char>& blob, const VkPhysicalDeviceProperties& p) {
  if (blob.size() < 16 + VK_UUID_SIZE) return false;
  uint32_t len, version, vendor, device;
  std::memcpy(&len, blob.data(), 4);
  std::memcpy(&version, blob.data() + 4, 4);
  std::memcpy(&vendor, blob.data() + 8, 4);
  std::memcpy(&device, blob.data() + 12, 4);
  return len >= 16 + VK_UUID_SIZE && version == VK_PIPELINE_CACHE_HEADER_VERSION_ONE &&
         vendor == p.vendorID && device == p.deviceID &&
         std::memcmp(blob.data() + 16, p.pipelineCacheUUID, VK_UUID_SIZE) == 0;
}

}  // namespace

PipelineCache::PipelineCache(VkDevice dev, bool push_descriptors, std::string cache_file,
                             const VkPhysicalDeviceProperties& props)
    : dev_(dev), push_descriptors_(push_descriptors), file_(std::move(cache_file)), props_(props) {
  std::vector<char> blob;
  if (!file_.empty()) {
    std::ifstream in(file_, std::ios::binary);
    if (in) blob.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (!blob.empty() && !header_matches(blob, props_)) {
      log(LogLevel::warn, "vulkan: ignoring pipeline cache " + file_ + " (corrupt or from another driver)");
      blob.clear();
    }
  }
  VkPipelineCacheCreateInfo ci{VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
  ci.initialDataSize = blob.size();
  ci.pInitialData = blob.empty() ? nullptr : blob.data();
  if (vkCreatePipelineCache(dev_, &ci, nullptr, &cache_) != VK_SUCCESS) {
    ci.initialDataSize = 0;
    ci.pInitialData = nullptr;
    check(vkCreatePipelineCache(dev_, &ci, nullptr, &cache_), "vkCreatePipelineCache");
  }
  if (!blob.empty()) log(LogLevel::debug, "vulkan: pipeline cache loaded from " + file_);
}

PipelineCache::~PipelineCache() {
  save();
  for (auto& [k, p] : pipelines_) vkDestroyPipeline(dev_, p->pipeline, nullptr);
  for (auto& [k, l] : layouts_) {
    vkDestroyPipelineLayout(dev_, l.second, nullptr);
    vkDestroyDescriptorSetLayout(dev_, l.first, nullptr);
  }
  for (auto& [k, m] : modules_) vkDestroyShaderModule(dev_, m, nullptr);
  vkDestroyPipelineCache(dev_, cache_, nullptr);
}

void PipelineCache::save() {
  std::lock_guard<std::mutex> lock(mu_);
  if (file_.empty() || !dirty_) return;
  size_t n = 0;
  if (vkGetPipelineCacheData(dev_, cache_, &n, nullptr) != VK_SUCCESS || n == 0) return;
  std::vector<char> blob(n);
  if (vkGetPipelineCacheData(dev_, cache_, &n, blob.data()) != VK_SUCCESS) return;
  const std::string tmp = file_ + ".tmp" + std::to_string(reinterpret_cast<uintptr_t>(this));
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(blob.data(), static_cast<std::streamsize>(n));
    if (!out) {
      log(LogLevel::warn, "vulkan: could not write pipeline cache " + tmp);
      std::remove(tmp.c_str());
      return;
    }
  }
  if (std::rename(tmp.c_str(), file_.c_str()) != 0) {
    std::remove(tmp.c_str());
    log(LogLevel::warn, "vulkan: could not replace pipeline cache " + file_);
    return;
  }
  dirty_ = false;
}

VkDescriptorSetLayout PipelineCache::set_layout(uint32_t bindings) {
  auto it = layouts_.find(bindings);
  if (it != layouts_.end()) return it->second.first;
  std::vector<VkDescriptorSetLayoutBinding> b(bindings);
  for (uint32_t i = 0; i < bindings; ++i) {
    b[i].binding = i;
    b[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    b[i].descriptorCount = 1;
    b[i].stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
  }
  VkDescriptorSetLayoutCreateInfo ci{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
  ci.flags = push_descriptors_ ? VK_DESCRIPTOR_SET_LAYOUT_CREATE_PUSH_DESCRIPTOR_BIT_KHR : 0;
  ci.bindingCount = bindings;
  ci.pBindings = b.data();
  VkDescriptorSetLayout dsl;
  check(vkCreateDescriptorSetLayout(dev_, &ci, nullptr, &dsl), "vkCreateDescriptorSetLayout");
  VkPushConstantRange pr{VK_SHADER_STAGE_COMPUTE_BIT, 0, kPushBytes};
  VkPipelineLayoutCreateInfo li{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
  li.setLayoutCount = 1;
  li.pSetLayouts = &dsl;
  li.pushConstantRangeCount = 1;
  li.pPushConstantRanges = &pr;
  VkPipelineLayout pl;
  const VkResult r = vkCreatePipelineLayout(dev_, &li, nullptr, &pl);
  if (r != VK_SUCCESS) {
    vkDestroyDescriptorSetLayout(dev_, dsl, nullptr);
    check(r, "vkCreatePipelineLayout");
  }
  layouts_[bindings] = {dsl, pl};
  return dsl;
}

Spec::Spec(std::initializer_list<uint32_t> l) {
  if (l.size() > kMax) throw Error(Errc::internal, "vulkan: more than 16 specialization constants");
  for (uint32_t x : l) v[n++] = x;
}

Spec::Spec(const std::vector<uint32_t>& s) {
  if (s.size() > kMax) throw Error(Errc::internal, "vulkan: more than 16 specialization constants");
  for (uint32_t x : s) v[n++] = x;
}

bool Spec::operator==(const Spec& o) const {
  if (n != o.n) return false;
  for (uint32_t i = 0; i < n; ++i)
    if (v[i] != o.v[i]) return false;
  return true;
}

namespace {
uint64_t key_hash(const char* name, uint32_t bindings, const Spec& spec) {
  uint64_t h = 1469598103934665603ull ^ bindings;  // FNV-1a over the name and the constants
  for (const char* c = name; *c; ++c) h = (h ^ static_cast<unsigned char>(*c)) * 1099511628211ull;
  for (uint32_t i = 0; i < spec.n; ++i) h = (h ^ spec.v[i]) * 1099511628211ull;
  return h;
}
}  // namespace

const Pipeline* PipelineCache::find(uint64_t hash, const char* name, uint32_t bindings,
                                    const Spec& spec) const {
  for (size_t i = hash & (kSlots - 1), probes = 0; probes < kSlots; i = (i + 1) & (kSlots - 1), ++probes) {
    const Pipeline* p = slots_[i].load(std::memory_order_acquire);
    if (p == nullptr) return nullptr;
    if (p->hash == hash && p->bindings == bindings && p->spec == spec && p->shader == name) return p;
  }
  return nullptr;
}

const Pipeline& PipelineCache::get(const char* name, uint32_t bindings, const Spec& spec) {
  const uint64_t hash = key_hash(name, bindings, spec);
  if (const Pipeline* p = find(hash, name, bindings, spec)) return *p;
  return create(name, bindings, spec, hash);
}

const Pipeline& PipelineCache::create(const char* name, uint32_t bindings, const Spec& spec, uint64_t hash) {
  std::string key = name;
  for (uint32_t i = 0; i < spec.n; ++i) key += ":" + std::to_string(spec.v[i]);
  key += "/" + std::to_string(bindings);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pipelines_.find(key);
  if (it != pipelines_.end()) return *it->second;

  const EmbeddedShader* sh = find_shader(name);
  if (sh == nullptr)
    throw Error(Errc::unsupported,
                std::string("vulkan: shader '") + name +
                    "' was not compiled into this build (glslc lacked a needed extension)");
  VkShaderModule module;
  auto mit = modules_.find(name);
  if (mit != modules_.end()) {
    module = mit->second;
  } else {
    std::vector<uint32_t> words((sh->bytes + 3) / 4);
    std::memcpy(words.data(), sh->spirv, sh->bytes);
    VkShaderModuleCreateInfo mi{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
    mi.codeSize = sh->bytes;
    mi.pCode = words.data();
    check(vkCreateShaderModule(dev_, &mi, nullptr, &module),
          std::string("vkCreateShaderModule for shader ") + name);
    modules_[name] = module;
  }
  auto p = std::make_unique<Pipeline>();
  p->set_layout = set_layout(bindings);
  p->layout = layouts_[bindings].second;
  p->bindings = bindings;
  p->name = key;
  p->shader = name;
  p->spec = spec;
  p->hash = hash;

  std::vector<VkSpecializationMapEntry> entries(spec.n);
  for (uint32_t i = 0; i < spec.n; ++i) entries[i] = {i, i * 4u, 4};
  VkSpecializationInfo si{spec.n, entries.data(), spec.n * 4u, spec.v};
  VkComputePipelineCreateInfo ci{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
  ci.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
  ci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
  ci.stage.module = module;
  ci.stage.pName = "main";
  ci.stage.pSpecializationInfo = spec.n == 0 ? nullptr : &si;
  ci.layout = p->layout;
  const VkResult r = vkCreateComputePipelines(dev_, cache_, 1, &ci, nullptr, &p->pipeline);
  if (r != VK_SUCCESS)
    throw Error(result_errc(r) == Errc::internal ? Errc::internal : result_errc(r),
                std::string("vulkan: creating the compute pipeline for shader '") + key + "' failed with " +
                    result_name(r) +
                    "; the driver rejected the shader (set PORTA_LOG_LEVEL=debug for details)");
  dirty_ = true;
  log(LogLevel::debug, "vulkan: created pipeline " + key);
  const Pipeline& out = *pipelines_.emplace(key, std::move(p)).first->second;
  // Publish in the lock-free index (writers are serialised by mu_).
  for (size_t i = hash & (kSlots - 1), probes = 0; probes < kSlots; i = (i + 1) & (kSlots - 1), ++probes) {
    if (slots_[i].load(std::memory_order_relaxed) == nullptr) {
      slots_[i].store(&out, std::memory_order_release);
      break;
    }
  }
  return out;
}

}  // namespace porta::vk
