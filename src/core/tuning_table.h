// Kernel parameters as data (CLBlast's database is the model): each backend keeps one table of
// rows, each row a struct of named fields keyed by vendor / device class / device name, and one
// lookup picks the most specific row that matches a device. Rows also have a text form
// (`field=value ...`, every named field) so a tuner can later store measured rows; nothing
// reads such a file yet (PORTA_TUNE_CACHE is reserved). Header-only so a backend module needs
// nothing from libporta beyond porta::Error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "porta/error.h"

namespace porta::tuning {

/// What a device is looked up by. `vendor` is a lower-case token ("nvidia", "amd", "intel",
/// "mesa", ...), `cls` the backend's device class ("cpu", "gpu", "cpu-vec16", ...), `name` the
/// device name exactly as the driver reports it.
struct DeviceKey {
  std::string vendor;
  std::string cls;
  std::string name;
};

/// One row: applies to every device matching each key part it sets (nullptr: any). The row with
/// every part unset is the default; a table must have exactly one, as its last row.
template <class Params>
struct Row {
  const char* id;      // short name, unique in the table: logs, porta-info, row overrides
  const char* vendor;  // nullptr: any vendor
  const char* cls;     // nullptr: any class
  const char* name;    // nullptr: any device name
  Params params;
};

/// Most specific wins: a name match outranks a class match, which outranks a vendor match
/// (weights 4, 2, 1, so a row naming vendor and class beats one naming the class alone).
inline int specificity(const char* vendor, const char* cls, const char* name) {
  return (name ? 4 : 0) + (cls ? 2 : 0) + (vendor ? 1 : 0);
}

template <class Params, size_t N>
const Row<Params>& select_row(const Row<Params> (&table)[N], const DeviceKey& key) {
  const Row<Params>* best = nullptr;
  int best_score = -1;
  for (const Row<Params>& r : table) {
    if ((r.vendor && key.vendor != r.vendor) || (r.cls && key.cls != r.cls) || (r.name && key.name != r.name))
      continue;
    const int s = specificity(r.vendor, r.cls, r.name);
    if (s > best_score) best = &r, best_score = s;  // ties: the earlier row
  }
  if (!best)  // only a table without a default row gets here
    throw Error(Errc::internal, "tuning table has no default row (device '" + key.name + "')");
  return *best;
}

/// The row with this id, or nullptr.
template <class Params, size_t N>
const Row<Params>* find_row(const Row<Params> (&table)[N], const std::string& id) {
  for (const Row<Params>& r : table)
    if (id == r.id) return &r;
  return nullptr;
}

/// A named field of a row struct, for the text form and the completeness checks.
template <class Params>
struct Field {
  const char* name;
  int64_t (*get)(const Params&);
  void (*set)(Params&, int64_t);
  int64_t min, max;  // accepted range when parsed
};

// PORTA_TUNING_FIELD(Params, gemm.tile_m, 1, 8): the field `p.gemm.tile_m`, named "gemm.tile_m".
// clang-format off
#define PORTA_TUNING_FIELD(P, path, lo, hi)                                   \
  ::porta::tuning::Field<P> {                                                 \
    #path, [](const P& p) { return static_cast<int64_t>(p.path); },           \
    [](P& p, int64_t v) { p.path = static_cast<decltype(p.path)>(v); }, lo, hi \
  }
// clang-format on

/// `name=value` for every field, space-separated, in the field list's order.
template <class Params, size_t N>
std::string to_text(const Params& p, const Field<Params> (&fields)[N]) {
  std::string s;
  for (const Field<Params>& f : fields) {
    if (!s.empty()) s += ' ';
    s += f.name;
    s += '=';
    s += std::to_string(f.get(p));
  }
  return s;
}

/// Parses the text form over `base`: fields it does not name keep base's values. Throws
/// Error(invalid_argument) naming `what`, the offending item and the fix for an unknown field,
/// a malformed or out-of-range value, or a field given twice.
template <class Params, size_t N>
Params from_text(const std::string& text, const Field<Params> (&fields)[N], Params base,
                 const std::string& what) {
  bool seen[N] = {};
  size_t pos = 0;
  while (pos < text.size()) {
    if (text[pos] == ' ' || text[pos] == '\t') {
      ++pos;
      continue;
    }
    size_t end = text.find_first_of(" \t", pos);
    if (end == std::string::npos) end = text.size();
    const std::string item = text.substr(pos, end - pos);
    pos = end;
    const size_t eq = item.find('=');
    const std::string key = item.substr(0, eq);
    size_t i = 0;
    while (i < N && key != fields[i].name) ++i;
    auto fail = [&](const std::string& why) {
      std::string names;
      for (const Field<Params>& f : fields) names += std::string(names.empty() ? "" : ", ") + f.name;
      throw Error(Errc::invalid_argument, what + ": '" + item + "' " + why +
                                              " (expected name=value items with names from: " + names + ")");
    };
    if (eq == std::string::npos) fail("has no '='");
    if (i == N) fail("names no field");
    if (seen[i]) fail("sets a field a second time");
    seen[i] = true;
    const std::string val = item.substr(eq + 1);
    int64_t v = 0;
    try {
      size_t used = 0;
      v = std::stoll(val, &used);
      if (used != val.size()) fail("is not an integer");
    } catch (const Error&) {
      throw;
    } catch (...) {
      fail("is not an integer");
    }
    if (v < fields[i].min || v > fields[i].max)
      fail("is out of range " + std::to_string(fields[i].min) + ".." + std::to_string(fields[i].max));
    fields[i].set(base, v);
  }
  return base;
}

}  // namespace porta::tuning
