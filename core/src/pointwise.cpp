// PointwiseBuilder (pointwise.hpp): steps appended in evaluation order.
#include "tide/core/pointwise.hpp"
#include "tide/core/error.hpp"
#include <bit>
#include <cstdint>

namespace tide {

PointwiseBuilder::PointwiseBuilder(int n_inputs) : n_inputs_(n_inputs) {
  if (n_inputs < 0) fail("PointwiseBuilder: {} inputs", n_inputs);
}

Sym PointwiseBuilder::input(int i) {
  if (i < 0 || i >= n_inputs_) fail("PointwiseBuilder: input {} of {}", i, n_inputs_);
  return {this, i};
}

PointwiseBuilder& builder_of(Sym x) {
  if (!x.builder) fail("PointwiseBuilder: arithmetic on a value of no program (a default Sym)");
  return *x.builder;
}

void PointwiseBuilder::check(Sym x, const char* what) const {
  if (x.builder != this || x.id < 0 || x.id >= n_inputs_ + static_cast<int>(steps_.size()))
    fail("PointwiseBuilder: {} is not a value of this program", what);
}

Sym PointwiseBuilder::unary(Op op, Sym x, double p0, double p1) {
  if (op_info(op).kind != OpKind::unary) fail("PointwiseBuilder: {} is not a unary op", op_name(op));
  check(x, "the operand");
  ElementwiseStep s;
  s.op = op, s.p0 = p0, s.p1 = p1, s.in = {x.id, -1, -1};
  steps_.push_back(s);
  return {this, n_inputs_ + static_cast<int>(steps_.size()) - 1};
}

Sym PointwiseBuilder::binary(Op op, Sym a, Sym b) {
  const OpKind kind = op_info(op).kind;
  if (kind != OpKind::binary && kind != OpKind::compare) fail("PointwiseBuilder: {} is not a binary op", op_name(op));
  check(a, "the first operand");
  check(b, "the second operand");
  ElementwiseStep s;
  s.op = op, s.in = {a.id, b.id, -1};
  steps_.push_back(s);
  return {this, n_inputs_ + static_cast<int>(steps_.size()) - 1};
}

ElementwiseProgram PointwiseBuilder::program(const std::vector<Sym>& outputs) const {
  ElementwiseProgram p;
  p.n_inputs = n_inputs_;
  p.steps = steps_;
  for (const Sym& s : outputs) {
    check(s, "an output");
    p.outputs.push_back(s.id);
  }
  return p;
}

ElementwiseProgram without_dead_steps(const ElementwiseProgram& p) {
  const int n = p.n_inputs, steps = static_cast<int>(p.steps.size());
  std::vector<char> live(static_cast<std::size_t>(n + steps), 0);
  for (int v : p.outputs) live[static_cast<std::size_t>(v)] = 1;
  for (int k = steps - 1; k >= 0; --k)
    if (live[static_cast<std::size_t>(n + k)])
      for (int in : p.steps[static_cast<std::size_t>(k)].in)
        if (in >= 0) live[static_cast<std::size_t>(in)] = 1;
  std::vector<int> renumbered(static_cast<std::size_t>(n + steps), -1);
  for (int i = 0; i < n; ++i) renumbered[static_cast<std::size_t>(i)] = i;
  ElementwiseProgram out;
  out.n_inputs = n;
  for (int k = 0; k < steps; ++k) {
    if (!live[static_cast<std::size_t>(n + k)]) continue;
    ElementwiseStep s = p.steps[static_cast<std::size_t>(k)];
    for (int& in : s.in)
      if (in >= 0) in = renumbered[static_cast<std::size_t>(in)];
    renumbered[static_cast<std::size_t>(n + k)] = n + static_cast<int>(out.steps.size());
    out.steps.push_back(s);
  }
  for (int v : p.outputs) out.outputs.push_back(renumbered[static_cast<std::size_t>(v)]);
  return out;
}

ElementwiseProgram without_unused_inputs(const ElementwiseProgram& p, std::vector<int>& kept) {
  std::vector<int> id(static_cast<std::size_t>(p.n_inputs) + p.steps.size(), -1);
  for (const ElementwiseStep& s : p.steps)
    for (int in : s.in)
      if (in >= 0 && in < p.n_inputs) id[static_cast<std::size_t>(in)] = 0;
  for (int v : p.outputs)
    if (v < p.n_inputs) id[static_cast<std::size_t>(v)] = 0;
  kept.clear();
  for (int i = 0; i < p.n_inputs; ++i)
    if (id[static_cast<std::size_t>(i)] == 0) {
      id[static_cast<std::size_t>(i)] = static_cast<int>(kept.size());
      kept.push_back(i);
    }
  ElementwiseProgram out = p;
  out.n_inputs = static_cast<int>(kept.size());
  for (std::size_t k = 0; k < p.steps.size(); ++k) id[static_cast<std::size_t>(p.n_inputs) + k] = out.n_inputs + static_cast<int>(k);
  for (ElementwiseStep& s : out.steps)
    for (int& in : s.in)
      if (in >= 0) in = id[static_cast<std::size_t>(in)];
  for (int& v : out.outputs) v = id[static_cast<std::size_t>(v)];
  return out;
}

namespace {
bool same_bits(double a, double b) { return std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b); }  // -0 is not +0
}  // namespace

std::vector<int> equal_values(const ElementwiseProgram& p) {
  const int n = p.n_inputs;
  std::vector<int> same(static_cast<std::size_t>(n) + p.steps.size());
  for (int v = 0; v < n; ++v) same[static_cast<std::size_t>(v)] = v;
  std::vector<ElementwiseStep> canonical;  // step k with its operands replaced by their first equals
  for (std::size_t k = 0; k < p.steps.size(); ++k) {
    ElementwiseStep s = p.steps[k];
    for (int& in : s.in) {
      if (in < -1 || in >= n + static_cast<int>(k)) fail("equal_values: step {} reads value {}, not computed before it", k, in);
      if (in >= 0) in = same[static_cast<std::size_t>(in)];
    }
    same[static_cast<std::size_t>(n) + k] = n + static_cast<int>(k);
    for (std::size_t j = 0; j < k; ++j) {  // the first match is never itself a repeat
      const ElementwiseStep& e = canonical[j];
      if (e.op == s.op && same_bits(e.p0, s.p0) && same_bits(e.p1, s.p1) && e.in == s.in) {
        same[static_cast<std::size_t>(n) + k] = n + static_cast<int>(j);
        break;
      }
    }
    canonical.push_back(s);
  }
  return same;
}

ElementwiseProgram with_equal_steps_merged(const ElementwiseProgram& p) {
  const std::vector<int> same = equal_values(p);
  ElementwiseProgram out = p;
  for (ElementwiseStep& s : out.steps)
    for (int& in : s.in)
      if (in >= 0) in = same[static_cast<std::size_t>(in)];
  for (int& v : out.outputs) v = same[static_cast<std::size_t>(v)];
  return without_dead_steps(out);
}

}  // namespace tide
