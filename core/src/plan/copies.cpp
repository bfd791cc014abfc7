// Copy elision (copies.hpp). A copy C of temporary T into part S of temporary U goes when:
//  - T is written once, whole and contiguously, by an earlier call A, C is its only reader, and the
//    plan does not return it;
//  - S is contiguous, of T's size and dtype, and A touches U otherwise only to write beside S;
//  - between A and C no call reads U, and none writes U where S lies.
// A then writes S itself: S holds the same value from A on, and nothing could see the difference.
// A copy of a block of a product (a 2-d matmul's whole temporary output P, read by the copy alone)
// goes with the product's columns and rows outside it (narrow_products): the matmul computes the
// block alone, from the rows of its left operand and the columns of its right one, into the copy's
// destination D, when D is contiguous and no call between the two touches D's buffer. A concat's
// gradient slices (the part of a step's input gradient that flows to its state, not to its data)
// then cost their own columns only. A fill of a whole temporary goes when later calls write every
// element before any call reads it (drop_covered_fills: a split's gradient, zeros overwritten
// block by block by its parts' gradients).
#include "copies.hpp"
#include <vector>

namespace tide::detail {
namespace {

bool disjoint(const Arg& a, const Arg& b) {
  return a.offset + numel_of(a) <= b.offset || b.offset + numel_of(b) <= a.offset;
}

// The copy's source and destination qualify on their own (the first condition's shape part, the second's).
bool candidate(const Program& p, const Call& c, const std::vector<int>& uses) {
  if (c.kind != CallKind::copy || c.args.size() != 2) return false;
  const Arg &src = c.args[0], &dst = c.args[1];
  if (!whole_temp(p, src) || !temp(p, dst.buffer) || src.buffer == dst.buffer) return false;
  return uses[static_cast<std::size_t>(src.buffer)] == 2 && src.dtype == dst.dtype && src.shape == dst.shape && contiguous_arg(dst);
}

// A pure, contiguous write of the call's argument k outside `dst`.
bool writes_beside(const Call& c, std::size_t k, const Arg& dst) {
  return c.writes[k] && !reads_arg(c, k) && contiguous_arg(c.args[k]) && disjoint(c.args[k], dst);
}

// The argument of call `writer` that writes the copy's source, or -1 when it does not qualify.
int written_arg(const Call& writer, const Arg& src, const Arg& dst) {
  int found = -1;
  for (std::size_t k = 0; k < writer.args.size(); ++k) {
    const Arg& a = writer.args[k];
    if (a.buffer == dst.buffer && !writes_beside(writer, k, dst)) return -1;
    if (a.buffer != src.buffer) continue;
    if (!writer.writes[k] || reads_arg(writer, k) || found >= 0 || !contiguous_arg(a) || a.offset != 0 ||
        numel_of(a) != numel_of(src))
      return -1;
    found = static_cast<int>(k);
  }
  return found;
}

// No call in (from, to) reads U or writes it where `dst` lies (calls already dropped aside).
bool untouched_between(const Program& p, std::size_t from, std::size_t to, const Arg& dst, const std::vector<bool>& drop) {
  for (std::size_t j = from + 1; j < to; ++j) {
    if (drop[j]) continue;
    const Call& c = p.calls[j];
    for (std::size_t k = 0; k < c.args.size(); ++k) {
      const Arg& a = c.args[k];
      if (a.buffer == dst.buffer && !writes_beside(c, k, dst)) return false;
    }
  }
  return true;
}

}  // namespace

int elide_copies(Program& p) {
  std::vector<int> uses = use_counts(p);
  std::vector<bool> drop(p.calls.size(), false);
  for (std::size_t i = 0; i < p.calls.size(); ++i) {
    if (!candidate(p, p.calls[i], uses)) continue;
    const Arg src = p.calls[i].args[0], dst = p.calls[i].args[1];
    const std::size_t w = last_toucher(p, i, src.buffer, drop);  // the source's writer
    if (w == i) continue;  // none: the source starts with a value
    const int k = written_arg(p.calls[w], src, dst);
    if (k < 0 || !untouched_between(p, w, i, dst, drop)) continue;
    Arg& out = p.calls[w].args[static_cast<std::size_t>(k)];  // its own shape and contiguous strides stay
    out.buffer = dst.buffer, out.offset = dst.offset;
    uses[static_cast<std::size_t>(src.buffer)] = 0;
    drop[i] = true;
  }
  return drop_calls(p, drop);
}

namespace {

// A 2-d matmul with beta = 0 writing all of its output.
bool plain_product(const Program& p, const Call& m) {
  if (m.kind != CallKind::matmul || m.accumulate || m.args.size() != 3) return false;
  const Arg& out = m.args[2];
  return out.shape.size() == 2 && m.args[0].shape.size() == 2 && m.args[1].shape.size() == 2 && whole_temp(p, out);
}

// Whether the copy's source is a block [r0, r0 + rows) x [c0, c0 + cols) of the product's output
// (row-major [m, n]); sets r0 and c0.
bool block_of(const Arg& out, const Arg& src, std::int64_t& r0, std::int64_t& c0) {
  const std::int64_t m = out.shape[0], n = out.shape[1];
  if (src.shape.size() != 2 || src.strides[1] != 1 || (src.shape[0] > 1 && src.strides[0] != n) || n == 0) return false;
  r0 = src.offset / n, c0 = src.offset % n;
  return r0 + src.shape[0] <= m && c0 + src.shape[1] <= n;
}

bool touched_between(const Program& p, std::size_t from, std::size_t to, int buffer, const std::vector<bool>& drop) {
  for (std::size_t j = from + 1; j < to; ++j) {
    if (drop[j]) continue;
    for (const Arg& a : p.calls[j].args)
      if (a.buffer == buffer) return true;
  }
  return false;
}

// A copy of a temporary that only its writer and the copy use, into a contiguous destination.
bool copy_of_lone_temp(const Program& p, const Call& c, const std::vector<int>& uses) {
  if (c.kind != CallKind::copy || c.args.size() != 2 || !temp(p, c.args[0].buffer)) return false;
  const Arg &src = c.args[0], &dst = c.args[1];
  return uses[static_cast<std::size_t>(src.buffer)] == 2 && dst.buffer >= 0 && dst.buffer != src.buffer && contiguous_arg(dst) &&
         dst.dtype == src.dtype && dst.shape == src.shape;
}

}  // namespace

int narrow_products(Program& p) {
  std::vector<int> uses = use_counts(p);
  std::vector<bool> drop(p.calls.size(), false);
  for (std::size_t i = 0; i < p.calls.size(); ++i) {
    if (!copy_of_lone_temp(p, p.calls[i], uses)) continue;
    const Arg src = p.calls[i].args[0], dst = p.calls[i].args[1];
    const std::size_t w = last_toucher(p, i, src.buffer, drop);
    std::int64_t r0 = 0, c0 = 0;
    if (w == i || !plain_product(p, p.calls[w]) || p.calls[w].args[2].buffer != src.buffer || !block_of(p.calls[w].args[2], src, r0, c0))
      continue;
    Call& m = p.calls[w];
    if (m.args[0].buffer == dst.buffer || m.args[1].buffer == dst.buffer || touched_between(p, w, i, dst.buffer, drop)) continue;
    Arg& a = m.args[0];
    Arg& b = m.args[1];
    a.offset += r0 * a.strides[0], a.shape = Shape{src.shape[0], a.shape[1]};
    b.offset += c0 * b.strides[1], b.shape = Shape{b.shape[0], src.shape[1]};
    m.args[2] = dst;
    uses[static_cast<std::size_t>(src.buffer)] = 0;
    drop[i] = true;
  }
  return drop_calls(p, drop);
}

namespace {

// Whether call c, where it touches `buffer` (sets `touches`), only writes it.
bool only_writes(const Call& c, int buffer, bool& touches) {
  touches = false;
  for (std::size_t k = 0; k < c.args.size(); ++k) {
    if (c.args[k].buffer != buffer) continue;
    touches = true;
    if (reads_arg(c, k)) return false;
  }
  return true;
}

// Whether the calls after `fill` write every element of its buffer before one reads it. The
// element map is made at the first write, so a fill read next costs no allocation.
bool covered_before_read(const Program& p, std::size_t fill) {
  const int b = p.calls[fill].args[0].buffer;
  const std::int64_t numel = p.buffers[static_cast<std::size_t>(b)].numel;
  std::int64_t left = numel;
  std::vector<char> written;
  for (std::size_t j = fill + 1; j < p.calls.size() && left > 0; ++j) {
    bool touches = false;
    if (!only_writes(p.calls[j], b, touches)) return false;
    if (!touches) continue;
    written.resize(static_cast<std::size_t>(numel), 0);
    for (const Arg& a : p.calls[j].args) {
      if (a.buffer != b) continue;
      if (numel_of(a) > numel) return false;  // a broadcast write: not worth the walk
      bool inside = true;
      for_each_offset(a.shape, a.strides, a.offset, [&](std::int64_t at) {
        if (at < 0 || at >= numel) return void(inside = false);
        char& w = written[static_cast<std::size_t>(at)];
        left -= w == 0;
        w = 1;
      });
      if (!inside) return false;
    }
  }
  return left == 0;
}

}  // namespace

int drop_covered_fills(Program& p) {
  constexpr std::int64_t max_elements = std::int64_t{1} << 22;  // the check walks every element once
  std::vector<bool> drop(p.calls.size(), false);
  for (std::size_t i = 0; i < p.calls.size(); ++i) {
    const Call& c = p.calls[i];
    if (c.kind != CallKind::fill || !whole_temp(p, c.args[0]) || numel_of(c.args[0]) > max_elements) continue;
    drop[i] = covered_before_read(p, i);
  }
  return drop_calls(p, drop);
}

}  // namespace tide::detail
