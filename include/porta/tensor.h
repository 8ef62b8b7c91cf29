// Tensors: typed, strided views of device memory.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>

#include "porta/device.h"
#include "porta/dtype.h"

namespace porta {

namespace detail {
class BufferImpl;
}
class Stream;

constexpr int kMaxRank = 4;

/// Up to four extents (or strides). Unused trailing entries are zero.
struct Shape {
  int rank = 0;
  std::array<int64_t, kMaxRank> dims{};

  Shape() = default;
  Shape(std::initializer_list<int64_t> d);  // throws Error(invalid_argument) when rank > 4
  int64_t operator[](int i) const { return dims[static_cast<size_t>(i)]; }
  int64_t& operator[](int i) { return dims[static_cast<size_t>(i)]; }
  /// Product of extents (1 for rank 0). Throws on overflow.
  int64_t numel() const;
  bool operator==(const Shape& o) const;
  bool operator!=(const Shape& o) const { return !(*this == o); }
  /// "[2, 3, 4]"
  std::string str() const;
};

/// Row-major strides for `shape`.
Shape contiguous_strides(const Shape& shape);

/// A view of device memory: dtype, shape, strides (in elements) and a byte offset
/// into a shared buffer. Views never copy; the buffer lives while any view does.
/// Tensor handles are cheap to copy. The data is accessed through ops on a Stream.
class Tensor {
 public:
  Tensor() = default;

  /// Uninitialised contiguous tensor. Throws out_of_memory when the device cannot hold it.
  static Tensor empty(const Device& device, DType dtype, const Shape& shape);
  /// Contiguous tensor holding a copy of `host` (n = shape.numel() elements of dtype).
  /// Waits until the copy is done.
  static Tensor from_host(Stream& stream, DType dtype, const Shape& shape, const void* host);

  bool defined() const { return buffer_ != nullptr; }
  const Device& device() const { return device_; }
  DType dtype() const { return dtype_; }
  int rank() const { return shape_.rank; }
  const Shape& shape() const { return shape_; }
  int64_t dim(int i) const;  // negative i counts from the back
  const Shape& strides() const { return strides_; }
  int64_t stride(int i) const;
  int64_t offset_bytes() const { return offset_; }
  int64_t numel() const { return shape_.numel(); }
  int64_t nbytes() const { return numel() * static_cast<int64_t>(dtype_size(dtype_)); }
  bool is_contiguous() const;
  /// "f16[2, 8, 128]" plus strides when not contiguous.
  std::string str() const;

  // ---- views (no copy) ----
  /// Elements [start, end) along dim, every `step`-th.
  Tensor slice(int dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor transpose(int dim0, int dim1) const;
  /// Same elements with another shape, as a view: works whenever the dims it merges or
  /// splits are laid out one after another (always for contiguous tensors); otherwise
  /// throws invalid_argument (ops::copy into a contiguous tensor first).
  Tensor reshape(const Shape& shape) const;
  /// Reinterprets the buffer with explicit shape, strides and byte offset; checked to stay in bounds.
  Tensor view(const Shape& shape, const Shape& strides, int64_t offset_bytes) const;

  // ---- host transfer (contiguous host data, shape().numel() elements) ----
  /// Copies host data into this view (any strides); asynchronous on `stream`
  /// but `host` may be reused when the call returns.
  void copy_from_host(Stream& stream, const void* host);
  /// Copies this view into contiguous host memory; waits for the stream.
  void copy_to_host(Stream& stream, void* host) const;

  // internal
  Tensor(Device device, std::shared_ptr<detail::BufferImpl> buffer, DType dtype, const Shape& shape,
         const Shape& strides, int64_t offset_bytes);
  detail::BufferImpl* buffer() const { return buffer_.get(); }
  const std::shared_ptr<detail::BufferImpl>& shared_buffer() const { return buffer_; }

 private:
  Device device_;
  std::shared_ptr<detail::BufferImpl> buffer_;
  DType dtype_ = DType::f32;
  Shape shape_;
  Shape strides_;
  int64_t offset_ = 0;
};

}  // namespace porta
