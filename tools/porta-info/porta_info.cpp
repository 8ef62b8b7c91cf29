// porta-info: every device porta finds, what it can do, and which one PORTA_DEVICE picks.
// Exit status: 0, or 2 when PORTA_DEVICE (or --device SPEC) selects nothing.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "porta/porta.h"

namespace {

std::string dtypes(const porta::DeviceInfo& i) {
  std::string s;
  for (auto t :
       {porta::DType::f32, porta::DType::f16, porta::DType::bf16, porta::DType::i8, porta::DType::i32})
    if (i.supports(t)) s += (s.empty() ? "" : " ") + std::string(porta::dtype_name(t));
  return s;
}

std::string json_escape(const std::string& in) {
  std::string out;
  for (char c : in) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
      continue;
    }
    out += c;
  }
  return out;
}

void print_text(const porta::Device& d) {
  const auto& i = d.info();
  std::printf("%s:%d  %s\n", i.backend.c_str(), i.index, i.name.c_str());
  std::printf("    vendor %s, driver %s\n", i.vendor.c_str(), i.driver.c_str());
  std::printf("    type %s%s%s%s\n", porta::device_type_name(i.type), i.software ? " (software)" : "",
              i.uuid.empty() ? "" : (", uuid " + i.uuid).c_str(),
              i.pci_bus_id.empty() ? "" : (", pci " + i.pci_bus_id).c_str());
  std::printf("    memory %.1f GiB, max allocation %.1f GiB\n", i.memory_bytes / 1073741824.0,
              i.max_allocation_bytes / 1073741824.0);
  std::printf(
      "    dtypes %s; compute units %d, subgroup %d, shared memory %llu B, max workgroup %d, matrix units "
      "%s\n",
      dtypes(i).c_str(), i.compute_units, i.subgroup_size,
      static_cast<unsigned long long>(i.shared_memory_bytes), i.max_workgroup_size,
      i.matrix_units ? "yes" : "no");
  std::printf("    peak %.2f TFLOP/s f32, %.2f TFLOP/s f16, %.1f GB/s (%s)\n", i.peak_tflops_f32,
              i.peak_tflops_f16, i.peak_gbps, i.peak_source.c_str());
}

void print_json(const porta::Device& d, bool last) {
  const auto& i = d.info();
  std::printf(
      "    {\"backend\": \"%s\", \"index\": %d, \"name\": \"%s\", \"vendor\": \"%s\", \"driver\": \"%s\", "
      "\"type\": \"%s\", \"software\": %s, \"uuid\": \"%s\", \"pci_bus_id\": \"%s\", \"memory_bytes\": %llu, "
      "\"max_allocation_bytes\": %llu, \"dtypes\": \"%s\", \"compute_units\": %d, \"subgroup_size\": %d, "
      "\"shared_memory_bytes\": %llu, \"max_workgroup_size\": %d, \"matrix_units\": %s, \"peak_tflops_f32\": "
      "%g, "
      "\"peak_tflops_f16\": %g, \"peak_gbps\": %g, \"peak_source\": \"%s\"}%s\n",
      json_escape(i.backend).c_str(), i.index, json_escape(i.name).c_str(), json_escape(i.vendor).c_str(),
      json_escape(i.driver).c_str(), porta::device_type_name(i.type), i.software ? "true" : "false",
      json_escape(i.uuid).c_str(), json_escape(i.pci_bus_id).c_str(),
      static_cast<unsigned long long>(i.memory_bytes),
      static_cast<unsigned long long>(i.max_allocation_bytes), dtypes(i).c_str(), i.compute_units,
      i.subgroup_size, static_cast<unsigned long long>(i.shared_memory_bytes), i.max_workgroup_size,
      i.matrix_units ? "true" : "false", i.peak_tflops_f32, i.peak_tflops_f16, i.peak_gbps,
      json_escape(i.peak_source).c_str(), last ? "" : ",");
}

int usage() {
  std::fprintf(stderr,
               "usage: porta-info [--json] [--device SPEC]\n"
               "Lists the devices porta finds and the one PORTA_DEVICE (or SPEC) selects.\n");
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  bool json = false;
  std::string spec;
  for (int a = 1; a < argc; ++a) {
    const std::string arg = argv[a];
    if (arg == "--json") {
      json = true;
    } else if (arg == "--device" && a + 1 < argc) {
      spec = argv[++a];
    } else {
      return usage();
    }
  }
  try {
    const auto& devs = porta::devices();
    const auto notes = porta::backend_diagnostics();
    std::string chosen, error;
    try {
      chosen = porta::Device::select(spec).description();
    } catch (const porta::Error& e) {
      error = e.what();
    }
    if (json) {
      std::printf("{\n  \"porta_version\": \"%s\",\n  \"devices\": [\n", porta::version());
      for (size_t i = 0; i < devs.size(); ++i) print_json(devs[i], i + 1 == devs.size());
      std::printf("  ],\n  \"diagnostics\": [");
      for (size_t i = 0; i < notes.size(); ++i)
        std::printf("%s\"%s\"", i ? ", " : "", json_escape(notes[i]).c_str());
      std::printf("],\n  \"selected\": \"%s\",\n  \"selection_error\": \"%s\"\n}\n",
                  json_escape(chosen).c_str(), json_escape(error).c_str());
    } else {
      std::printf("porta %s: %zu device(s)\n", porta::version(), devs.size());
      for (const auto& d : devs) print_text(d);
      if (!notes.empty()) {
        std::printf("backend notes:\n");
        for (const auto& n : notes) std::printf("    %s\n", n.c_str());
      }
      const char* env = std::getenv("PORTA_DEVICE");
      const std::string shown = !spec.empty() ? spec : (env && *env ? env : "auto");
      if (!chosen.empty()) std::printf("selected by '%s': %s\n", shown.c_str(), chosen.c_str());
    }
    if (!error.empty()) {
      std::fprintf(stderr, "porta-info: %s\n", error.c_str());
      return 2;
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "porta-info: %s\n", e.what());
    return 3;
  }
}
