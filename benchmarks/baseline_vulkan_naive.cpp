// Benchmark reference for the Vulkan backend: the naive one-invocation-per-output f32 GEMM
// (kernels/vulkan/gemm_naive_reference.comp) run on the same physical device through its
// own minimal Vulkan objects, so porta-bench can report porta's tiled GEMM against it in
// the same run. It is never used by porta's ops.
#include <vulkan/vulkan.h>

#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "backends/vulkan/push.h"
#include "backends/vulkan/shaders.h"
#include "baseline.h"

namespace porta_bench {
namespace {

void vk(VkResult r, const char* what) {
  if (r != VK_SUCCESS)
    throw std::runtime_error(std::string("vulkan-naive baseline: ") + what + " failed (" + std::to_string(r) +
                             ")");
}

std::string uuid_hex(const uint8_t* p) {
  std::string s;
  char buf[3];
  for (uint32_t i = 0; i < VK_UUID_SIZE; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", p[i]);
    s += buf;
  }
  return s;
}

// Instance, device and pipeline for the naive kernel on the device porta selected.
struct Context {
  VkInstance instance = VK_NULL_HANDLE;
  VkPhysicalDevice pd = VK_NULL_HANDLE;
  VkDevice dev = VK_NULL_HANDLE;
  VkQueue queue = VK_NULL_HANDLE;
  uint32_t family = 0;
  VkDescriptorSetLayout dsl = VK_NULL_HANDLE;
  VkPipelineLayout layout = VK_NULL_HANDLE;
  VkPipeline pipeline = VK_NULL_HANDLE;
  VkShaderModule module = VK_NULL_HANDLE;
  std::string name;

  explicit Context(const porta::Device& device) {
    VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.apiVersion = VK_API_VERSION_1_1;
    VkInstanceCreateInfo ici{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    ici.pApplicationInfo = &app;
    vk(vkCreateInstance(&ici, nullptr, &instance), "vkCreateInstance");
    uint32_t n = 0;
    vkEnumeratePhysicalDevices(instance, &n, nullptr);
    std::vector<VkPhysicalDevice> pds(n);
    vkEnumeratePhysicalDevices(instance, &n, pds.data());
    for (VkPhysicalDevice p : pds) {
      VkPhysicalDeviceIDProperties id{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_ID_PROPERTIES};
      VkPhysicalDeviceProperties2 p2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
      p2.pNext = &id;
      vkGetPhysicalDeviceProperties2(p, &p2);
      if (uuid_hex(id.deviceUUID) == device.info().uuid || p2.properties.deviceName == device.info().name) {
        pd = p;
        name = p2.properties.deviceName;
        break;
      }
    }
    if (pd == VK_NULL_HANDLE) throw std::runtime_error("vulkan-naive baseline: device not found");
    uint32_t nq = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, nullptr);
    std::vector<VkQueueFamilyProperties> qf(nq);
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, qf.data());
    while (family < nq && !(qf[family].queueFlags & VK_QUEUE_COMPUTE_BIT)) ++family;
    const float prio = 1;
    VkDeviceQueueCreateInfo qi{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
    qi.queueFamilyIndex = family;
    qi.queueCount = 1;
    qi.pQueuePriorities = &prio;
    VkDeviceCreateInfo di{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
    di.queueCreateInfoCount = 1;
    di.pQueueCreateInfos = &qi;
    vk(vkCreateDevice(pd, &di, nullptr, &dev), "vkCreateDevice");
    vkGetDeviceQueue(dev, family, 0, &queue);

    VkDescriptorSetLayoutBinding b[3];
    for (uint32_t i = 0; i < 3; ++i)
      b[i] = {i, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, nullptr};
    VkDescriptorSetLayoutCreateInfo dci{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
    dci.bindingCount = 3;
    dci.pBindings = b;
    vk(vkCreateDescriptorSetLayout(dev, &dci, nullptr, &dsl), "vkCreateDescriptorSetLayout");
    VkPushConstantRange pr{VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof(porta::vk::GemmNaivePush)};
    VkPipelineLayoutCreateInfo lci{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
    lci.setLayoutCount = 1;
    lci.pSetLayouts = &dsl;
    lci.pushConstantRangeCount = 1;
    lci.pPushConstantRanges = &pr;
    vk(vkCreatePipelineLayout(dev, &lci, nullptr, &layout), "vkCreatePipelineLayout");
    const porta::vk::EmbeddedShader* sh = porta::vk::find_shader("gemm_naive_reference");
    if (!sh) throw std::runtime_error("vulkan-naive baseline: shader missing");
    std::vector<uint32_t> words((sh->bytes + 3) / 4);
    std::memcpy(words.data(), sh->spirv, sh->bytes);
    VkShaderModuleCreateInfo mci{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
    mci.codeSize = sh->bytes;
    mci.pCode = words.data();
    vk(vkCreateShaderModule(dev, &mci, nullptr, &module), "vkCreateShaderModule");
    VkComputePipelineCreateInfo pci{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
    pci.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
    pci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
    pci.stage.module = module;
    pci.stage.pName = "main";
    pci.layout = layout;
    vk(vkCreateComputePipelines(dev, VK_NULL_HANDLE, 1, &pci, nullptr, &pipeline),
       "vkCreateComputePipelines");
  }
  ~Context() {
    vkDestroyPipeline(dev, pipeline, nullptr);
    vkDestroyShaderModule(dev, module, nullptr);
    vkDestroyPipelineLayout(dev, layout, nullptr);
    vkDestroyDescriptorSetLayout(dev, dsl, nullptr);
    vkDestroyDevice(dev, nullptr);
    vkDestroyInstance(instance, nullptr);
  }
};

// One problem: three device-local buffers filled with 1.0f by the device, a recorded
// command buffer, a fence; run() submits and waits.
class NaiveCase final : public BaselineCase {
 public:
  NaiveCase(Context& c, uint32_t m, uint32_t n, uint32_t k) : c_(c) {
    const VkDeviceSize sizes[3] = {VkDeviceSize{m} * k * 4, VkDeviceSize{k} * n * 4, VkDeviceSize{m} * n * 4};
    VkPhysicalDeviceMemoryProperties mp;
    vkGetPhysicalDeviceMemoryProperties(c.pd, &mp);
    for (int i = 0; i < 3; ++i) {
      VkBufferCreateInfo bi{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
      bi.size = sizes[i];
      bi.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
      vk(vkCreateBuffer(c.dev, &bi, nullptr, &buf_[i]), "vkCreateBuffer");
      VkMemoryRequirements req;
      vkGetBufferMemoryRequirements(c.dev, buf_[i], &req);
      uint32_t type = UINT32_MAX;
      for (uint32_t t = 0; t < mp.memoryTypeCount && type == UINT32_MAX; ++t)
        if ((req.memoryTypeBits & (1u << t)) &&
            (mp.memoryTypes[t].propertyFlags & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT))
          type = t;
      for (uint32_t t = 0; t < mp.memoryTypeCount && type == UINT32_MAX; ++t)
        if (req.memoryTypeBits & (1u << t)) type = t;
      VkMemoryAllocateInfo ai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
      ai.allocationSize = req.size;
      ai.memoryTypeIndex = type;
      vk(vkAllocateMemory(c.dev, &ai, nullptr, &mem_[i]), "vkAllocateMemory");
      vk(vkBindBufferMemory(c.dev, buf_[i], mem_[i], 0), "vkBindBufferMemory");
    }
    VkDescriptorPoolSize ps{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 3};
    VkDescriptorPoolCreateInfo dpi{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
    dpi.maxSets = 1;
    dpi.poolSizeCount = 1;
    dpi.pPoolSizes = &ps;
    vk(vkCreateDescriptorPool(c.dev, &dpi, nullptr, &pool_), "vkCreateDescriptorPool");
    VkDescriptorSetAllocateInfo dai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
    dai.descriptorPool = pool_;
    dai.descriptorSetCount = 1;
    dai.pSetLayouts = &c.dsl;
    VkDescriptorSet set;
    vk(vkAllocateDescriptorSets(c.dev, &dai, &set), "vkAllocateDescriptorSets");
    VkDescriptorBufferInfo info[3];
    VkWriteDescriptorSet w[3];
    for (uint32_t i = 0; i < 3; ++i) {
      info[i] = {buf_[i], 0, VK_WHOLE_SIZE};
      w[i] = VkWriteDescriptorSet{VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
      w[i].dstSet = set;
      w[i].dstBinding = i;
      w[i].descriptorCount = 1;
      w[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
      w[i].pBufferInfo = &info[i];
    }
    vkUpdateDescriptorSets(c.dev, 3, w, 0, nullptr);
    VkCommandPoolCreateInfo cpi{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    cpi.queueFamilyIndex = c.family;
    vk(vkCreateCommandPool(c.dev, &cpi, nullptr, &cmd_pool_), "vkCreateCommandPool");
    VkCommandBufferAllocateInfo cai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    cai.commandPool = cmd_pool_;
    cai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    cai.commandBufferCount = 2;
    VkCommandBuffer cbs[2];
    vk(vkAllocateCommandBuffers(c.dev, &cai, cbs), "vkAllocateCommandBuffers");
    fill_cb_ = cbs[0];
    cb_ = cbs[1];
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    vk(vkBeginCommandBuffer(fill_cb_, &bi), "vkBeginCommandBuffer");
    for (int i = 0; i < 2; ++i) vkCmdFillBuffer(fill_cb_, buf_[i], 0, VK_WHOLE_SIZE, 0x3f800000u);
    vk(vkEndCommandBuffer(fill_cb_), "vkEndCommandBuffer");
    vk(vkBeginCommandBuffer(cb_, &bi), "vkBeginCommandBuffer");
    vkCmdBindPipeline(cb_, VK_PIPELINE_BIND_POINT_COMPUTE, c.pipeline);
    vkCmdBindDescriptorSets(cb_, VK_PIPELINE_BIND_POINT_COMPUTE, c.layout, 0, 1, &set, 0, nullptr);
    const porta::vk::GemmNaivePush pc{m, n, k};
    vkCmdPushConstants(cb_, c.layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof pc, &pc);
    vkCmdDispatch(cb_, (n + 15) / 16, (m + 15) / 16, 1);
    vk(vkEndCommandBuffer(cb_), "vkEndCommandBuffer");
    VkFenceCreateInfo fi{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    vk(vkCreateFence(c.dev, &fi, nullptr, &fence_), "vkCreateFence");
    submit(fill_cb_);
  }
  ~NaiveCase() override {
    vkDeviceWaitIdle(c_.dev);
    vkDestroyFence(c_.dev, fence_, nullptr);
    vkDestroyCommandPool(c_.dev, cmd_pool_, nullptr);
    vkDestroyDescriptorPool(c_.dev, pool_, nullptr);
    for (int i = 0; i < 3; ++i) {
      vkDestroyBuffer(c_.dev, buf_[i], nullptr);
      vkFreeMemory(c_.dev, mem_[i], nullptr);
    }
  }
  void run() override { submit(cb_); }

 private:
  void submit(VkCommandBuffer cb) {
    VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.commandBufferCount = 1;
    si.pCommandBuffers = &cb;
    vk(vkQueueSubmit(c_.queue, 1, &si, fence_), "vkQueueSubmit");
    vk(vkWaitForFences(c_.dev, 1, &fence_, VK_TRUE, UINT64_MAX), "vkWaitForFences");
    vk(vkResetFences(c_.dev, 1, &fence_), "vkResetFences");
  }
  Context& c_;
  VkBuffer buf_[3] = {};
  VkDeviceMemory mem_[3] = {};
  VkDescriptorPool pool_ = VK_NULL_HANDLE;
  VkCommandPool cmd_pool_ = VK_NULL_HANDLE;
  VkCommandBuffer fill_cb_ = VK_NULL_HANDLE, cb_ = VK_NULL_HANDLE;
  VkFence fence_ = VK_NULL_HANDLE;
};

class VulkanNaiveBaseline final : public Baseline {
 public:
  explicit VulkanNaiveBaseline(const porta::Device& d) : ctx_(d) {}
  std::string name() const override { return "vulkan-naive"; }
  std::string description() const override {
    return "naive one-invocation-per-output f32 GEMM (kernels/vulkan/gemm_naive_reference.comp) on " +
           ctx_.name;
  }
  std::unique_ptr<BaselineCase> prepare_gemm(const GemmProblem& p) override {
    using porta::DType;
    if (p.a != DType::f32 || p.b != DType::f32 || p.c != DType::f32 || p.trans_a || p.trans_b) return nullptr;
    return std::make_unique<NaiveCase>(ctx_, static_cast<uint32_t>(p.m), static_cast<uint32_t>(p.n),
                                       static_cast<uint32_t>(p.k));
  }

 private:
  Context ctx_;
};

}  // namespace

std::unique_ptr<Baseline> make_vulkan_naive_baseline(const porta::Device& device) {
  return std::make_unique<VulkanNaiveBaseline>(device);
}

}  // namespace porta_bench
