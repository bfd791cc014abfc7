// Shape: an N-d extent list (rank <= 10: nested jets add one axis per level) stored inline, so creating a tensor allocates no shape.
// The same type holds strides (in elements) and axis lists.
#pragma once
#include "tide/core/error.hpp"
#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <vector>

namespace tide {

inline constexpr int max_rank = 10;

class Shape {
public:
  // Extents past rank() are left unset (creating a tensor or a tape node writes no dead extents);
  // they sit in a union, whose implicit copy copies the object representation, so copying a Shape
  // is a plain 72-byte copy with no read of an indeterminate value.
  Shape() noexcept {}
  Shape(std::initializer_list<std::int64_t> dims) { assign(dims.begin(), dims.end()); }
  explicit Shape(std::span<const std::int64_t> dims) { assign(dims.begin(), dims.end()); }
  explicit Shape(const std::vector<std::int64_t>& dims) { assign(dims.begin(), dims.end()); }

  static Shape filled(int rank, std::int64_t value) {
    Shape s;
    s.resize(rank, value);
    return s;
  }

  int size() const { return rank_; }
  int rank() const { return rank_; }
  bool empty() const { return rank_ == 0; }
  std::int64_t& operator[](int i) { return dims_[i]; }
  std::int64_t operator[](int i) const { return dims_[i]; }
  // Python-style index from the back: at(-1) is the last extent.
  std::int64_t back(int from_end = 1) const { return dims_[rank_ - from_end]; }
  const std::int64_t* begin() const { return dims_; }
  const std::int64_t* end() const { return dims_ + rank_; }
  std::int64_t* begin() { return dims_; }
  std::int64_t* end() { return dims_ + rank_; }
  std::vector<std::int64_t> vec() const { return {begin(), end()}; }

  void push_back(std::int64_t d) {
    if (rank_ == max_rank) fail("shape: rank above the maximum of {}", max_rank);
    dims_[rank_++] = d;
  }
  void resize(int rank, std::int64_t value = 0) {
    if (rank < 0 || rank > max_rank) fail("shape: rank {} outside [0, {}]", rank, max_rank);
    for (int i = rank_; i < rank; ++i) dims_[i] = value;
    rank_ = static_cast<std::uint8_t>(rank);
  }
  std::int64_t numel() const {  // hot (every op): no branch in the loop, one test after it
    std::int64_t n = 1;
    bool overflow = false;
    for (int i = 0; i < rank_; ++i) overflow |= __builtin_mul_overflow(n, dims_[i], &n);
    if (overflow) [[unlikely]]
      return numel_overflow();
    return n;
  }
  // An inline loop: std::equal became a call of memcmp, ~4% of an eager gradient on small shapes.
  friend bool operator==(const Shape& a, const Shape& b) {
    if (a.rank_ != b.rank_) return false;
    for (int i = 0; i < a.rank_; ++i)
      if (a.dims_[i] != b.dims_[i]) return false;
    return true;
  }
  // numel() past int64: zero when an extent is zero (the product overflowed before it), else refused
  // (a broadcast to a huge shape would otherwise size and index with a wrapped count).
  [[gnu::cold]] std::int64_t numel_overflow() const;  // (tensor.cpp: out of line, off every numel caller's path)
  std::string str() const {
    std::string s = "[";
    for (int i = 0; i < rank_; ++i) s += (i ? ", " : "") + std::to_string(dims_[i]);
    return s + "]";
  }

private:
  template <class It> void assign(It first, It last) {
    rank_ = 0;
    for (; first != last; ++first) push_back(*first);
  }
  union {
    std::int64_t dims_[max_rank];
  };
  std::uint8_t rank_ = 0;
};

// Contiguous (row-major) strides for a shape, written into `strides` (Tensor::empty's strides are
// written in place). A zero extent counts as 1. Only an empty shape (a zero extent beside huge ones)
// can make the extents' product overflow int64: its strides are then all 1, as it addresses no
// element and its views' offsets (index * stride) and unsqueezed strides must stay in range.
inline void write_contiguous_strides(const Shape& shape, Shape& strides) {
  strides.resize(shape.rank(), 1);
  std::int64_t span = 1;  // the product of the extents after axis i (and at the end, all of them)
  bool overflow = false;
  for (int i = shape.rank() - 1; i >= 0; --i) {
    strides[i] = span;
    overflow |= __builtin_mul_overflow(span, std::max<std::int64_t>(shape[i], 1), &span);
  }
  if (overflow) [[unlikely]]
    std::fill(strides.begin(), strides.end(), std::int64_t{1});
}
inline Shape contiguous_strides(const Shape& shape) {
  Shape s;
  write_contiguous_strides(shape, s);
  return s;
}

// Whether a layout is row-major contiguous (extent-1 axes may have any stride; an empty shape is).
inline bool is_contiguous_layout(const Shape& shape, const Shape& strides) {
  if (shape.numel() == 0) return true;
  std::int64_t expected = 1;
  for (int i = shape.rank() - 1; i >= 0; --i) {
    if (shape[i] != 1 && strides[i] != expected) return false;
    expected *= shape[i];
  }
  return true;
}

// NumPy broadcasting of two shapes; `op` names the operation for the error message.
inline Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const int rank = std::max(a.rank(), b.rank());
  Shape out = Shape::filled(rank, 1);
  for (int i = 0; i < rank; ++i) {
    const std::int64_t da = i < rank - a.rank() ? 1 : a[i - (rank - a.rank())];
    const std::int64_t db = i < rank - b.rank() ? 1 : b[i - (rank - b.rank())];
    if (da != db && da != 1 && db != 1)
      fail("{}: shapes {} and {} cannot be broadcast together (axis {}: {} vs {})", op, a.str(),
           b.str(), i, da, db);
    out[i] = da == 1 ? db : da;
  }
  return out;
}

// Normalises a possibly negative axis against a rank; `op` names the operation for errors.
inline int normalize_axis(std::int64_t axis, int rank, const char* op) {
  if (axis < -rank || axis >= rank)
    fail("{}: axis {} out of range for a tensor of rank {}", op, axis, rank);
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

}  // namespace tide
