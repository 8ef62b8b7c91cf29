// Fuzzes view arithmetic (Tensor::slice, transpose, reshape, view) on the cpu backend
// against an independent model: the storage element each logical element of the view
// reads, kept as an explicit index list. Storage holds its own indices, so reading the
// view back must return exactly the model's list; writing through it must change exactly
// those storage elements. Invalid arguments must throw porta::Error, never crash; a view
// that stays in bounds must be accepted and one that does not must be refused.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdlib>
#include <set>
#include <vector>

#include "porta/porta.h"

namespace {

using namespace porta;

struct Model {
  std::vector<int64_t> shape;
  std::vector<int64_t> idx;  // storage element of each logical element, row-major
};

std::vector<int64_t> coords_of(int64_t linear, const std::vector<int64_t>& shape) {
  std::vector<int64_t> c(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    c[d] = linear % shape[d];
    linear /= shape[d];
  }
  return c;
}

int64_t linear_of(const std::vector<int64_t>& c, const std::vector<int64_t>& shape) {
  int64_t l = 0;
  for (size_t d = 0; d < shape.size(); ++d) l = l * shape[d] + c[d];
  return l;
}

Shape to_shape(const std::vector<int64_t>& v) {
  Shape s;
  s.rank = static_cast<int>(v.size());
  for (size_t i = 0; i < v.size(); ++i) s[static_cast<int>(i)] = v[i];
  return s;
}

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_views: %s\n", what);
  std::abort();
}

void check_error(const Error& e) {
  if (e.code() != Errc::invalid_argument && e.code() != Errc::shape_mismatch) fail("unexpected error code");
  if (std::string(e.what()).find("Tensor::") == std::string::npos)
    fail((std::string("error does not name the call: ") + e.what()).c_str());
}

// Reads the view back and writes through it; both must agree with the model.
void check_against_storage(Stream& s, Tensor& storage, const Tensor& v, const Model& m) {
  if (v.numel() != static_cast<int64_t>(m.idx.size())) fail("numel differs from the model");
  std::vector<int32_t> got(m.idx.size());
  v.copy_to_host(s, got.data());
  for (size_t i = 0; i < got.size(); ++i)
    if (got[i] != m.idx[i]) fail("view reads the wrong storage element");
  if (std::set<int64_t>(m.idx.begin(), m.idx.end()).size() != m.idx.size()) return;  // overlapping view
  std::vector<int32_t> marks(m.idx.size());
  for (size_t i = 0; i < marks.size(); ++i) marks[i] = -1 - static_cast<int32_t>(i);
  Tensor w = v;
  w.copy_from_host(s, marks.data());
  std::vector<int32_t> all(static_cast<size_t>(storage.numel()));
  storage.copy_to_host(s, all.data());
  std::vector<int32_t> want(all.size());
  for (size_t e = 0; e < want.size(); ++e) want[e] = static_cast<int32_t>(e);
  for (size_t i = 0; i < m.idx.size(); ++i) want[static_cast<size_t>(m.idx[i])] = marks[i];
  if (all != want) fail("writing through the view changed the wrong storage elements");
  for (size_t e = 0; e < want.size(); ++e) want[e] = static_cast<int32_t>(e);  // restore the indices
  storage.copy_from_host(s, want.data());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Device dev = Device::select("cpu");
  static Stream s(dev);
  FuzzedDataProvider fdp(data, size);
  const int64_t n = fdp.ConsumeIntegralInRange<int64_t>(1, 256);
  Tensor storage = Tensor::empty(dev, DType::i32, {n});
  std::vector<int32_t> iota(static_cast<size_t>(n));
  for (size_t i = 0; i < iota.size(); ++i) iota[i] = static_cast<int32_t>(i);
  storage.copy_from_host(s, iota.data());
  Tensor v = storage;
  Model m{{n}, {}};
  for (int64_t i = 0; i < n; ++i) m.idx.push_back(i);

  for (int step = 0; step < 6 && fdp.remaining_bytes() > 0; ++step) {
    const int r = static_cast<int>(m.shape.size());
    switch (fdp.ConsumeIntegralInRange(0, 3)) {
      case 0: {  // slice
        const int d = fdp.ConsumeIntegralInRange(-5, 4);
        const int64_t a = fdp.ConsumeIntegralInRange<int64_t>(-2, 260),
                      b = fdp.ConsumeIntegralInRange<int64_t>(-2, 260);
        const int64_t st = fdp.ConsumeBool() ? 1 : fdp.ConsumeIntegralInRange<int64_t>(-1, 9);
        const int dd = d < 0 ? d + r : d;
        const bool valid = dd >= 0 && dd < r && st >= 1 && a >= 0 && b <= m.shape[static_cast<size_t>(dd)] &&
                           a <= b;  // a == b: empty
        try {
          Tensor t = v.slice(d, a, b, st);
          if (!valid) fail("slice accepted invalid arguments");
          Model nm{m.shape, {}};
          nm.shape[static_cast<size_t>(dd)] = (b - a + st - 1) / st;
          const int64_t old_extent = m.shape[static_cast<size_t>(dd)];
          const int64_t count = old_extent == 0 ? 0
                                                : static_cast<int64_t>(m.idx.size()) / old_extent *
                                                      nm.shape[static_cast<size_t>(dd)];
          for (int64_t l = 0; l < count; ++l) {
            auto c = coords_of(l, nm.shape);
            c[static_cast<size_t>(dd)] = a + c[static_cast<size_t>(dd)] * st;
            nm.idx.push_back(m.idx[static_cast<size_t>(linear_of(c, m.shape))]);
          }
          v = t;
          m = nm;
        } catch (const Error& e) {
          if (valid) fail("slice refused valid arguments");
          check_error(e);
        }
        break;
      }
      case 1: {  // transpose
        const int a = fdp.ConsumeIntegralInRange(-5, 4), b = fdp.ConsumeIntegralInRange(-5, 4);
        const int aa = a < 0 ? a + r : a, bb = b < 0 ? b + r : b;
        const bool valid = aa >= 0 && aa < r && bb >= 0 && bb < r;
        try {
          Tensor t = v.transpose(a, b);
          if (!valid) fail("transpose accepted invalid dims");
          Model nm{m.shape, std::vector<int64_t>(m.idx.size())};
          std::swap(nm.shape[static_cast<size_t>(aa)], nm.shape[static_cast<size_t>(bb)]);
          for (size_t l = 0; l < nm.idx.size(); ++l) {
            auto c = coords_of(static_cast<int64_t>(l), nm.shape);
            std::swap(c[static_cast<size_t>(aa)], c[static_cast<size_t>(bb)]);
            nm.idx[l] = m.idx[static_cast<size_t>(linear_of(c, m.shape))];
          }
          v = t;
          m = nm;
        } catch (const Error& e) {
          if (valid) fail("transpose refused valid dims");
          check_error(e);
        }
        break;
      }
      case 2: {  // reshape: same elements in the same order, whenever it is accepted
        std::vector<int64_t> shape(static_cast<size_t>(fdp.ConsumeIntegralInRange(1, 4)));
        for (auto& e : shape) e = fdp.ConsumeIntegralInRange<int64_t>(-1, 17);
        int64_t numel = 1;
        bool extents_ok = true;  // extents >= 0 (0: an empty tensor)
        for (auto e : shape) {
          extents_ok = extents_ok && e >= 0;
          numel *= e;
        }
        // An empty tensor reshapes to any shape of 0 elements: there is no element to keep in place.
        const bool viewable = v.is_contiguous() || m.idx.empty();
        try {
          Tensor t = v.reshape(to_shape(shape));
          if (!extents_ok || numel != static_cast<int64_t>(m.idx.size()))
            fail("reshape accepted a wrong shape");
          v = t;
          m.shape = shape;
        } catch (const Error& e) {
          if (viewable && extents_ok && numel == static_cast<int64_t>(m.idx.size()))
            fail("reshape of a contiguous or empty tensor refused");
          check_error(e);
        }
        break;
      }
      case 3: {  // view: explicit shape, strides and offset into the whole buffer
        std::vector<int64_t> shape(static_cast<size_t>(fdp.ConsumeIntegralInRange(1, 4))),
            strides(shape.size());
        for (size_t d = 0; d < shape.size(); ++d) {
          shape[d] = fdp.ConsumeIntegralInRange<int64_t>(0, 9);
          strides[d] = fdp.ConsumeBool() ? fdp.ConsumeIntegralInRange<int64_t>(-1, 40)
                                         : fdp.ConsumeIntegral<int64_t>();  // huge: overflow paths
        }
        const int64_t off = fdp.ConsumeBool() ? 4 * fdp.ConsumeIntegralInRange<int64_t>(0, 300)
                                              : fdp.ConsumeIntegral<int64_t>();
        // Valid iff strides >= 0, the offset is a non-negative multiple of 4 and either some
        // extent is 0 (an empty view: it reaches no element, the offset at most the buffer's
        // end) or the last reachable element is inside the buffer (computed without overflow).
        bool valid = off >= 0 && off % 4 == 0;
        bool empty = false;
        __int128 last = off / 4;
        for (size_t d = 0; d < shape.size(); ++d) {
          valid = valid && strides[d] >= 0;
          empty = empty || shape[d] == 0;
          last += static_cast<__int128>(shape[d] - 1) * strides[d];
        }
        valid = valid && (empty ? off / 4 <= n : last < n);
        try {
          Tensor t = v.view(to_shape(shape), to_shape(strides), off);
          if (!valid) fail("view accepted an out-of-bounds or malformed view");
          Model nm{shape, {}};
          int64_t count = 1;
          for (auto e : shape) count *= e;
          for (int64_t l = 0; l < count; ++l) {
            const auto c = coords_of(l, shape);
            int64_t e = off / 4;
            for (size_t d = 0; d < shape.size(); ++d) e += c[d] * strides[d];
            nm.idx.push_back(e);
          }
          v = t;
          m = nm;
        } catch (const Error& e) {
          if (valid) fail("view refused an in-bounds view");
          check_error(e);
        }
        break;
      }
    }
  }
  check_against_storage(s, storage, v, m);
  return 0;
}
