// porta-info: lists every device porta finds, the backend diagnostics, and which
// device PORTA_DEVICE (or auto) selects and why.
//
//   porta-info [--json] [--device SPEC]
//
// Exit status: 0 when a device is selected; 2 when the selection fails (malformed or
// unmatched PORTA_DEVICE / SPEC, or no device at all); 1 on bad arguments or an
// unexpected error.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "porta/porta.h"

namespace {

// ---- formatting helpers ----

std::string fmt_bytes(uint64_t b) {
  if (b == 0) return "0 (none or unknown)";
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024.0 && u < 4) {
    v /= 1024.0;
    ++u;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

std::string fmt_rate(double v, const char* unit) {
  if (v <= 0) return "unknown";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f %s", v, unit);
  return buf;
}

std::vector<std::string> dtype_list(const porta::DeviceInfo& i) {
  std::vector<std::string> out;
  for (int t = 0; t < porta::kNumDTypes; ++t) {
    const auto d = static_cast<porta::DType>(t);
    if (i.supports(d)) out.emplace_back(porta::dtype_name(d));
  }
  return out;
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string s;
  for (size_t k = 0; k < v.size(); ++k) s += (k ? sep : "") + v[k];
  return s;
}

std::string json_str(const std::string& s) {
  std::string o = "\"";
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': o += "\\\""; break;
      case '\\': o += "\\\\"; break;
      case '\n': o += "\\n"; break;
      case '\r': o += "\\r"; break;
      case '\t': o += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          o += buf;
        } else {
          o += ch;
        }
    }
  }
  return o + "\"";
}

std::string json_num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string id_of(const porta::DeviceInfo& i) { return i.backend + ":" + std::to_string(i.index); }

// ---- selection ----

struct SelectionResult {
  std::string spec;    // the spec used ("auto" when nothing was given)
  std::string source;  // where the spec came from
  bool ok = false;
  porta::Device device;
  std::string why;    // which term matched and the rule behind it
  std::string error;  // porta::Error message when !ok
  std::string errc;
};

std::vector<std::string> split_terms(const std::string& spec) {
  std::vector<std::string> terms;
  size_t start = 0;
  while (true) {
    const size_t comma = spec.find(',', start);
    terms.push_back(spec.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return terms;
}

std::string term_rule(const std::string& term, const porta::DeviceInfo& info) {
  if (term == "auto")
    return std::string(
               "auto ranks discrete GPUs over integrated GPUs over the cpu backend and skips software "
               "devices other than the cpu backend; this is the best-ranked device (") +
           porta::device_type_name(info.type) + ")";
  const size_t colon = term.find(':');
  if (colon == std::string::npos) return "the first device of backend '" + term + "'";
  return "backend '" + term.substr(0, colon) + "' with selector '" + term.substr(colon + 1) + "'";
}

SelectionResult select_device(const std::string& cli_spec) {
  SelectionResult r;
  const char* env = std::getenv("PORTA_DEVICE");
  if (!cli_spec.empty()) {
    r.spec = cli_spec;
    r.source = "--device";
  } else if (env && *env) {
    r.spec = env;
    r.source = "PORTA_DEVICE";
  } else {
    r.spec = "auto";
    r.source = "default (PORTA_DEVICE unset)";
  }
  try {
    r.device = porta::Device::select(cli_spec);
    r.ok = true;
  } catch (const porta::Error& e) {
    r.error = e.what();
    r.errc = porta::to_string(e.code());
    return r;
  }
  // The first term that selects the same device on its own is the one that matched.
  const auto terms = split_terms(r.spec);
  for (size_t k = 0; k < terms.size(); ++k) {
    try {
      if (porta::Device::select(terms[k]) == r.device) {
        r.why = "term " + std::to_string(k + 1) + " of " + std::to_string(terms.size()) + " ('" + terms[k] +
                "') matched: " + term_rule(terms[k], r.device.info());
        if (k > 0) r.why += "; the terms before it matched no device";
        break;
      }
    } catch (const porta::Error&) {
      // this term alone matches nothing; the selection moved on to the next one
    }
  }
  if (r.why.empty()) r.why = "selected by '" + r.spec + "'";
  return r;
}

// ---- text output ----

void print_text(const std::vector<porta::Device>& devs, const std::vector<std::string>& diags,
                const SelectionResult& sel) {
  std::printf("porta %s: %zu device(s)\n", porta::version(), devs.size());
  if (devs.empty()) std::printf("  (none: see the backend diagnostics below)\n");
  for (const auto& d : devs) {
    const auto& i = d.info();
    std::printf("\n%s  %s\n", id_of(i).c_str(), i.name.c_str());
    std::printf("    vendor            %s\n", i.vendor.empty() ? "unknown" : i.vendor.c_str());
    std::printf("    driver            %s\n", i.driver.empty() ? "unknown" : i.driver.c_str());
    std::printf("    type              %s%s\n", porta::device_type_name(i.type),
                i.software ? " (software)" : "");
    if (!i.uuid.empty()) std::printf("    uuid              %s\n", i.uuid.c_str());
    if (!i.pci_bus_id.empty()) std::printf("    pci bus id        %s\n", i.pci_bus_id.c_str());
    std::printf("    memory            %s\n", fmt_bytes(i.memory_bytes).c_str());
    std::printf("    max allocation    %s\n", fmt_bytes(i.max_allocation_bytes).c_str());
    std::printf("    dtypes            %s\n", join(dtype_list(i), " ").c_str());
    std::printf("    compute units     %d\n", i.compute_units);
    std::printf("    subgroup size     %d\n", i.subgroup_size);
    std::printf("    shared memory     %s per workgroup\n", fmt_bytes(i.shared_memory_bytes).c_str());
    std::printf("    max workgroup     %d\n", i.max_workgroup_size);
    std::printf("    matrix units      %s\n", i.matrix_units ? "yes" : "no");
    std::printf("    peak f32          %s\n", fmt_rate(i.peak_tflops_f32, "TFLOP/s").c_str());
    std::printf("    peak f16/bf16     %s\n", fmt_rate(i.peak_tflops_f16, "TFLOP/s").c_str());
    std::printf("    peak bandwidth    %s\n", fmt_rate(i.peak_gbps, "GB/s").c_str());
    std::printf("    peaks from        %s\n", i.peak_source.empty() ? "unknown" : i.peak_source.c_str());
  }
  std::printf("\nbackend diagnostics (%zu):\n", diags.size());
  if (diags.empty()) std::printf("    (none)\n");
  for (const auto& l : diags) std::printf("    %s\n", l.c_str());
  std::printf("\nselection: %s = '%s'\n", sel.source.c_str(), sel.spec.c_str());
  if (sel.ok)
    std::printf("    selected %s\n    because  %s\n", sel.device.description().c_str(), sel.why.c_str());
  else
    std::printf("    FAILED (%s): the message is on stderr\n", sel.errc.c_str());
}

// ---- JSON output ----

void print_json(const std::vector<porta::Device>& devs, const std::vector<std::string>& diags,
                const SelectionResult& sel) {
  std::string o = "{\n  \"porta_version\": " + json_str(porta::version()) + ",\n  \"devices\": [";
  for (size_t k = 0; k < devs.size(); ++k) {
    const auto& i = devs[k].info();
    std::vector<std::string> dts;
    for (const auto& t : dtype_list(i)) dts.push_back(json_str(t));
    o += k ? ",\n    {" : "\n    {";
    o += "\"id\": " + json_str(id_of(i)) + ", \"backend\": " + json_str(i.backend) +
         ", \"index\": " + std::to_string(i.index) + ", \"name\": " + json_str(i.name) +
         ", \"vendor\": " + json_str(i.vendor) + ", \"driver\": " + json_str(i.driver) +
         ", \"type\": " + json_str(porta::device_type_name(i.type)) +
         ", \"software\": " + (i.software ? "true" : "false") + ", \"uuid\": " + json_str(i.uuid) +
         ", \"pci_bus_id\": " + json_str(i.pci_bus_id) +
         ", \"memory_bytes\": " + std::to_string(i.memory_bytes) +
         ", \"max_allocation_bytes\": " + std::to_string(i.max_allocation_bytes) + ", \"dtypes\": [" +
         join(dts, ", ") + "], \"compute_units\": " + std::to_string(i.compute_units) +
         ", \"subgroup_size\": " + std::to_string(i.subgroup_size) +
         ", \"shared_memory_bytes\": " + std::to_string(i.shared_memory_bytes) +
         ", \"max_workgroup_size\": " + std::to_string(i.max_workgroup_size) +
         ", \"matrix_units\": " + (i.matrix_units ? "true" : "false") +
         ", \"peak_tflops_f32\": " + json_num(i.peak_tflops_f32) +
         ", \"peak_tflops_f16\": " + json_num(i.peak_tflops_f16) +
         ", \"peak_gbps\": " + json_num(i.peak_gbps) + ", \"peak_source\": " + json_str(i.peak_source) + "}";
  }
  o += devs.empty() ? "],\n" : "\n  ],\n";
  o += "  \"diagnostics\": [";
  for (size_t k = 0; k < diags.size(); ++k) o += (k ? ", " : "") + json_str(diags[k]);
  o += "],\n  \"selection\": {\"spec\": " + json_str(sel.spec) + ", \"source\": " + json_str(sel.source) +
       ", \"ok\": " + (sel.ok ? "true" : "false");
  if (sel.ok)
    o += ", \"device\": " + json_str(id_of(sel.device.info())) +
         ", \"name\": " + json_str(sel.device.info().name) + ", \"reason\": " + json_str(sel.why);
  else
    o += ", \"error_code\": " + json_str(sel.errc) + ", \"error\": " + json_str(sel.error);
  o += "}\n}\n";
  std::fputs(o.c_str(), stdout);
}

void usage(FILE* f) {
  std::fputs(
      "usage: porta-info [--json] [--device SPEC]\n"
      "Lists porta's devices, the backend diagnostics and the device that PORTA_DEVICE\n"
      "(or SPEC, or auto) selects, with the reason. Exit status 2 when the selection fails.\n",
      f);
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
    } else if (arg == "-h" || arg == "--help") {
      usage(stdout);
      return 0;
    } else {
      std::fprintf(stderr, "porta-info: unknown argument '%s'\n", arg.c_str());
      usage(stderr);
      return 1;
    }
  }
  try {
    const std::vector<porta::Device>& devs = porta::devices();
    const std::vector<std::string> diags = porta::backend_diagnostics();
    const SelectionResult sel = select_device(spec);
    if (json)
      print_json(devs, diags, sel);
    else
      print_text(devs, diags, sel);
    std::fflush(stdout);
    if (!sel.ok) {
      std::fprintf(stderr, "porta-info: %s\n", sel.error.c_str());
      return 2;
    }
    return 0;
  } catch (const porta::Error& e) {
    std::fprintf(stderr, "porta-info: %s (%s)\n", e.what(), porta::to_string(e.code()));
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "porta-info: %s\n", e.what());
    return 1;
  }
}
