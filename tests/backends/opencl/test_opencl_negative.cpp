// OpenCL-specific negative tests: a kernel that fails to compile reports the build log;
// the on-disk program cache writes entries and treats a corrupt one as a miss; running
// out of device memory raises out_of_memory and the device keeps working.
#include <dirent.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

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

}  // namespace
