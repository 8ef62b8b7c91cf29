// OpenCL-specific negative tests: a kernel that fails to compile reports the build log;
// the on-disk program cache writes entries and treats a corrupt one as a miss; running
// out of device memory raises out_of_memory and the device keeps working; large tensors of a
// CPU device sit on transparent huge pages.
#include <dirent.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "backends/opencl/buffer_pool.h"
#include "backends/opencl/kernel_sources.h"
#include "backends/opencl/program_cache.h"
#include "porta/porta.h"

// program_cache.cpp looks kernels up in the embedded table; these tests pass their own source.
namespace porta::opencl {
const KernelSource kKernelSources[] = {{"common", ""}};
const size_t kNumKernelSources = 1;
}  // namespace porta::opencl

namespace {

using namespace porta;

struct Cl {
  cl_device_id dev = nullptr;
  cl_context ctx = nullptr;
  Cl() {
    cl_uint np = 0;
    if (clGetPlatformIDs(0, nullptr, &np) != CL_SUCCESS || np == 0) return;
    std::vector<cl_platform_id> ps(np);
    clGetPlatformIDs(np, ps.data(), nullptr);
    for (cl_platform_id p : ps)
      if (clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, 1, &dev, nullptr) == CL_SUCCESS) break;
    if (!dev) return;
    cl_int st = CL_SUCCESS;
    ctx = clCreateContext(nullptr, 1, &dev, nullptr, nullptr, &st);
    if (st != CL_SUCCESS) ctx = nullptr;
  }
  ~Cl() {
    if (ctx) clReleaseContext(ctx);
  }
};

std::string temp_dir(const char* name) {
  return std::string(::testing::TempDir()) + "porta_opencl_" + name + "_" + std::to_string(::getpid());
}

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') out.push_back(dir + "/" + e->d_name);
    ::closedir(d);
  }
  return out;
}

TEST(OpenClPrograms, BuildFailureCarriesTheBuildLog) {
  Cl cl;
  if (!cl.ctx) GTEST_SKIP() << "no OpenCL device";
  opencl::ProgramCache cache(cl.ctx, cl.dev, "test-device", "");
  try {
    cache.get_source("broken_kernel", "kernel void f(global float *x) { x[0] = no_such_variable; }", "");
    FAIL() << "a kernel with an undeclared identifier compiled";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::internal);
    const std::string msg = e.what();
    EXPECT_NE(msg.find("broken_kernel"), std::string::npos) << msg;
    EXPECT_NE(msg.find("build log"), std::string::npos) << msg;
    EXPECT_NE(msg.find("no_such_variable"), std::string::npos) << msg;
  }
  // The cache stays usable after a failed build.
  EXPECT_NE(cache.get_source("fine", "kernel void g(global float *x) { x[0] = 1.0f; }", ""), nullptr);
}

TEST(OpenClPrograms, DiskCacheStoresAndSurvivesCorruptEntries) {
  Cl cl;
  if (!cl.ctx) GTEST_SKIP() << "no OpenCL device";
  const std::string dir = temp_dir("cache");
  const std::string src = "kernel void h(global float *x) { x[get_global_id(0)] *= 2.0f; }";
  {
    opencl::ProgramCache cache(cl.ctx, cl.dev, "test-device", dir);
    cache.get_source("cached", src, "-DX=1");
    EXPECT_EQ(cache.compiled(), 1);
    EXPECT_EQ(cache.get_source("cached", src, "-DX=1"), cache.get_source("cached", src, "-DX=1"));
    EXPECT_EQ(cache.compiled(), 1) << "a program was compiled twice in one process";
  }
  {
    opencl::ProgramCache cache(cl.ctx, cl.dev, "test-device", dir);
    cache.get_source("cached", src, "-DX=1");
    EXPECT_EQ(cache.loaded_from_disk(), 1) << "the binary written by the first cache was not reused";
    EXPECT_EQ(cache.compiled(), 0);
  }
  // Corrupt every entry (empty, bare magic, wrong size, random bytes): each must count as a
  // miss, so the next cache compiles again instead of failing.
  const std::vector<std::string> entries = files_in(dir + "/opencl");
  ASSERT_FALSE(entries.empty()) << "no cache entry written under " << dir;
  const std::string junk[] = {"", "PORTACL1", std::string("PORTACL1\x10\0\0\0\0\0\0\0garbage", 23),
                              "not a program binary at all"};
  for (const std::string& j : junk) {
    for (const std::string& f : entries) std::ofstream(f, std::ios::binary | std::ios::trunc) << j;
    opencl::ProgramCache cache(cl.ctx, cl.dev, "test-device", dir);
    EXPECT_NE(cache.get_source("cached", src, "-DX=1"), nullptr);
    EXPECT_EQ(cache.compiled(), 1) << "a corrupt entry was not treated as a miss";
  }
  for (const std::string& f : files_in(dir + "/opencl")) std::remove(f.c_str());
}

TEST(OpenClMemory, OutOfMemoryThenRecovery) {
  const Device* cl_dev = nullptr;
  for (const Device& d : devices())
    if (d.info().backend == "opencl") {
      cl_dev = &d;
      break;
    }
  if (!cl_dev) GTEST_SKIP() << "no OpenCL device";
  const Device& d = *cl_dev;
  Stream s(d);
  const uint64_t max_alloc = d.info().max_allocation_bytes;
  // One buffer past the device's single-allocation limit.
  try {
    Tensor t = Tensor::empty(d, DType::i8, {static_cast<int64_t>(max_alloc + 4096)});
    FAIL() << "allocating past max_allocation_bytes succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::out_of_memory) << e.what();
  }
  // The device still runs work afterwards.
  std::vector<float> ha(64 * 64, 0.5f), hb(64 * 64, 2.0f), hc(64 * 64, 0.0f);
  Tensor a = Tensor::from_host(s, DType::f32, {64, 64}, ha.data());
  Tensor b = Tensor::from_host(s, DType::f32, {64, 64}, hb.data());
  Tensor c = Tensor::empty(d, DType::f32, {64, 64});
  ops::gemm(s, a, b, c);
  c.copy_to_host(s, hc.data());
  s.synchronize();
  EXPECT_FLOAT_EQ(hc[0], 64.0f);
  EXPECT_FLOAT_EQ(hc[64 * 64 - 1], 64.0f);
}

// The smaps entry of the mapping holding `addr`: its AnonHugePages and THPeligible values (kB
// and 0/1), or -1 when not found.
std::pair<long, long> thp_of(const void* addr) {
  std::ifstream f("/proc/self/smaps");
  std::string line;
  const auto a = reinterpret_cast<uintptr_t>(addr);
  bool inside = false;
  long huge = -1, eligible = -1;
  while (std::getline(f, line)) {
    unsigned long lo = 0, hi = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &lo, &hi) == 2 && line.find(':') > line.find(' ')) {
      if (inside) break;
      inside = a >= lo && a < hi;
      continue;
    }
    if (!inside) continue;
    if (line.rfind("AnonHugePages:", 0) == 0) huge = std::stol(line.substr(14));
    if (line.rfind("THPeligible:", 0) == 0) eligible = std::stol(line.substr(12));
  }
  return {huge, eligible};
}

// BufferPool with huge_host_min (the cpu tuning rows: 2 MiB) puts large buffers in porta-owned
// host memory, 2 MiB-aligned and advised as huge pages (CL_MEM_USE_HOST_PTR: the driver reports
// the pointer back), small ones in the driver's. Whether the kernel found free huge pages
// depends on the host, so only the advice (THPeligible) is checked; the count is printed.
TEST(OpenClMemory, LargeBuffersOnHugePagesOnCpuDevices) {
  Cl cl;
  if (!cl.ctx) GTEST_SKIP() << "no OpenCL device";
  cl_device_type type = 0;
  clGetDeviceInfo(cl.dev, CL_DEVICE_TYPE, sizeof type, &type, nullptr);
  if (!(type & CL_DEVICE_TYPE_CPU)) GTEST_SKIP() << "not a CPU device";
  std::ifstream mode("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string modes;
  std::getline(mode, modes);
  if (modes.empty() || modes.find("[never]") != std::string::npos) GTEST_SKIP() << "no THP on this host";
  opencl::BufferPool pool(cl.ctx, uint64_t{1} << 40, uint64_t{1} << 40, 0, uint64_t{2} << 20);
  std::unique_ptr<opencl::ClBuffer> small = pool.allocate(4096), big = pool.allocate(16 << 20);
  auto host_of = [](cl_mem m) {
    void* p = nullptr;
    EXPECT_EQ(clGetMemObjectInfo(m, CL_MEM_HOST_PTR, sizeof p, &p, nullptr), CL_SUCCESS);
    return p;
  };
  EXPECT_EQ(host_of(small->mem()), nullptr) << "a 4 KiB buffer is not the driver's";
  void* host = host_of(big->mem());
  ASSERT_NE(host, nullptr) << "a 16 MiB buffer is not porta-owned host memory";
  EXPECT_EQ(reinterpret_cast<uintptr_t>(host) % (2u << 20), 0u) << "not 2 MiB-aligned";
  cl_int st = CL_SUCCESS;
  cl_command_queue q = clCreateCommandQueue(cl.ctx, cl.dev, 0, &st);
  ASSERT_EQ(st, CL_SUCCESS);
  std::vector<char> bytes(16 << 20, 7);
  bytes.back() = 9;
  char last = 0;
  EXPECT_EQ(clEnqueueWriteBuffer(q, big->mem(), CL_TRUE, 0, bytes.size(), bytes.data(), 0, nullptr, nullptr),
            CL_SUCCESS);
  EXPECT_EQ(clEnqueueReadBuffer(q, big->mem(), CL_TRUE, bytes.size() - 1, 1, &last, 0, nullptr, nullptr),
            CL_SUCCESS);
  EXPECT_EQ(last, 9);
  const auto [huge_kb, eligible] = thp_of(host);
  EXPECT_EQ(eligible, 1) << "the mapping is not advised as huge pages";
  std::printf("16 MiB buffer: %ld kB on huge pages\n", huge_kb);
  big.reset();  // unmapped by the buffer's destructor callback
  small.reset();
  clReleaseCommandQueue(q);
}

}  // namespace
