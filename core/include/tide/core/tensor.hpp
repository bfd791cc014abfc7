// Tensor: a strided view (shape, strides, offset, dtype) onto reference-counted Storage that lives
// on one Device. Views (reshape of contiguous data, permute, slice, broadcast) share storage; data
// is copied only when a layout demands it. Every Storage carries a version counter that in-place
// writes bump, so the tape can detect saved values modified after they were saved. Storage itself
// is private to the core (core/src/tensor_access.hpp): the backends reach it through TensorAccess.
#pragma once
#include "tide/core/dtype.hpp"
#include "tide/core/shape.hpp"
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <vector>

namespace tide {

class Backend;

namespace detail {
struct Storage;       // one allocation on one device (core/src/tensor_access.hpp)
struct TensorAccess;  // the core's and the backends' way to a tensor's storage and layout
}  // namespace detail

// The device that creation functions (Tensor::zeros, from_vector, Generator draws, nn layers) use
// when none is named: the CPU, unless a DeviceGuard is alive on this thread. With a guard, code
// written without devices in mind (a model, a dynamics function, a test case) runs on the device.
Device default_device();
class DeviceGuard {
public:
  explicit DeviceGuard(Device device);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;
private:
  Device previous_;
};

// Bytes held by tensor storage (every device, inline storage included) now and at the peak since
// the last reset_peak_memory(): what the memory benchmarks read.
struct MemoryStats {
  std::int64_t current = 0, peak = 0;
};
MemoryStats memory_stats();
void reset_peak_memory();
// Bytes of tensor storage allocated on the calling thread less those freed on it, since it
// started: the growth over a stretch of this thread's work, whatever other threads do meanwhile.
std::int64_t thread_memory_bytes();

class Tensor {
public:
  // An undefined tensor; defined() is false. User-provided, so that value-initialisation (Tensor(),
  // a vector of n tensors) runs the member initialisers instead of first zeroing all 208 bytes.
  Tensor() noexcept {}

  // ---- creation -------------------------------------------------------------------------------
  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = default_device());
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = default_device());
  static Tensor ones(const Shape& shape, DType dtype = DType::f32, Device device = default_device());
  static Tensor full(const Shape& shape, double value, DType dtype = DType::f32,
                     Device device = default_device());
  static Tensor scalar(double value, DType dtype = DType::f32, Device device = default_device());
  // Values in row-major order; their count must equal shape.numel().
  static Tensor from_vector(const std::vector<double>& values, const Shape& shape,
                            DType dtype = DType::f32, Device device = default_device());
  static Tensor from_indices(const std::vector<std::int64_t>& values, const Shape& shape,
                             Device device = default_device());
  static Tensor arange(std::int64_t n, DType dtype = DType::f32, Device device = default_device());

  // ---- properties -----------------------------------------------------------------------------
  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }
  std::int64_t offset() const { return offset_; }
  int rank() const { return shape_.rank(); }
  std::int64_t numel() const { return shape_.numel(); }
  std::int64_t size(std::int64_t axis) const { return shape_[normalize_axis(axis, rank(), "size")]; }
  DType dtype() const { return dtype_; }
  // Kept with the layout as the storage's device kind (asked on nearly every op); tide uses one
  // device per kind, so its index is 0 (backend_for refuses any other).
  Device device() const { return {device_kind_, 0}; }
  Backend& backend() const;
  bool is_contiguous() const { return contiguous_; }  // kept with the layout: asked on nearly every op
  // Pointer to the first element (device memory for device tensors): read-only through a const
  // tensor, writable through a non-const one. Writes through it do not bump the version.
  const void* raw_data() const;
  void* raw_data();
  template <class T> const T* data() const { return static_cast<const T*>(raw_data()); }
  template <class T> T* data() { return static_cast<T*>(raw_data()); }
  // The storage's write counter (shared by every view of it; 0 for an undefined tensor). The
  // in-place writes below bump it; bump it by hand after writing through data().
  std::uint64_t version() const;
  void bump_version();
  bool shares_storage_with(const Tensor& other) const { return storage_ == other.storage_; }
  std::string str() const;  // "f32[2, 3]"; "undefined" for an undefined tensor
  // The values as nested brackets, e.g. "f32[2, 3] [[1, 2, 3], [4, 5, 6]]"; axes longer than
  // 2 * edge_items show their first and last edge_items entries around "..." (edge_items <= 0: all).
  std::string format(int edge_items = 3) const;

  // ---- views (no copy) --------------------------------------------------------------------------
  // Each, and contiguous(), refuses an undefined tensor.
  // reshape is a view when the layout allows it, a copy otherwise. One extent may be -1.
  Tensor reshape(const Shape& shape) const;
  Tensor permute(const Shape& axes) const;
  Tensor transpose(std::int64_t a = -2, std::int64_t b = -1) const;
  // Elements start, start+step, ... < stop along axis (negative start/stop count from the end).
  Tensor slice(std::int64_t axis, std::int64_t start, std::int64_t stop, std::int64_t step = 1) const;
  Tensor select(std::int64_t axis, std::int64_t index) const;  // drops the axis
  Tensor broadcast_to(const Shape& shape) const;
  Tensor unsqueeze(std::int64_t axis) const;
  Tensor squeeze(std::int64_t axis) const;

  // ---- copies -----------------------------------------------------------------------------------
  Tensor contiguous() const;  // this, if already contiguous
  Tensor clone() const;       // always a fresh contiguous copy
  Tensor to(DType dtype) const;
  Tensor to(Device device) const;

  // ---- in-place writes (bump the version) --------------------------------------------------------
  Tensor& fill_(double value);
  Tensor& zero_() { return fill_(0.0); }
  Tensor& copy_(const Tensor& src);                 // src broadcast to this shape, cast to dtype
  Tensor& add_(const Tensor& other, double alpha = 1.0);  // this += alpha * other
  Tensor& mul_(double factor);

  // ---- host access (copies device data to the host) ------------------------------------------------
  double item() const;  // the single element of a one-element tensor
  std::vector<double> to_vector() const;  // row-major values as double
  std::vector<std::int64_t> to_indices() const;

private:
  friend struct detail::TensorAccess;
  std::shared_ptr<detail::Storage> storage_;
  Shape shape_, strides_;
  std::int64_t offset_ = 0;
  DType dtype_ = DType::f32;
  bool contiguous_ = true;  // is_contiguous_layout(shape_, strides_), set wherever the layout is
  // storage_->device.kind, set wherever storage_ is; cpu for a tensor never given storage (a moved-from
  // one keeps its kind: like its other fields, it is only for assigning to)
  DeviceKind device_kind_ = DeviceKind::cpu;
};

std::ostream& operator<<(std::ostream& out, const Tensor& t);  // writes t.format()

}  // namespace tide
