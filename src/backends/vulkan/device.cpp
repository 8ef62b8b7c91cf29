#include "backends/vulkan/device.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <thread>

#include "backends/vulkan/stream.h"
#include "core/nominal_peaks.h"

namespace porta::vk {
namespace {

bool has_extension(const std::vector<VkExtensionProperties>& exts, const char* name) {
  for (auto& e : exts)
    if (std::strcmp(e.extensionName, name) == 0) return true;
  return false;
}

std::string vendor_name(uint32_t id) {
  switch (id) {
    case 0x10de: return "NVIDIA";
    case 0x1002: return "AMD";
    case 0x8086: return "Intel";
    case 0x13b5: return "ARM";
    case 0x5143: return "Qualcomm";
    case 0x1ed5: return "Moore Threads";
    case 0x10005: return "Mesa";
    default: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "vendor 0x%04x", id);
      return buf;
    }
  }
}

// Mesa's llvmpipe: by driver id where the device reports one, else by its name.
bool is_llvmpipe(VkPhysicalDevice pd, const VkPhysicalDeviceProperties& props, uint32_t instance_api) {
  if (props.apiVersion >= VK_API_VERSION_1_2 && instance_api >= VK_API_VERSION_1_2) {
    VkPhysicalDeviceDriverProperties drv{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
    VkPhysicalDeviceProperties2 p2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
    p2.pNext = &drv;
    vkGetPhysicalDeviceProperties2(pd, &p2);
    if (drv.driverID == VK_DRIVER_ID_MESA_LLVMPIPE) return true;
  }
  return std::strncmp(props.deviceName, "llvmpipe", 8) == 0;
}

std::string hex(const uint8_t* p, size_t n) {
  std::string s;
  char buf[3];
  for (size_t i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", p[i]);
    s += buf;
  }
  return s;
}

// Nominal peaks from the shared table (GPUs porta is benchmarked on); others get a rough
// estimate from the host (CPU devices) or none.
void nominal_peaks(DeviceInfo& info, bool cpu_device) {
  if (const peaks::NominalPeak* r = peaks::find_nominal_peak(info.name)) {  // core/nominal_peaks.h
    info.peak_tflops_f32 = r->tflops_f32;
    info.peak_tflops_f16 = r->tflops_f16;
    info.peak_gbps = r->gbps;
    info.peak_source = "nominal (datasheet)";
    return;
  }
  if (cpu_device) {
    // 8-wide FMA per core at ~2.5 GHz: what llvmpipe can reach at best.
    const double cores = std::max(1u, std::thread::hardware_concurrency());
    info.peak_tflops_f32 = cores * 2.5e9 * 16 / 1e12;
    info.peak_tflops_f16 = info.peak_tflops_f32;
    info.peak_gbps = 20;
    info.peak_source = "estimate (host cores)";
    return;
  }
  info.peak_source = "unknown";
}

// "2.0 GiB device-local + 16.0 GiB host" for porta-info.
std::string heaps_summary(VkPhysicalDevice pd) {
  VkPhysicalDeviceMemoryProperties mp;
  vkGetPhysicalDeviceMemoryProperties(pd, &mp);
  std::string s;
  for (uint32_t i = 0; i < mp.memoryHeapCount; ++i) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s%.1f GiB %s", i ? " + " : "",
                  static_cast<double>(mp.memoryHeaps[i].size) / (1ull << 30),
                  (mp.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) ? "device-local" : "host");
    s += buf;
  }
  return s;
}

}  // namespace

VulkanBuffer::~VulkanBuffer() { dev_.retire(alloc_); }

VulkanDevice::VulkanDevice(std::shared_ptr<Instance> instance, VkPhysicalDevice pd, uint32_t family,
                           const Settings& s)
    : instance_(std::move(instance)), pd_(pd), family_(family), settings_(s) {
  VkPhysicalDeviceProperties props;
  vkGetPhysicalDeviceProperties(pd, &props);
  uint32_t n = 0;
  vkEnumerateDeviceExtensionProperties(pd, nullptr, &n, nullptr);
  std::vector<VkExtensionProperties> exts(n);
  vkEnumerateDeviceExtensionProperties(pd, nullptr, &n, exts.data());

  // Features and properties porta looks at.
  VkPhysicalDeviceShaderFloat16Int8Features f16i8{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
  VkPhysicalDevice16BitStorageFeatures s16{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
  VkPhysicalDevice8BitStorageFeatures s8{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_8BIT_STORAGE_FEATURES};
  VkPhysicalDeviceVulkanMemoryModelFeatures mm{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_MEMORY_MODEL_FEATURES};
  VkPhysicalDeviceCooperativeMatrixFeaturesNV cm{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV};
  const bool has_f16i8 = has_extension(exts, VK_KHR_SHADER_FLOAT16_INT8_EXTENSION_NAME);
  const bool has_s8 = has_extension(exts, VK_KHR_8BIT_STORAGE_EXTENSION_NAME);
  const bool has_mm = has_extension(exts, VK_KHR_VULKAN_MEMORY_MODEL_EXTENSION_NAME);
  const bool has_cm = has_extension(exts, VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME);
  VkPhysicalDeviceFeatures2 f2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
  void** tail = &f2.pNext;
  auto chain = [&](auto& st) {
    *tail = &st;
    tail = &st.pNext;
  };
  chain(s16);
  if (has_f16i8) chain(f16i8);
  if (has_s8) chain(s8);
  if (has_mm) chain(mm);
  if (has_cm) chain(cm);
  vkGetPhysicalDeviceFeatures2(pd, &f2);

  VkPhysicalDeviceSubgroupProperties sub{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
  VkPhysicalDeviceProperties2 p2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
  p2.pNext = &sub;
  vkGetPhysicalDeviceProperties2(pd, &p2);

  caps_.api_version = props.apiVersion;
  caps_.subgroup_size = sub.subgroupSize;
  caps_.subgroup_arithmetic = (sub.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                              (sub.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT);
  caps_.push_descriptors = s.push_descriptors && has_extension(exts, VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME);
  caps_.fp16_arithmetic = has_f16i8 && f16i8.shaderFloat16;
  caps_.int8_arithmetic = has_f16i8 && f16i8.shaderInt8;
  caps_.storage16 = s16.storageBuffer16BitAccess;
  caps_.storage8 = has_s8 && s8.storageBuffer8BitAccess;
  caps_.software = props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;
  if (has_cm && cm.cooperativeMatrix && caps_.fp16_arithmetic && caps_.storage16 && has_mm &&
      mm.vulkanMemoryModel) {
    auto get = reinterpret_cast<PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesNV>(
        vkGetInstanceProcAddr(instance_->handle(), "vkGetPhysicalDeviceCooperativeMatrixPropertiesNV"));
    uint32_t k = 0;
    if (get && get(pd, &k, nullptr) == VK_SUCCESS && k > 0) {
      std::vector<VkCooperativeMatrixPropertiesNV> cps(k,
                                                       {VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_NV});
      get(pd, &k, cps.data());
      for (auto& c : cps)
        if (c.MSize == 16 && c.NSize == 16 && c.KSize == 16 && c.AType == VK_COMPONENT_TYPE_FLOAT16_NV &&
            c.BType == VK_COMPONENT_TYPE_FLOAT16_NV && c.CType == VK_COMPONENT_TYPE_FLOAT32_NV &&
            c.DType == VK_COMPONENT_TYPE_FLOAT32_NV && c.scope == VK_SCOPE_SUBGROUP_NV)
          caps_.coopmat_nv = true;
    }
  }
  caps_.coopmat_enabled = PORTA_VULKAN_HAVE_COOPMAT && caps_.coopmat_nv && s.coopmat != "0";
  caps_.max_shared = props.limits.maxComputeSharedMemorySize;
  caps_.max_storage_buffers = props.limits.maxPerStageDescriptorStorageBuffers;
  caps_.max_invocations = props.limits.maxComputeWorkGroupInvocations;
  for (int i = 0; i < 3; ++i) {
    caps_.max_groups[i] = props.limits.maxComputeWorkGroupCount[i];
    if (s.max_groups > 0) caps_.max_groups[i] = std::min(caps_.max_groups[i], s.max_groups);
  }
  if (is_llvmpipe(pd, props, instance_->api_version()))
    caps_.loop_limit = 65535;  // gallivm's LP_MAX_TGSI_LOOP_ITERATIONS
  caps_.timestamp_period_ns = props.limits.timestampPeriod;
  {
    uint32_t nq = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, nullptr);
    std::vector<VkQueueFamilyProperties> qf(nq);
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, qf.data());
    caps_.timestamp_bits =
        props.limits.timestampComputeAndGraphics || family < nq ? qf[family].timestampValidBits : 0;
  }
  tuning_ = tuning_for(device_key(props.vendorID, caps_.software, props.deviceName), caps_.max_shared,
                       caps_.max_invocations, s.tuning);

  // Logical device: one compute queue; only the extensions and features porta uses.
  std::vector<const char*> dev_exts;
  if (caps_.push_descriptors) dev_exts.push_back(VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME);
  VkPhysicalDeviceFeatures2 enable{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
  VkPhysicalDeviceShaderFloat16Int8Features en_f16{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
  VkPhysicalDevice16BitStorageFeatures en_s16{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
  VkPhysicalDeviceVulkanMemoryModelFeatures en_mm{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_MEMORY_MODEL_FEATURES};
  VkPhysicalDeviceCooperativeMatrixFeaturesNV en_cm{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV};
  if (caps_.coopmat_enabled) {
    dev_exts.push_back(VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME);
    dev_exts.push_back(VK_KHR_SHADER_FLOAT16_INT8_EXTENSION_NAME);
    dev_exts.push_back(VK_KHR_VULKAN_MEMORY_MODEL_EXTENSION_NAME);
    en_f16.shaderFloat16 = VK_TRUE;
    en_s16.storageBuffer16BitAccess = VK_TRUE;
    en_mm.vulkanMemoryModel = VK_TRUE;
    en_cm.cooperativeMatrix = VK_TRUE;
    enable.pNext = &en_f16;
    en_f16.pNext = &en_s16;
    en_s16.pNext = &en_mm;
    en_mm.pNext = &en_cm;
  }
  const float priority = 1.0f;
  VkDeviceQueueCreateInfo qi{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
  qi.queueFamilyIndex = family;
  qi.queueCount = 1;
  qi.pQueuePriorities = &priority;
  VkDeviceCreateInfo di{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
  di.pNext = &enable;
  di.queueCreateInfoCount = 1;
  di.pQueueCreateInfos = &qi;
  di.enabledExtensionCount = static_cast<uint32_t>(dev_exts.size());
  di.ppEnabledExtensionNames = dev_exts.data();
  check(vkCreateDevice(pd, &di, nullptr, &dev_), std::string("vkCreateDevice for ") + props.deviceName);
  vkGetDeviceQueue(dev_, family, 0, &queue_);
  if (caps_.push_descriptors)
    push_descriptor_ = reinterpret_cast<PFN_vkCmdPushDescriptorSetKHR>(
        vkGetDeviceProcAddr(dev_, "vkCmdPushDescriptorSetKHR"));
  caps_.push_descriptors = push_descriptor_ != nullptr;

  try {
    Allocator::Limits lim;
    lim.max_binding = props.limits.maxStorageBufferRange;
    VkPhysicalDeviceMaintenance3Properties m3{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
    VkPhysicalDeviceProperties2 pm{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
    pm.pNext = &m3;
    vkGetPhysicalDeviceProperties2(pd, &pm);
    lim.max_allocation = m3.maxMemoryAllocationSize;
    lim.alignment = std::max<VkDeviceSize>(256, props.limits.minStorageBufferOffsetAlignment);
    lim.block_bytes = s.block_mib << 20;
    lim.allow_unified = s.unified;
    allocator_ = std::make_unique<Allocator>(pd, dev_, lim);

    std::string cache_file;
    if (!s.cache_dir.empty()) {
      ::mkdir(s.cache_dir.c_str(), 0755);
      char name[160];
      std::snprintf(name, sizeof name, "/vulkan-%04x-%04x-%08x-", props.vendorID, props.deviceID,
                    props.driverVersion);
      cache_file = s.cache_dir + name + hex(props.pipelineCacheUUID, VK_UUID_SIZE) + ".bin";
    }
    pipelines_ = std::make_unique<PipelineCache>(dev_, caps_.push_descriptors, cache_file, props);
  } catch (...) {
    pipelines_.reset();
    allocator_.reset();
    vkDestroyDevice(dev_, nullptr);
    throw;
  }
  fill_info(pd);
}

VulkanDevice::~VulkanDevice() {
  vkDeviceWaitIdle(dev_);
  {
    std::lock_guard<std::mutex> lock(batch_mu_);
    for (auto& r : retired_) allocator_->free(r.second);
    retired_.clear();
  }
  pipelines_.reset();
  allocator_.reset();
  vkDestroyDevice(dev_, nullptr);
}

void VulkanDevice::fill_info(VkPhysicalDevice pd) {
  VkPhysicalDeviceIDProperties idp{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_ID_PROPERTIES};
  VkPhysicalDeviceDriverProperties drv{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
  VkPhysicalDeviceProperties2 p2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
  p2.pNext = &idp;
  const bool driver_props =
      instance_->api_version() >= VK_API_VERSION_1_2 && caps_.api_version >= VK_API_VERSION_1_2;
  if (driver_props) idp.pNext = &drv;
  vkGetPhysicalDeviceProperties2(pd, &p2);
  const auto& p = p2.properties;
  info_.name = p.deviceName;
  info_.vendor = vendor_name(p.vendorID);
  char ver[64];
  std::snprintf(ver, sizeof ver, "Vulkan %u.%u.%u", VK_API_VERSION_MAJOR(p.apiVersion),
                VK_API_VERSION_MINOR(p.apiVersion), VK_API_VERSION_PATCH(p.apiVersion));
  info_.driver = driver_props ? std::string(drv.driverName) + " " + drv.driverInfo + ", " + ver
                              : std::string(ver) + ", driver " + std::to_string(p.driverVersion);
  // Capabilities DeviceInfo has no field for, so porta-info still lists them.
  info_.driver += std::string(" [fp16 arith ") + (caps_.fp16_arithmetic ? "yes" : "no") + ", bf16 arith no" +
                  ", int8 arith " + (caps_.int8_arithmetic ? "yes" : "no") + ", 16-bit storage " +
                  (caps_.storage16 ? "yes" : "no") + ", coopmat " +
                  (caps_.coopmat_nv ? (caps_.coopmat_enabled ? "NV (used)" : "NV (off)") : "none") +
                  ", push descriptors " + (caps_.push_descriptors ? "yes" : "no") + ", tuning " +
                  tuning_.row + ", memory heaps " + heaps_summary(pd) + "]";
  switch (p.deviceType) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: info_.type = DeviceType::discrete_gpu; break;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: info_.type = DeviceType::integrated_gpu; break;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: info_.type = DeviceType::cpu; break;
    default: info_.type = DeviceType::other; break;
  }
  info_.software = caps_.software;
  bool any = false;
  for (uint8_t b : idp.deviceUUID) any = any || b != 0;
  if (any) info_.uuid = hex(idp.deviceUUID, VK_UUID_SIZE);
  info_.memory_bytes = allocator_->device_local_bytes();
  info_.max_allocation_bytes =
      std::min<uint64_t>(allocator_->limits().max_binding, allocator_->limits().max_allocation);
  // All five dtypes: the shaders convert f16/bf16/i8 with integer ops, so no 16/8-bit
  // storage or arithmetic feature is needed.
  info_.dtypes = dtype_bit(DType::f32) | dtype_bit(DType::f16) | dtype_bit(DType::bf16) |
                 dtype_bit(DType::i8) | dtype_bit(DType::i32);
  info_.compute_units = caps_.software ? static_cast<int>(std::thread::hardware_concurrency()) : 0;
  info_.subgroup_size = static_cast<int>(caps_.subgroup_size);
  info_.shared_memory_bytes = caps_.max_shared;
  info_.max_workgroup_size = static_cast<int>(caps_.max_invocations);
  info_.matrix_units = caps_.coopmat_enabled;
  nominal_peaks(info_, caps_.software);
}

// The serving ops take their caches with any strides but everything else contiguous (their
// push constants hold the caches' strides only); core stages strided q/out/index tensors.
bool VulkanDevice::accepts_strided(Op op) const {
  return op != Op::kv_cache_write && op != Op::copy_blocks && op != Op::paged_attention;
}

bool VulkanDevice::supports(Op op, DType in, DType out) const {
  (void)op;
  const uint32_t all = info_.dtypes;
  return (all & dtype_bit(in)) && (all & dtype_bit(out));
}

// Every format with every float dtype: the quant shaders decode with integer ops on uint
// words (no 8/16-bit storage feature), as the other shaders handle f16/bf16.
bool VulkanDevice::supports_quant(Op op, QuantFormat f, DType act) const {
  (void)op;
  (void)f;
  return (act == DType::f32 || act == DType::f16 || act == DType::bf16) && (info_.dtypes & dtype_bit(act));
}

std::unique_ptr<Buffer> VulkanDevice::allocate(uint64_t bytes) {
  if (bytes > info_.memory_bytes)
    throw Error(Errc::out_of_memory, "vulkan: allocation of " + std::to_string(bytes) + " bytes exceeds " +
                                         info_.name + "'s memory (" + std::to_string(info_.memory_bytes) +
                                         " bytes); free tensors or use smaller shapes");
  Allocation a = allocator_->allocate(Pool::device, bytes, "a tensor buffer");
  return std::make_unique<VulkanBuffer>(*this, a, bytes);
}

std::unique_ptr<Queue> VulkanDevice::create_queue() { return std::make_unique<VulkanQueue>(*this); }

std::unique_ptr<backend::Event> VulkanDevice::create_event() { return std::make_unique<VulkanEvent>(*this); }

uint64_t VulkanDevice::begin_batch() {
  std::lock_guard<std::mutex> lock(batch_mu_);
  const uint64_t id = next_batch_++;
  open_batches_.insert(id);
  return id;
}

void VulkanDevice::end_batch(uint64_t id) {
  std::lock_guard<std::mutex> lock(batch_mu_);
  open_batches_.erase(id);
  reap_locked();
}

void VulkanDevice::retire(const Allocation& a) {
  std::lock_guard<std::mutex> lock(batch_mu_);
  if (open_batches_.empty()) {
    allocator_->free(a);
    return;
  }
  retired_.emplace_back(next_batch_, a);
}

void VulkanDevice::reap_locked() {
  const uint64_t oldest = open_batches_.empty() ? UINT64_MAX : *open_batches_.begin();
  size_t keep = 0;
  for (auto& r : retired_) {
    if (r.first <= oldest)
      allocator_->free(r.second);
    else
      retired_[keep++] = r;
  }
  retired_.resize(keep);
}

void VulkanDevice::check_validation(const char* where) {
  if (!instance_->has_messages()) return;
  auto msgs = instance_->take_messages();
  if (msgs.empty()) return;
  std::string all;
  for (auto& m : msgs) all += "\n  " + m;
  throw Error(Errc::internal, std::string("vulkan: the validation layer reported ") +
                                  std::to_string(msgs.size()) + " message(s) by " + where + ":" + all);
}

}  // namespace porta::vk
