// Internal to the core and its backends: a Tensor's Storage and TensorAccess, the one way past
// Tensor's public surface (raw storage, explicit layouts, writable pointers into the outputs a
// backend receives as const Tensor&). Public headers only forward-declare both.
#pragma once
#include "tide/core/tensor.hpp"
#include <cstddef>
#include <cstdint>

namespace tide::detail {

// One allocation on one device, freed through the backend that made it. Host tensors of up to
// inline_bytes live inside the Storage object itself (one allocation instead of two: scalars and
// small vectors are common on the tape).
struct Storage {
  static constexpr std::size_t inline_bytes = 256;
  Storage(Backend& backend, std::size_t bytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  Backend* backend;
  Device device;  // backend->device(); each Tensor keeps its kind (Tensor::device() is asked on every op)
  void* data;
  std::size_t bytes;
  std::uint64_t version = 0;  // bumped by every in-place write
  std::uint64_t serial;       // creation order over the process: a trace tells its own buffers by it
  // Rewritten without version bumps (a plan's arena, whose buffers share offsets over a run; the
  // buffers a run writes, some of them more than once): nothing may key on its version.
  bool scratch = false;
  alignas(16) unsigned char inline_buffer[inline_bytes];  // 16: what malloc gives, so make_shared stays on the fast path
};

struct TensorAccess {
  // A view with explicit layout onto t's storage (no checks: the caller knows the layout fits).
  static Tensor as_strided(const Tensor& t, const Shape& shape, const Shape& strides, std::int64_t offset) {
    Tensor v;
    v.storage_ = t.storage_;
    v.device_kind_ = t.device_kind_;
    v.shape_ = shape;
    v.strides_ = strides;
    v.contiguous_ = is_contiguous_layout(shape, strides);
    v.offset_ = offset;
    v.dtype_ = t.dtype_;
    return v;
  }
  // A view of t's storage read as `dtype` (offset and strides in elements of dtype).
  static Tensor view_as(const Tensor& t, DType dtype, const Shape& shape, const Shape& strides, std::int64_t offset) {
    Tensor v = as_strided(t, shape, strides, offset);
    v.dtype_ = dtype;
    return v;
  }
  // A layout with no storage yet, and the storage (of `base`, at `offset` elements) given to such a
  // layout and taken back: a plan's per-run arguments keep their layout across runs.
  static Tensor layout(DType dtype, const Shape& shape, const Shape& strides) {
    Tensor v;
    v.shape_ = shape;
    v.strides_ = strides;
    v.contiguous_ = is_contiguous_layout(shape, strides);
    v.dtype_ = dtype;
    return v;
  }
  // The view does not own the storage (an aliasing shared_ptr with no control block: binding and
  // unbinding touch no reference count): the caller keeps the storage alive while the view is bound.
  static void bind(Tensor& view, Storage* storage, std::int64_t offset) {
    view.storage_ = std::shared_ptr<Storage>(std::shared_ptr<Storage>(), storage);
    view.device_kind_ = storage->device.kind;
    view.offset_ = offset;
  }
  static void unbind(Tensor& view) {
    view.storage_.reset();
    view.device_kind_ = DeviceKind::cpu;
  }
  static Storage* storage(const Tensor& t) { return t.storage_.get(); }
  // The start of t's storage (element offset 0), for kernels that add the layout's offsets.
  template <class T = void> static T* base(const Tensor& t) { return static_cast<T*>(t.storage_->data); }
};

// The first element of an output a backend is handed as const Tensor& (the op layer allocated it
// for the backend to write), writable.
template <class T = void> T* output_data(const Tensor& t) { return static_cast<T*>(const_cast<void*>(t.raw_data())); }

// Tracing (plan.hpp): while a recorder is installed on this thread, Tensor::backend() hands out
// recorder->wrap(backend) instead of the storage's own backend, and host reads of values fail.
class BackendHook {
public:
  virtual ~BackendHook() = default;
  virtual Backend& wrap(Backend& backend) = 0;
  virtual void host_read(const Tensor& t) = 0;
};
extern thread_local BackendHook* backend_hook;
// The serial the next Storage gets.
std::uint64_t next_storage_serial();

}  // namespace tide::detail
