#include "core/selection.h"

#include <algorithm>
#include <cctype>
#include <cstdint>

#include "porta/error.h"

namespace porta::detail {
namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string listing(const SelectionContext& ctx) {
  std::string out = "devices found:";
  if (ctx.devices.empty()) out += " none";
  for (const auto& d : ctx.devices) {
    out += "\n  " + d.backend + ":" + std::to_string(d.index) + "  " + d.name + " [" +
           device_type_name(d.type) + (d.software ? ", software" : "") +
           (d.uuid.empty() ? "" : ", uuid=" + d.uuid) + "]";
  }
  for (const auto& [name, why] : ctx.load_errors) out += "\n  " + name + ": " + why;
  return out;
}

[[noreturn]] void malformed(const std::string& spec, const std::string& why, const SelectionContext& ctx) {
  throw Error(Errc::invalid_argument,
              "PORTA_DEVICE='" + spec + "' is malformed: " + why +
                  ". Grammar: backend[:index|gpu|igpu|cpu|uuid=HEX|name=TEXT] or auto, "
                  "comma-separated in order of preference (e.g. 'cuda:0,vulkan,cpu'). " +
                  listing(ctx));
}

bool all_digits(const std::string& s) {
  return !s.empty() && s.size() <= 6 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool is_hex(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isxdigit(static_cast<unsigned char>(c)) || c == '-';
  });
}

int auto_rank(const Candidate& d) {
  if (d.backend == "cpu") return 3;
  switch (d.type) {
    case DeviceType::discrete_gpu: return 0;
    case DeviceType::integrated_gpu: return 1;
    default: return 2;
  }
}

struct Term {
  std::string text, backend, kind, value;  // kind: "", index, type, uuid, name, auto
  bool unknown_backend = false;            // passed over: no such backend on this host
};

// Optimal string alignment distance, capped: names are short, specs may not be.
size_t edit_distance(const std::string& a, const std::string& b) {
  if (a.size() > 64 || b.size() > 64) return SIZE_MAX;
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1])});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

std::string known_list(const SelectionContext& ctx) {
  std::string names;
  for (const auto& n : ctx.known_backends) names += (names.empty() ? "" : ", ") + n;
  return names;
}

std::string did_you_mean(const std::string& name, const SelectionContext& ctx) {
  const std::string close = closest_name(name, ctx.known_backends);
  return close.empty() ? std::string() : "; did you mean '" + close + "'?";
}

Term parse_term(const std::string& spec, const std::string& raw, bool last, const SelectionContext& ctx) {
  Term t;
  t.text = raw;
  if (raw.empty()) malformed(spec, "an empty term (two commas, or a leading/trailing comma)", ctx);
  if (raw.find_first_of(" \t") != std::string::npos)
    malformed(spec, "term '" + raw + "' contains white space", ctx);
  if (raw == "auto") {
    t.kind = "auto";
    return t;
  }
  const size_t colon = raw.find(':');
  t.backend = raw.substr(0, colon);
  if (t.backend.empty() || !std::all_of(t.backend.begin(), t.backend.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
      }))
    malformed(spec,
              "'" + t.backend + "' in term '" + raw +
                  "' is not a backend name (lower case, e.g. cuda, vulkan, opencl, cpu)",
              ctx);
  if (std::find(ctx.known_backends.begin(), ctx.known_backends.end(), t.backend) ==
      ctx.known_backends.end()) {
    if (last)
      malformed(spec,
                "unknown backend '" + t.backend + "' in the last term (known here: " + known_list(ctx) + ")" +
                    did_you_mean(t.backend, ctx) + "; end the list with a backend every host has, e.g. cpu",
                ctx);
    t.unknown_backend = true;  // a module other hosts of the fleet have; the selector is still checked
  }
  if (colon == std::string::npos) return t;
  const std::string sel = raw.substr(colon + 1);
  if (sel.empty()) malformed(spec, "term '" + raw + "' has an empty selector after ':'", ctx);
  if (all_digits(sel)) {
    t.kind = "index";
    t.value = sel;
  } else if (sel == "gpu" || sel == "igpu" || sel == "cpu") {
    t.kind = "type";
    t.value = sel;
  } else if (sel.rfind("uuid=", 0) == 0) {
    t.kind = "uuid";
    t.value = lower(sel.substr(5));
    if (!is_hex(t.value))
      malformed(spec, "term '" + raw + "' needs a hexadecimal uuid prefix after 'uuid='", ctx);
  } else if (sel.rfind("name=", 0) == 0) {
    t.kind = "name";
    t.value = lower(sel.substr(5));
    if (t.value.empty()) malformed(spec, "term '" + raw + "' needs text after 'name='", ctx);
  } else {
    malformed(spec,
              "selector '" + sel + "' in term '" + raw +
                  "' is none of: a non-negative index, gpu, igpu, cpu, uuid=HEX, name=TEXT",
              ctx);
  }
  return t;
}

bool matches(const Term& t, const Candidate& d) {
  if (d.backend != t.backend) return false;
  if (t.kind.empty()) return true;
  if (t.kind == "index") return std::to_string(d.index) == t.value;
  if (t.kind == "type") {
    if (t.value == "gpu") return d.type == DeviceType::discrete_gpu;
    if (t.value == "igpu") return d.type == DeviceType::integrated_gpu;
    return d.type == DeviceType::cpu;
  }
  if (t.kind == "uuid") return !d.uuid.empty() && lower(d.uuid).rfind(t.value, 0) == 0;
  if (t.kind == "name") return lower(d.name).find(t.value) != std::string::npos;
  return false;
}

}  // namespace

Selection select_device(const std::string& spec_in, const SelectionContext& ctx) {
  const std::string spec = spec_in.empty() ? std::string("auto") : spec_in;
  // Parse every term first: a malformed term anywhere is an error even when an earlier term matches.
  std::vector<Term> terms;
  size_t start = 0;
  for (;;) {
    const size_t comma = spec.find(',', start);
    const bool last = comma == std::string::npos;
    terms.push_back(
        parse_term(spec, spec.substr(start, last ? std::string::npos : comma - start), last, ctx));
    if (last) break;
    start = comma + 1;
  }
  std::vector<std::string> notes;
  for (const auto& t : terms)
    if (t.unknown_backend)
      notes.push_back("PORTA_DEVICE term '" + t.text + "' passed over: no backend '" + t.backend +
                      "' here (known: " + known_list(ctx) + ")" + did_you_mean(t.backend, ctx));
  for (const auto& t : terms) {
    if (t.unknown_backend) continue;
    if (t.kind == "auto") {
      const Candidate* best = nullptr;
      size_t best_pos = 0;
      for (size_t i = 0; i < ctx.devices.size(); ++i) {
        const auto& d = ctx.devices[i];
        if (d.software && d.backend != "cpu") continue;
        if (!best || auto_rank(d) < auto_rank(*best)) {
          best = &d;
          best_pos = i;
        }
      }
      if (best)
        return {best_pos,
                "'auto' ranks discrete GPUs, then integrated GPUs, then other hardware, then the cpu "
                "backend, skipping software devices; picked a " +
                    std::string(device_type_name(best->type)),
                notes};
      continue;
    }
    for (size_t i = 0; i < ctx.devices.size(); ++i) {
      if (matches(t, ctx.devices[i]))
        return {i, "first device matching term '" + t.text + "' of PORTA_DEVICE='" + spec + "'", notes};
    }
  }
  throw Error(
      Errc::backend_unavailable, "PORTA_DEVICE='" + spec +
                                     "': no device matches any term. End the list with ',cpu' to fall back "
                                     "to the CPU. " +
                                     listing(ctx) + [&] {
                                       std::string n;
                                       for (const auto& note : notes) n += "\n" + note;
                                       return n;
                                     }());
}

std::string closest_name(const std::string& name, const std::vector<std::string>& known) {
  std::string best;
  size_t best_d = SIZE_MAX;
  for (const auto& k : known) {
    const size_t d = edit_distance(name, k);
    if (d < best_d) {
      best_d = d;
      best = k;
    }
  }
  // One edit for short names, two from five letters on: 'cdua' -> cuda, 'vulcan' -> vulkan, not 'musa' ->
  // cuda.
  const size_t allowed = name.size() >= 5 ? 2 : 1;
  return best_d <= allowed && best_d < name.size() ? best : std::string();
}

}  // namespace porta::detail
