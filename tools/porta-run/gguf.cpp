#include "gguf.h"

#include <cstring>
#include <limits>

#include "load_error.h"

namespace porta_run {
namespace {

enum : uint32_t {
  kU8 = 0, kI8, kU16, kI16, kU32, kI32, kF32, kBool, kString, kArray, kU64, kI64, kF64
};

// Bounds-checked little-endian cursor over the file image.
class Cursor {
 public:
  Cursor(const uint8_t* p, uint64_t n, const std::string& name) : p_(p), n_(n), name_(name) {}
  uint64_t pos() const { return pos_; }
  uint64_t left() const { return n_ - pos_; }
  [[noreturn]] void fail(const std::string& what) const {
    throw LoadError(name_ + ": " + what + " (at byte " + std::to_string(pos_) + " of " + std::to_string(n_) +
                    ")");
  }
  void need(uint64_t k, const char* what) const {
    if (k > left()) fail(std::string("truncated file: ") + what + " needs " + std::to_string(k) + " bytes");
  }
  template <typename T>
  T get(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, p_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string_view str(const char* what) {
    const uint64_t len = get<uint64_t>(what);
    need(len, what);
    std::string_view s(reinterpret_cast<const char*>(p_ + pos_), static_cast<size_t>(len));
    pos_ += len;
    return s;
  }
  void skip(uint64_t k, const char* what) {
    need(k, what);
    pos_ += k;
  }

 private:
  const uint8_t* p_;
  uint64_t n_, pos_ = 0;
  const std::string& name_;
};

uint64_t scalar_size(uint32_t t) {
  switch (t) {
    case kU8: case kI8: case kBool: return 1;
    case kU16: case kI16: return 2;
    case kU32: case kI32: case kF32: return 4;
    case kU64: case kI64: case kF64: return 8;
    default: return 0;
  }
}

// Reads one scalar of type t into v (as both int and float where it is numeric).
void read_scalar(Cursor& c, uint32_t t, int64_t* i, double* f) {
  switch (t) {
    case kU8: *i = c.get<uint8_t>("u8"); break;
    case kI8: *i = c.get<int8_t>("i8"); break;
    case kU16: *i = c.get<uint16_t>("u16"); break;
    case kI16: *i = c.get<int16_t>("i16"); break;
    case kU32: *i = c.get<uint32_t>("u32"); break;
    case kI32: *i = c.get<int32_t>("i32"); break;
    case kBool: *i = c.get<uint8_t>("bool") != 0; break;
    case kU64: {
      const uint64_t u = c.get<uint64_t>("u64");
      *i = u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ? std::numeric_limits<int64_t>::max()
                                                                            : static_cast<int64_t>(u);
      break;
    }
    case kI64: *i = c.get<int64_t>("i64"); break;
    case kF32: *f = c.get<float>("f32"); *i = 0; return;
    case kF64: *f = c.get<double>("f64"); *i = 0; return;
    default: c.fail("unknown metadata value type " + std::to_string(t));
  }
  *f = static_cast<double>(*i);
}

bool src_type_of(uint32_t ggml_type, SrcType* t) {
  switch (ggml_type) {
    case 0: *t = SrcType::f32; return true;
    case 1: *t = SrcType::f16; return true;
    case 2: *t = SrcType::q4_0; return true;
    case 8: *t = SrcType::q8_0; return true;
    case 12: *t = SrcType::q4_k; return true;
    case 14: *t = SrcType::q6_k; return true;
    case 30: *t = SrcType::bf16; return true;
    default: return false;
  }
}

const char* ggml_type_name(uint32_t t) {
  static const char* names[] = {"F32",  "F16",  "Q4_0", "Q4_1", "(4)",  "(5)",  "Q5_0",   "Q5_1",
                                "Q8_0", "Q8_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K",   "Q8_K",
                                "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS",
                                "I8",   "I16",  "I32",  "I64",  "F64",  "IQ1_M", "BF16"};
  return t < sizeof(names) / sizeof(names[0]) ? names[t] : "unknown";
}

}  // namespace

GgufFile::GgufFile(const std::string& path) : file_(std::make_unique<MappedFile>(path)), name_(path) {
  parse(file_->data(), file_->size());
}

GgufFile::GgufFile(const uint8_t* data, uint64_t size, const std::string& name) : name_(name) {
  parse(data, size);
}

void GgufFile::parse(const uint8_t* data, uint64_t size) {
  Cursor c(data, size, name_);
  const uint32_t magic = c.get<uint32_t>("magic");
  if (magic != 0x46554747u) c.fail("not a GGUF file (magic is not 'GGUF')");
  version_ = c.get<uint32_t>("version");
  if (version_ != 2 && version_ != 3)
    c.fail("GGUF version " + std::to_string(version_) + " is not supported (porta-run reads versions 2 and 3)");
  const uint64_t n_tensors = c.get<uint64_t>("tensor count");
  const uint64_t n_kv = c.get<uint64_t>("metadata count");
  // Each entry takes at least 8 (key length) + 4 (type) + 1 bytes; bounds the counts before looping.
  if (n_kv > c.left() / 13) c.fail("metadata count " + std::to_string(n_kv) + " exceeds the file");
  for (uint64_t k = 0; k < n_kv; ++k) {
    const std::string key(c.str("metadata key"));
    GgufValue v;
    v.type = c.get<uint32_t>("metadata type");
    if (v.type == kString) {
      v.s = c.str("string value");
    } else if (v.type == kArray) {
      v.elem_type = c.get<uint32_t>("array type");
      v.count = c.get<uint64_t>("array length");
      if (v.elem_type == kString) {
        if (v.count > c.left() / 8) c.fail("array '" + key + "' of " + std::to_string(v.count) + " strings exceeds the file");
        v.strings.reserve(static_cast<size_t>(v.count));
        for (uint64_t j = 0; j < v.count; ++j) v.strings.push_back(c.str("array string"));
      } else {
        const uint64_t es = scalar_size(v.elem_type);
        if (es == 0) c.fail("array '" + key + "' has element type " + std::to_string(v.elem_type) + ", which GGUF does not define");
        if (v.count > c.left() / es) c.fail("array '" + key + "' of " + std::to_string(v.count) + " elements exceeds the file");
        v.numbers.resize(static_cast<size_t>(v.count));
        for (uint64_t j = 0; j < v.count; ++j) {
          int64_t iv = 0;
          read_scalar(c, v.elem_type, &iv, &v.numbers[static_cast<size_t>(j)]);
        }
      }
    } else {
      if (scalar_size(v.type) == 0) c.fail("metadata '" + key + "' has value type " + std::to_string(v.type) + ", which GGUF does not define");
      read_scalar(c, v.type, &v.i, &v.f);
    }
    if (!kv_.emplace(key, std::move(v)).second) c.fail("metadata key '" + key + "' appears twice");
  }

  uint64_t alignment = 32;
  if (const GgufValue* a = find("general.alignment")) {
    if (a->type == kString || a->type == kArray || a->i <= 0 || (a->i & (a->i - 1)) != 0 || a->i > (1 << 20))
      throw LoadError(name_ + ": general.alignment must be a power of two up to 2^20");
    alignment = static_cast<uint64_t>(a->i);
  }

  // Tensor directory: name, dims (innermost first), ggml type, offset from the data section.
  struct Info { TensorData t; uint64_t offset; };
  std::vector<Info> infos;
  if (n_tensors > c.left() / 24) c.fail("tensor count " + std::to_string(n_tensors) + " exceeds the file");
  for (uint64_t k = 0; k < n_tensors; ++k) {
    Info in;
    in.t.name = std::string(c.str("tensor name"));
    in.t.file = name_;
    const uint32_t n_dims = c.get<uint32_t>("tensor rank");
    if (n_dims == 0 || n_dims > 4) c.fail("tensor '" + in.t.name + "' has rank " + std::to_string(n_dims) + " (1 to 4 expected)");
    std::vector<int64_t> dims(n_dims);
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t e = c.get<uint64_t>("tensor dim");
      if (e > (uint64_t{1} << 40)) c.fail("tensor '" + in.t.name + "' has dimension " + std::to_string(e));
      dims[d] = static_cast<int64_t>(e);
    }
    in.t.shape.assign(dims.rbegin(), dims.rend());  // GGUF lists the contiguous dim first
    const uint32_t type = c.get<uint32_t>("tensor type");
    if (!src_type_of(type, &in.t.type))
      c.fail("tensor '" + in.t.name + "' has type " + ggml_type_name(type) + " (" + std::to_string(type) +
             "), which porta-run does not read (it reads F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K)");
    in.offset = c.get<uint64_t>("tensor offset");
    in.t.bytes = storage_bytes(in.t.type, in.t.shape, name_ + ": tensor '" + in.t.name + "'");
    infos.push_back(std::move(in));
  }
  const uint64_t data_start = (c.pos() + alignment - 1) / alignment * alignment;
  if (data_start > size && n_tensors > 0) c.fail("truncated file: no tensor data section");
  const uint64_t data_size = size - std::min(data_start, size);
  for (Info& in : infos) {
    if (in.offset % alignment != 0)
      throw LoadError(name_ + ": tensor '" + in.t.name + "' offset " + std::to_string(in.offset) +
                      " is not a multiple of the alignment " + std::to_string(alignment));
    if (in.offset > data_size || in.t.bytes > data_size - in.offset)
      throw LoadError(name_ + ": tensor '" + in.t.name + "' (" + std::to_string(in.t.bytes) + " bytes at offset " +
                      std::to_string(in.offset) + ") runs past the end of the file (data section has " +
                      std::to_string(data_size) + " bytes): truncated file?");
    in.t.data = data + data_start + in.offset;
    const std::string nm = in.t.name;
    if (!tensors_.emplace(nm, std::move(in.t)).second) throw LoadError(name_ + ": tensor '" + nm + "' appears twice");
  }
}

const GgufValue* GgufFile::find(const std::string& key) const {
  auto it = kv_.find(key);
  return it == kv_.end() ? nullptr : &it->second;
}

int64_t GgufFile::get_int(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) throw LoadError(name_ + ": metadata key '" + key + "' is missing");
  if (v->type == kString || v->type == kArray || v->type == kF32 || v->type == kF64)
    throw LoadError(name_ + ": metadata key '" + key + "' is not an integer");
  return v->i;
}

int64_t GgufFile::get_int(const std::string& key, int64_t fallback) const {
  return find(key) ? get_int(key) : fallback;
}

double GgufFile::get_float(const std::string& key, double fallback) const {
  const GgufValue* v = find(key);
  if (!v) return fallback;
  if (v->type == kString || v->type == kArray) throw LoadError(name_ + ": metadata key '" + key + "' is not a number");
  return v->f;
}

std::string GgufFile::get_string(const std::string& key, const std::string& fallback) const {
  const GgufValue* v = find(key);
  if (!v) return fallback;
  if (v->type != kString) throw LoadError(name_ + ": metadata key '" + key + "' is not a string");
  return std::string(v->s);
}

const TensorData* GgufFile::tensor(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

}  // namespace porta_run
