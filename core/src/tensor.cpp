// Tensor layout logic: creation, views, copies and host access. Kernels live in the backends.
#include "tide/core/tensor.hpp"
#include "tensor_access.hpp"
#include "plan/record.hpp"
#include "tide/core/small_blocks.hpp"
#include "tide/core/backend.hpp"
#include "tide/core/ops.hpp"
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <numeric>
#include <ostream>
#include <utility>

namespace tide {

std::int64_t Shape::numel_overflow() const {
  if (std::find(begin(), end(), 0) != end()) return 0;
  fail("shape {}: the element count overflows a 64-bit integer", str());
}


using detail::Storage;
using detail::TensorAccess;

namespace {
std::atomic<std::int64_t> memory_current{0}, memory_peak{0};
thread_local std::int64_t thread_bytes = 0;
void count_allocation(std::int64_t bytes) {
  thread_bytes += bytes;
  const std::int64_t now = memory_current.fetch_add(bytes, std::memory_order_relaxed) + bytes;
  std::int64_t peak = memory_peak.load(std::memory_order_relaxed);
  while (now > peak && !memory_peak.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {}
}
}  // namespace

namespace {
thread_local Device current_default = Device::cpu();
std::atomic<std::uint64_t> storage_serials{0};
}
thread_local detail::BackendHook* detail::backend_hook = nullptr;
std::uint64_t detail::next_storage_serial() { return storage_serials.load(std::memory_order_relaxed); }
Device default_device() { return current_default; }
DeviceGuard::DeviceGuard(Device device) : previous_(current_default) {
  backend_for(device);  // an unavailable device fails here, where the guard is made
  current_default = device;
}
DeviceGuard::~DeviceGuard() { current_default = previous_; }

MemoryStats memory_stats() { return {memory_current.load(), memory_peak.load()}; }
std::int64_t thread_memory_bytes() { return thread_bytes; }
void reset_peak_memory() { memory_peak.store(memory_current.load()); }

Storage::Storage(Backend& b, std::size_t n)
    : backend(&b), device(b.device()), data(n <= inline_bytes && device.kind == DeviceKind::cpu ? inline_buffer : b.allocate(n)), bytes(n),
      serial(storage_serials.fetch_add(1, std::memory_order_relaxed)) {
  count_allocation(static_cast<std::int64_t>(n));
}
Storage::~Storage() {
  if (data != inline_buffer) backend->deallocate(data, bytes);
  memory_current.fetch_sub(static_cast<std::int64_t>(bytes), std::memory_order_relaxed);
  thread_bytes -= static_cast<std::int64_t>(bytes);
}


Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  std::int64_t bytes = static_cast<std::int64_t>(dtype_size(dtype));
  bool overflow = false;
  for (auto d : shape) {
    if (d < 0) fail("Tensor::empty: negative extent in shape {}", shape.str());
    overflow |= __builtin_mul_overflow(bytes, d, &bytes);
  }
  // a zero extent empties the tensor however large the extents before it
  if (overflow && std::find(shape.begin(), shape.end(), 0) == shape.end())
    fail("Tensor::empty: shape {} of {} is too large to allocate", shape.str(), dtype_name(dtype));
  Tensor t;
  t.storage_ = make_pooled<Storage>(backend_for(device), static_cast<std::size_t>(shape.numel()) * dtype_size(dtype));
  t.device_kind_ = t.storage_->device.kind;
  t.shape_ = shape;
  // The strides written in place: a Shape built on the stack and then copied stalls the copy's
  // 16-byte loads, which cannot take the just-stored 8-byte extents from the store buffer. Without
  // a zero extent their product is below the byte count, so the plain loop cannot overflow (the
  // checked one cost the LTC step 1.7%); an empty shape takes the checked one.
  if (bytes == 0 || overflow) {
    write_contiguous_strides(shape, t.strides_);
  } else {
    t.strides_.resize(shape.rank(), 1);
    for (int i = shape.rank() - 2; i >= 0; --i) t.strides_[i] = t.strides_[i + 1] * shape[i + 1];
  }
  t.dtype_ = dtype;
  return t;
}
Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) { return full(shape, 0.0, dtype, device); }
Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) { return full(shape, 1.0, dtype, device); }
Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.backend().fill(t, value);
  return t;
}
Tensor Tensor::scalar(double value, DType dtype, Device device) { return full(Shape{}, value, dtype, device); }

Tensor Tensor::from_vector(const std::vector<double>& values, const Shape& shape, DType dtype, Device device) {
  if (static_cast<std::int64_t>(values.size()) != shape.numel())
    fail("Tensor::from_vector: {} values for shape {} ({} elements)", values.size(), shape.str(), shape.numel());
  if (dtype == DType::i64) fail("Tensor::from_vector: use from_indices for i64 tensors");
  Tensor host = empty(shape, dtype, Device::cpu());
  if (dtype == DType::f64 && !values.empty()) std::memcpy(host.raw_data(), values.data(), values.size() * 8);
  else if (!values.empty()) std::transform(values.begin(), values.end(), host.data<float>(), [](double v) { return static_cast<float>(v); });
  return host.to(device);
}
Tensor Tensor::from_indices(const std::vector<std::int64_t>& values, const Shape& shape, Device device) {
  if (static_cast<std::int64_t>(values.size()) != shape.numel())
    fail("Tensor::from_indices: {} values for shape {} ({} elements)", values.size(), shape.str(), shape.numel());
  Tensor host = empty(shape, DType::i64, Device::cpu());
  if (!values.empty()) std::memcpy(host.raw_data(), values.data(), values.size() * 8);
  return host.to(device);
}
Tensor Tensor::arange(std::int64_t n, DType dtype, Device device) {
  if (n < 0) fail("Tensor::arange: negative length {}", n);
  // filled in place: a staging std::vector of a huge n failed with a bare std::length_error
  Tensor host;
  try {
    host = empty(Shape{n}, dtype, Device::cpu());
  } catch (const Error& e) {
    fail("Tensor::arange({}, {}): {}", n, dtype_name(dtype), e.what());
  }
  if (dtype == DType::i64) std::iota(host.data<std::int64_t>(), host.data<std::int64_t>() + n, std::int64_t{0});
  else if (dtype == DType::f64) std::iota(host.data<double>(), host.data<double>() + n, 0.0);
  else std::generate_n(host.data<float>(), n, [i = 0.0]() mutable { return static_cast<float>(i++); });
  return host.to(device);
}

Backend& Tensor::backend() const {
  if (!storage_) fail("operation on an undefined tensor");
  if (detail::backend_hook) [[unlikely]] return detail::backend_hook->wrap(*storage_->backend);
  return *storage_->backend;
}
const void* Tensor::raw_data() const {
  if (!storage_) fail("data access on an undefined tensor");
  return static_cast<const char*>(storage_->data) + offset_ * static_cast<std::int64_t>(dtype_size(dtype_));
}
void* Tensor::raw_data() { return const_cast<void*>(std::as_const(*this).raw_data()); }
std::uint64_t Tensor::version() const { return storage_ ? storage_->version : 0; }
void Tensor::bump_version() {
  if (storage_) ++storage_->version;
}
std::string Tensor::str() const { return defined() ? std::string(dtype_name(dtype_)) + shape_.str() : "undefined"; }

std::string Tensor::format(int edge_items) const {
  if (!defined()) return "undefined";
  const Tensor host = to(Device::cpu());
  const bool integral = dtype_ == DType::i64;
  const std::vector<double> values = integral ? std::vector<double>() : host.to_vector();
  const std::vector<std::int64_t> indices = integral ? host.to_indices() : std::vector<std::int64_t>();
  const Shape strides = contiguous_strides(shape_);
  std::string out = str() + " ";
  // Recursive over axes (rank <= 8), eliding the middle of long axes.
  auto emit = [&](auto&& self, int axis, std::int64_t at) -> void {
    if (axis == rank()) {
      out += integral ? std::to_string(indices[at]) : fmt::format("{:.6g}", values[at]);
      return;
    }
    out += "[";
    const std::int64_t n = shape_[axis];
    for (std::int64_t i = 0; i < n; ++i) {
      if (edge_items > 0 && n > 2 * std::int64_t{edge_items} && i == edge_items) {  // 0 or less: no elision
        out += "..., ";
        i = n - edge_items;
      }
      self(self, axis + 1, at + i * strides[axis]);
      if (i + 1 < n) out += ", ";
    }
    out += "]";
  };
  emit(emit, 0, 0);
  return out;
}

std::ostream& operator<<(std::ostream& out, const Tensor& t) { return out << t.format(); }

namespace {
// A view of an undefined tensor would be another undefined one with a shape: a bug found far from its cause.
void check_defined(const Tensor& t, const char* op) {
  if (!t.defined()) fail("{}: the tensor is undefined (default-constructed)", op);
}
}  // namespace

Tensor Tensor::reshape(const Shape& shape) const {
  check_defined(*this, "reshape");
  if (shape == shape_ && is_contiguous()) return *this;  // the common no-op (a 2-d input reshaped to rows)
  Shape target = shape;
  int infer = -1;
  std::int64_t known = 1;
  for (int i = 0; i < target.rank(); ++i) {
    if (target[i] == -1) {
      if (infer >= 0) fail("reshape: more than one -1 in {}", shape.str());
      infer = i;
    } else if (target[i] < 0) {
      fail("reshape: negative extent in {}", shape.str());
    } else if (__builtin_mul_overflow(known, target[i], &known)) {
      known = 0;  // past int64 (a zero extent after it makes it 0 too): no extent fits the -1
    }
  }
  if (infer >= 0) {
    if (known == 0 || numel() % known != 0)
      fail("reshape: cannot reshape {} ({} elements) to {}", shape_.str(), numel(), shape.str());
    target[infer] = numel() / known;
  }
  if (target.numel() != numel())
    fail("reshape: cannot reshape {} ({} elements) to {} ({} elements)", shape_.str(), numel(),
         target.str(), target.numel());
  if (is_contiguous()) return TensorAccess::as_strided(*this, target, contiguous_strides(target), offset_);
  return contiguous().reshape(target);
}

Tensor Tensor::permute(const Shape& axes) const {
  check_defined(*this, "permute");
  if (axes.rank() != rank()) fail("permute: {} axes given for a tensor of shape {}", axes.rank(), shape_.str());
  Shape s = shape_, st = strides_;
  unsigned seen = 0;
  for (int i = 0; i < rank(); ++i) {
    const int a = normalize_axis(axes[i], rank(), "permute");
    if (seen & (1u << a)) fail("permute: axis {} repeated in {}", a, axes.str());
    seen |= 1u << a;
    s[i] = shape_[a];
    st[i] = strides_[a];
  }
  return TensorAccess::as_strided(*this, s, st, offset_);
}

Tensor Tensor::transpose(std::int64_t a, std::int64_t b) const {
  check_defined(*this, "transpose");
  const int ia = normalize_axis(a, rank(), "transpose"), ib = normalize_axis(b, rank(), "transpose");
  Shape s = shape_, st = strides_;  // two entries swapped: no permutation to build and check
  std::swap(s[ia], s[ib]);
  std::swap(st[ia], st[ib]);
  return TensorAccess::as_strided(*this, s, st, offset_);
}

namespace {
// offset + index * stride of a view. Past int64 only in an empty tensor (huge extents beside a zero
// one, offsets piled up through its views), which addresses no element: its offset is kept.
std::int64_t view_offset(std::int64_t offset, std::int64_t index, std::int64_t stride) {
  std::int64_t step = 0, out = 0;
  if (__builtin_mul_overflow(index, stride, &step) || __builtin_add_overflow(offset, step, &out)) return offset;
  return out;
}
}  // namespace

Tensor Tensor::slice(std::int64_t axis, std::int64_t start, std::int64_t stop, std::int64_t step) const {
  check_defined(*this, "slice");
  const int a = normalize_axis(axis, rank(), "slice");
  if (step <= 0) fail("slice: step must be positive, got {}", step);
  const std::int64_t n = shape_[a];
  if (start < 0) start += n;
  if (stop < 0) stop += n;
  start = std::clamp<std::int64_t>(start, 0, n);
  stop = std::clamp<std::int64_t>(stop, start, n);
  Shape s = shape_, st = strides_;
  s[a] = stop > start ? 1 + (stop - start - 1) / step : 0;
  // Only a step past the axis (one element taken, the stride never stepped) can overflow here.
  if (__builtin_mul_overflow(strides_[a], step, &st[a])) st[a] = strides_[a];
  return TensorAccess::as_strided(*this, s, st, view_offset(offset_, start, strides_[a]));
}

Tensor Tensor::select(std::int64_t axis, std::int64_t index) const {
  check_defined(*this, "select");
  const int a = normalize_axis(axis, rank(), "select");
  if (index < -shape_[a] || index >= shape_[a])
    fail("select: index {} out of range for axis {} of shape {}", index, a, shape_.str());
  if (index < 0) index += shape_[a];
  Shape s, st;
  for (int i = 0; i < rank(); ++i)
    if (i != a) { s.push_back(shape_[i]); st.push_back(strides_[i]); }
  return TensorAccess::as_strided(*this, s, st, view_offset(offset_, index, strides_[a]));
}

Tensor Tensor::broadcast_to(const Shape& shape) const {
  check_defined(*this, "broadcast_to");
  if (shape.rank() < rank()) fail("broadcast_to: cannot broadcast {} to the lower rank {}", shape_.str(), shape.str());
  for (auto d : shape)
    if (d < 0) fail("broadcast_to: negative extent in target shape {}", shape.str());
  Shape st = Shape::filled(shape.rank(), 0);
  const int lead = shape.rank() - rank();
  for (int i = 0; i < rank(); ++i) {
    if (shape_[i] == shape[lead + i]) st[lead + i] = strides_[i];
    else if (shape_[i] == 1) st[lead + i] = 0;
    else fail("broadcast_to: cannot broadcast {} to {} (axis {}: {} vs {})", shape_.str(), shape.str(), i, shape_[i], shape[lead + i]);
  }
  return TensorAccess::as_strided(*this, shape, st, offset_);
}

Tensor Tensor::unsqueeze(std::int64_t axis) const {
  check_defined(*this, "unsqueeze");
  const int a = normalize_axis(axis, rank() + 1, "unsqueeze");
  Shape s, st;
  for (int i = 0; i <= rank(); ++i) {
    if (i == a) { s.push_back(1); st.push_back(i < rank() ? strides_[i] * shape_[i] : 1); }
    if (i < rank()) { s.push_back(shape_[i]); st.push_back(strides_[i]); }
  }
  return TensorAccess::as_strided(*this, s, st, offset_);
}

Tensor Tensor::squeeze(std::int64_t axis) const {
  check_defined(*this, "squeeze");
  const int a = normalize_axis(axis, rank(), "squeeze");
  if (shape_[a] != 1) fail("squeeze: axis {} of shape {} has extent {}, not 1", a, shape_.str(), shape_[a]);
  return select(a, 0);
}

Tensor Tensor::contiguous() const {
  check_defined(*this, "contiguous");
  return is_contiguous() ? *this : clone();
}
Tensor Tensor::clone() const {
  Tensor out = empty(shape_, dtype_, device());
  backend().copy(*this, out);
  return out;
}
Tensor Tensor::to(DType dtype) const {
  if (dtype == dtype_) return *this;
  Tensor out = empty(shape_, dtype, device());
  backend().copy(*this, out);
  return out;
}
Tensor Tensor::to(Device device) const {
  if (!storage_) fail("to({}): undefined tensor", device.str());  // a moved-from one keeps its device kind
  if (device == this->device()) return *this;
  if (detail::backend_hook) [[unlikely]] detail::check_traced_transfer(*this, device);  // a replay could not repeat it
  const Tensor src = contiguous();
  Tensor out = empty(shape_, dtype_, device);
  const std::size_t bytes = static_cast<std::size_t>(numel()) * dtype_size(dtype_);
  if (this->device().kind == DeviceKind::cpu) out.backend().copy_from_host(src.raw_data(), out.raw_data(), bytes);
  else if (device.kind == DeviceKind::cpu) src.backend().copy_to_host(src.raw_data(), out.raw_data(), bytes);
  else return to(Device::cpu()).to(device);
  return out;
}

Tensor& Tensor::fill_(double value) {
  if (is_contiguous()) backend().fill(*this, value);
  else backend().copy(Tensor::full(Shape{}, value, dtype_, device()).broadcast_to(shape_), *this);
  bump_version();
  return *this;
}
namespace {
// An in-place write through a view in which several indices share one element (a broadcast axis)
// would be order-dependent; refuse it, as the other engines do.
void check_writable(const Tensor& t, const char* op) {
  for (int i = 0; i < t.rank(); ++i)
    if (t.strides()[i] == 0 && t.shape()[i] > 1)
      fail("{}: {} is a broadcast view (axis {} has stride 0); write into a contiguous copy (clone) instead",
           op, t.str(), i);
}
}  // namespace

Tensor& Tensor::copy_(const Tensor& src) {
  if (!src.defined()) fail("copy_: undefined source tensor");
  check_writable(*this, "copy_");
  check_same_device(*this, src, "copy_");
  // a source overlapping this tensor's storage is read in full before any element is written
  const Tensor from = src.shares_storage_with(*this) ? src.clone() : src;
  backend().copy(from.broadcast_to(shape_), *this);
  bump_version();
  return *this;
}
Tensor& Tensor::add_(const Tensor& other, double alpha) {
  check_finite_scalar(alpha, "add_", "alpha");  // checked here, not as mul_scalar's scalar below
  // The common case (a gradient accumulated into a buffer of its own layout), which every check
  // below would pass (for tensors with elements; with none there is nothing to write): one kernel call.
  if (alpha == 1.0 && contiguous_ && storage_ && other.storage_ && other.storage_ != storage_ && other.dtype_ == dtype_ && dtype_ != DType::i64 &&
      other.shape_ == shape_ && other.storage_->device == storage_->device) {
    backend().binary(Op::add, *this, other, *this);
    bump_version();
    return *this;
  }
  check_writable(*this, "add_");
  check_same_device(*this, other, "add_");
  if (!other.defined()) fail("add_: undefined tensor");
  check_floating(*this, "add_");
  check_same_dtype(*this, other, "add_");
  // an operand overlapping this tensor's storage is read in full before any element is written
  const Tensor b = alpha != 1.0 ? mul_scalar(other, alpha) : other.shares_storage_with(*this) ? other.clone() : other;
  const Shape out = broadcast_shapes(shape_, b.shape(), "add_");
  if (!(out == shape_)) fail("add_: cannot add {} into {} in place", other.shape().str(), shape_.str());
  if (is_contiguous()) backend().binary(Op::add, *this, b.shape() == shape_ ? b : b.broadcast_to(shape_), *this);
  else copy_(add(*this, b));
  bump_version();
  return *this;
}
Tensor& Tensor::mul_(double factor) {
  check_writable(*this, "mul_");
  check_floating(*this, "mul_");  // i64 holds indices: refused here, naming the op, not in the kernel
  check_finite_scalar(factor, "mul_", "the factor");  // as x * factor is, whatever the layout
  if (is_contiguous()) backend().unary(Op::mul_scalar, *this, *this, factor, 0.0);
  else copy_(mul_scalar(*this, factor));
  bump_version();
  return *this;
}

std::vector<double> Tensor::to_vector() const {
  if (detail::backend_hook) [[unlikely]] detail::backend_hook->host_read(*this);
  const Tensor host = to(Device::cpu()).to(dtype_ == DType::i64 ? DType::f64 : dtype_).contiguous();
  const std::int64_t n = numel();
  std::vector<double> v(static_cast<std::size_t>(n));
  if (host.dtype() == DType::f64 && n > 0) std::memcpy(v.data(), host.raw_data(), static_cast<std::size_t>(n) * 8);
  else for (std::int64_t i = 0; i < n; ++i) v[i] = host.data<float>()[i];
  return v;
}
std::vector<std::int64_t> Tensor::to_indices() const {
  if (dtype_ != DType::i64) fail("to_indices: tensor is {}, not i64", str());
  if (detail::backend_hook) [[unlikely]] detail::backend_hook->host_read(*this);
  const Tensor host = to(Device::cpu()).contiguous();
  const auto* p = host.data<std::int64_t>();
  return std::vector<std::int64_t>(p, p + numel());
}
double Tensor::item() const {
  if (numel() != 1) fail("item: tensor {} has {} elements, not 1", str(), numel());
  return to_vector()[0];
}

}  // namespace tide
