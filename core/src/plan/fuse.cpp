// The fusion pass of a plan: runs of adjacent elementwise calls (unary, binary, compare, where)
// over one shape and dtype become one Backend::elementwise call. A value the chain makes and only
// the chain reads never gets a buffer; one read after the chain, or returned, is written out. A
// call that updates a buffer in place (a gradient accumulated by `add_`: out = out + x, the same
// layout on both sides) joins too, provided every member reads that buffer in that one layout:
// each element is then read before it is written, block by block, as the calls would.
#include "fuse.hpp"
#include <algorithm>
#include <map>
#include <set>
#include <tuple>

namespace tide::detail {
namespace {

// A copy between equal layouts of one dtype joins a chain as x * 1 (exact, signed zeros and NaNs kept).
bool plain_copy(const Call& c) {
  return c.kind == CallKind::copy && c.args[0].dtype == c.args[1].dtype && c.args[0].shape == c.args[1].shape;
}

bool same_layout(const Arg& a, const Arg& b) {
  return a.buffer == b.buffer && a.offset == b.offset && a.shape == b.shape && a.strides == b.strides && a.dtype == b.dtype;
}

// Whether a chain reads the operand as a stream: contiguous trailing axes, broadcast leading ones
// (the CPU reads it in place or repeats a short period). Other layouts (a value broadcast along an
// inner axis, a transposed view) would be gathered block by block, which measured slower than the
// unfused kernels' own strided loops: they end the chain.
bool streamable(const Arg& a) {
  int k = a.shape.rank();
  std::int64_t expect = 1;
  while (k > 0 && (a.shape[k - 1] == 1 || a.strides[k - 1] == expect)) expect *= a.shape[--k];
  for (int i = 0; i < k; ++i)
    if (a.shape[i] != 1 && a.strides[i] != 0) return false;
  return true;
}

bool whole_contiguous(const Program& p, const Arg& a) {
  return a.buffer >= 0 && a.offset == 0 && a.strides == contiguous_strides(a.shape) &&
         a.shape.numel() == p.buffers[static_cast<std::size_t>(a.buffer)].numel;
}

struct Uses {
  std::vector<int> first, count;  // per buffer: the first call touching it, the calls touching it
};
Uses count_uses(const Program& p) {
  Uses u{std::vector<int>(p.buffers.size(), -1), std::vector<int>(p.buffers.size(), 0)};
  for (std::size_t i = 0; i < p.calls.size(); ++i)
    for (const Arg& a : p.calls[i].args)
      if (a.buffer >= 0) {
        if (u.first[static_cast<std::size_t>(a.buffer)] < 0) u.first[static_cast<std::size_t>(a.buffer)] = static_cast<int>(i);
        ++u.count[static_cast<std::size_t>(a.buffer)];
      }
  return u;
}

// An order on layouts whose equivalence is same_layout (a map key: a chain's lookups stay logarithmic).
struct LayoutLess {
  bool operator()(const Arg& a, const Arg& b) const {
    if (a.buffer != b.buffer) return a.buffer < b.buffer;
    if (a.offset != b.offset) return a.offset < b.offset;
    if (a.dtype != b.dtype) return a.dtype < b.dtype;
    if (!(a.shape == b.shape)) return std::lexicographical_compare(a.shape.begin(), a.shape.end(), b.shape.begin(), b.shape.end());
    return std::lexicographical_compare(a.strides.begin(), a.strides.end(), b.strides.begin(), b.strides.end());
  }
};

// The value ids of a chain being built: its inputs (one per distinct layout read before the chain
// writes it), then one per step; and the outputs it writes out.
struct Values {
  std::vector<Arg> ins, outs;
  std::map<int, int> made;                // chain-made buffers -> value ids
  std::map<Arg, int, LayoutLess> in_ids;  // ins -> their ids

  int value(const Arg& a) {
    const auto m = made.find(a.buffer);
    if (m != made.end()) return m->second;
    const auto [at, added] = in_ids.try_emplace(a, static_cast<int>(ins.size()));
    if (added) ins.push_back(a);
    return at->second;
  }
  // Inputs first (their ids precede the steps'): a buffer is an input where a member reads it
  // before any member writes it.
  void collect_inputs(const Program& p, const std::vector<std::size_t>& calls) {
    std::set<int> written;
    for (std::size_t i : calls) {
      const Call& c = p.calls[i];
      for (std::size_t a = 0; a + 1 < c.args.size(); ++a)
        if (!written.count(c.args[a].buffer)) value(c.args[a]);
      written.insert(c.args.back().buffer);
    }
  }
  ElementwiseStep step_of(const Call& c) {
    ElementwiseStep s;
    s.op = c.kind == CallKind::where ? Op::where : c.kind == CallKind::copy ? Op::mul_scalar : c.op;
    s.p0 = c.kind == CallKind::copy ? 1.0 : c.p0, s.p1 = c.p1;
    for (std::size_t a = 0; a + 1 < c.args.size(); ++a) s.in[a] = value(c.args[a]);
    return s;
  }
};

class ChainBuilder {
public:
  ChainBuilder(const Program& p, const Uses& uses, const std::vector<bool>& is_output) : p_(p), uses_(uses), is_output_(is_output) {}

  // Whether call i can join the chain (start one when empty).
  bool accepts(std::size_t i) const {
    const Call& c = p_.calls[i];
    if (!elementwise_kind(c.kind) && !plain_copy(c)) return false;
    const Arg& out = c.args.back();
    if (!whole_contiguous(p_, out) || p_.buffers[static_cast<std::size_t>(out.buffer)].kind != BufferKind::temp) return false;
    const bool in_place = updates_in_place(c);
    if (!in_place && uses_.first[static_cast<std::size_t>(out.buffer)] != static_cast<int>(i)) return false;  // its first write
    if (in_place && !members_read_alike(out)) return false;
    if (!calls_.empty() && (!(out.shape == shape_) || out.dtype != dtype_)) return false;
    return inputs_streamable(c, in_place);
  }

  void add(std::size_t i) {
    const Arg& out = p_.calls[i].args.back();
    if (calls_.empty()) shape_ = out.shape, dtype_ = out.dtype;
    calls_.push_back(i);
    made_[out.buffer] = static_cast<int>(i);
    for (const Arg& a : p_.calls[i].args) note_layout(a);
  }
  std::size_t size() const { return calls_.size(); }

  // The chain as one call; clears the builder.
  Call build(Program& out) {
    Values v;
    v.collect_inputs(p_, calls_);
    ElementwiseProgram prog;
    prog.n_inputs = static_cast<int>(v.ins.size());
    const std::map<int, int> inside = uses_inside();
    for (std::size_t i : calls_) {
      const Call& c = p_.calls[i];
      prog.steps.push_back(v.step_of(c));
      const int id = prog.n_inputs + static_cast<int>(prog.steps.size()) - 1;
      const Arg& o = c.args.back();
      v.made[o.buffer] = id;
      if (is_output_[static_cast<std::size_t>(o.buffer)] || uses_.count[static_cast<std::size_t>(o.buffer)] > inside.at(o.buffer)) {
        prog.outputs.push_back(id);
        v.outs.push_back(o);
      }
    }
    Call call;
    call.kind = CallKind::elementwise;
    for (const Arg& a : v.ins) call.args.push_back(a), call.writes.push_back(false);
    for (const Arg& a : v.outs) call.args.push_back(a), call.writes.push_back(true);
    call.program = static_cast<int>(out.chains.size());
    out.chains.push_back(std::move(prog));
    calls_.clear();
    made_.clear();
    layouts_.clear();
    return call;
  }
  const std::vector<std::size_t>& calls() const { return calls_; }

private:
  // Every input is read as a stream, a value the chain made in the layout it was made in, and the
  // output only where the call updates it in place.
  bool inputs_streamable(const Call& c, bool in_place) const {
    const Arg& out = c.args.back();
    for (std::size_t a = 0; a + 1 < c.args.size(); ++a) {
      const Arg& in = c.args[a];
      if ((in.buffer == out.buffer && !in_place) || !streamable(in)) return false;
      auto it = made_.find(in.buffer);
      if (it != made_.end() && !same_layout(in, p_.calls[static_cast<std::size_t>(it->second)].args.back())) return false;
    }
    return true;
  }
  // out = f(out, ..): the output is one of the inputs, in the same layout, and no other input
  // reads its buffer
  static bool updates_in_place(const Call& c) {
    const Arg& out = c.args.back();
    bool aliased = false;
    for (std::size_t a = 0; a + 1 < c.args.size(); ++a) {
      if (c.args[a].buffer != out.buffer) continue;
      if (!same_layout(c.args[a], out)) return false;
      aliased = true;
    }
    return aliased;
  }
  // every member so far touches out's buffer in out's layout alone (a member reading another
  // part, or a broadcast of it, could see a block the chain has already updated)
  bool members_read_alike(const Arg& out) const {
    const auto it = layouts_.find(out.buffer);
    return it == layouts_.end() || (!it->second.mixed && same_layout(it->second.layout, out));
  }
  void note_layout(const Arg& a) {
    const auto [it, added] = layouts_.try_emplace(a.buffer, Touched{a});
    if (!added && !same_layout(it->second.layout, a)) it->second.mixed = true;
  }
  // per buffer, the arguments of the members that name it
  std::map<int, int> uses_inside() const {
    std::map<int, int> n;
    for (std::size_t i : calls_)
      for (const Arg& a : p_.calls[i].args) ++n[a.buffer];
    return n;
  }
  // The layout the members touch a buffer in: the first, and whether another one follows.
  struct Touched {
    Arg layout;
    bool mixed = false;
  };
  const Program& p_;
  const Uses& uses_;
  const std::vector<bool>& is_output_;
  std::vector<std::size_t> calls_;
  std::map<int, int> made_;  // buffer -> the chain call that writes it
  std::map<int, Touched> layouts_;  // buffer -> how the members touch it
  Shape shape_;
  DType dtype_ = DType::f32;
};

}  // namespace

FuseCounts fuse_elementwise(Program& p) {
  const Uses uses = count_uses(p);
  std::vector<bool> is_output(p.buffers.size(), false);
  for (const Arg& a : p.outputs)
    if (a.buffer >= 0) is_output[static_cast<std::size_t>(a.buffer)] = true;
  std::vector<Call> calls;
  FuseCounts counts;
  ChainBuilder chain(p, uses, is_output);
  // A chain pays when it keeps a value out of memory; one whose every value is written out anyway
  // (the residuals of a forward pass) only adds its block overhead, so its calls stay as they are.
  auto flush = [&] {
    const std::vector<std::size_t> members = chain.calls();
    if (members.size() < 2) {
      for (std::size_t i : members) calls.push_back(p.calls[i]);
      chain.build(p), p.chains.pop_back();
      return;
    }
    Call fused = chain.build(p);
    if (p.chains.back().outputs.size() == members.size()) {
      for (std::size_t i : members) calls.push_back(p.calls[i]);
      p.chains.pop_back();
      return;
    }
    counts.chains += 1;
    counts.ops += static_cast<int>(members.size());
    calls.push_back(std::move(fused));
  };
  for (std::size_t i = 0; i < p.calls.size(); ++i) {
    if (chain.accepts(i)) {
      chain.add(i);
      continue;
    }
    flush();
    if (chain.accepts(i)) chain.add(i);
    else calls.push_back(p.calls[i]);
  }
  flush();
  p.calls = std::move(calls);
  return counts;
}

}  // namespace tide::detail
