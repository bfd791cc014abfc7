// jet_apply: one op on Jets. Constants go straight to the Var op; linear ops (the op table's
// column; and products with a constant, and x @ W) apply once to the whole coefficient stack, so a
// dense layer on a jet of order K is one GEMM over (K+1)B rows; everything else runs the op's
// Taylor rule for k = 0..K.
// Values on an incremental trace are recorded there instead.
#include "rules.hpp"
#include "trace.hpp"
#include <fmt/ranges.h>
#include <optional>
#include "jet_access.hpp"

namespace tide {

using detail::JetAccess;

namespace {
using namespace taylor_detail;

// The level prefix of a Jet's data and its data reshaped so the value has the given rank.
Var aligned(const Jet& j, int rank) {
  const int r = j.rank();
  if (r >= rank || j.levels() == 0) return j.data();
  Shape s;
  for (int i = 0; i < j.levels(); ++i) s.push_back(j.data().shape()[i]);
  for (int i = r; i < rank; ++i) s.push_back(1);
  for (int i = 0; i < r; ++i) s.push_back(j.shape()[i]);
  return reshape(j.data(), s);
}

Shape with_prefix(const Jet& j, const Shape& s) {
  Shape out;
  for (int i = 0; i < j.levels(); ++i) out.push_back(j.data().shape()[i]);
  for (int i = 0; i < s.rank(); ++i) out.push_back(s[i]);
  return out;
}

// Two operands' values checked as the user sees them, before an op on whole coefficient stacks
// could fail naming their [K+1, ...] shapes.
void check_operands(const OpCall& o, const Jet& a, const Jet& b) {
  if (a.dtype() != b.dtype())
    fail("{}: dtype mismatch: {}{} and {}{} (convert one with cast)", op_name(o.op), dtype_name(a.dtype()), a.shape().str(),
         dtype_name(b.dtype()), b.shape().str());
  if (o.op != Op::matmul) {
    broadcast_shapes(a.shape(), b.shape(), std::string(op_name(o.op)).c_str());
    return;
  }
  if (a.rank() >= 2 && b.rank() >= 2 && a.shape().back(1) != b.shape().back(2))
    fail("matmul: inner extents differ: {} @ {} ({} vs {})", a.shape().str(), b.shape().str(), a.shape().back(1), b.shape().back(2));
}

// Whole-stack application where the op is linear in the inputs that carry a series. Linear ops
// that have no whole-stack form here yet (slice, concat, the index ops) take the linear rule, one
// coefficient at a time.
std::optional<Jet> linear_fast_path(const OpCall& o, const std::vector<Jet>& in, int L) {
  const OpInfo& info = op_info(o.op);
  const bool product = o.op == Op::mul || o.op == Op::div || o.op == Op::matmul;
  if (!info.linear && !product) return std::nullopt;
  if (product || o.op == Op::add || o.op == Op::sub) check_operands(o, in[0], in[1]);
  const std::vector<int> orders = [&] {
    for (const Jet& j : in)
      if (j.levels() == L) return j.orders();
    return std::vector<int>{};
  }();
  auto result = [&](Var data) { return JetAccess::from_data(std::move(data), orders); };
  // elementwise in one input: the op itself, whatever the leading coefficient axes
  if (info.kind == OpKind::unary || o.op == Op::cast) return result(apply_op(o, {in[0].data()}));
  switch (o.op) {
    case Op::add: case Op::sub:
      if (in[0].levels() != L || in[1].levels() != L) return std::nullopt;
      {
        const int rank = std::max(in[0].rank(), in[1].rank());
        return result(apply_op(o, {aligned(in[0], rank), aligned(in[1], rank)}));
      }
    case Op::mul: case Op::div: {
      const bool first = in[0].levels() == L && in[1].levels() == 0;
      const bool second = o.op == Op::mul && in[0].levels() == 0 && in[1].levels() == L;
      if (!first && !second) return std::nullopt;
      const Jet& series = first ? in[0] : in[1];
      const Jet& constant = first ? in[1] : in[0];
      const Var s = aligned(series, constant.rank());
      return result(first ? apply_op(o, {s, constant.data()}) : apply_op(o, {constant.data(), s}));
    }
    case Op::matmul:
      if (in[0].levels() == L && in[1].levels() == 0 && in[0].rank() >= 2 && in[1].rank() == 2)
        return result(matmul(in[0].data(), in[1].data()));
      if (in[0].levels() == 0 && in[1].levels() == L && in[0].rank() == 2 && in[1].rank() >= 2)
        return result(matmul(in[0].data(), in[1].data()));
      return std::nullopt;
    case Op::sum:
      return result(reduce(Op::sum, in[0].data(), static_cast<AxisSet>(o.axes << L), o.keepdim));
    case Op::reshape: return result(reshape(in[0].data(), with_prefix(in[0], o.shape)));
    case Op::broadcast_to:
      return result(broadcast_to(aligned(in[0], o.shape.rank()), with_prefix(in[0], o.shape)));
    case Op::permute: {
      Shape axes;
      for (int i = 0; i < L; ++i) axes.push_back(i);
      for (int i = 0; i < o.shape.rank(); ++i) axes.push_back(o.shape[i] + L);
      return result(permute(in[0].data(), axes));
    }
    default: return std::nullopt;
  }
}

template <class C> C coefficient_of(const Jet& j, int k);
template <> Var coefficient_of<Var>(const Jet& j, int k) { return select(j.data(), 0, k); }
template <> Jet coefficient_of<Jet>(const Jet& j, int k) { return j.coefficient(k); }
template <class C> C as_constant(const Jet& j);
template <> Var as_constant<Var>(const Jet& j) { return j.data(); }
template <> Jet as_constant<Jet>(const Jet& j) { return j; }

Jet stack_series(std::vector<Var>& y) {
  for (Var& c : y)
    if (!c.defined()) c = zeros_like(y[0]);
  return JetAccess::from_data(stack(y, 0), {static_cast<int>(y.size()) - 1});
}
Jet stack_series(std::vector<Jet>& y) {
  for (Jet& c : y)
    if (!c.defined()) c = zeros_like(y[0]);
  return JetAccess::stacked_series(y);
}

// The op's Taylor rule for k = 0..K on the outermost level, coefficients of type C.
template <class C> Jet run_rule(const OpCall& o, const std::vector<Jet>& in, int L, int K) {
  std::vector<std::vector<C>> series(in.size());
  std::vector<SeriesRef<C>> refs;
  for (std::size_t i = 0; i < in.size(); ++i) {
    const bool has = in[i].levels() == L;
    if (has)
      for (int k = 0; k <= K; ++k) series[i].push_back(coefficient_of<C>(in[i], k));
    else
      series[i].push_back(as_constant<C>(in[i]));
    refs.push_back({&series[i], !has});
  }
  NodeState<C> state;
  for (int k = 0; k <= K; ++k) next_coefficient(o, k, refs, state);
  return stack_series(state.y);
}
}  // namespace

Jet jet_apply(const OpCall& o, const std::vector<Jet>& in) {
  for (const Jet& j : in) {
    if (!j.defined()) fail("{}: an input Jet is undefined", op_name(o.op));
    if (JetAccess::trace_slot(j) >= 0) {
      TaylorTrace* trace = TaylorTrace::active();
      if (!trace || JetAccess::trace(j) != trace) fail("{}: a traced value was used after its trace stopped recording", op_name(o.op));
      return trace->record(o, in);
    }
  }
  const Jet* deepest = &in[0];
  for (const Jet& j : in)
    if (j.levels() > deepest->levels()) deepest = &j;
  const int L = deepest->levels();
  const OpKind kind = op_info(o.op).kind;
  if (L == 0 || kind == OpKind::compare || o.op == Op::sign) {
    std::vector<Var> primals;
    for (const Jet& j : in) primals.push_back(L == 0 ? j.data() : j.primal());
    return Jet(apply_op(o, primals));
  }
  const std::vector<int> orders = deepest->orders();
  for (const Jet& j : in) {
    const std::vector<int> own = j.orders();
    if (!std::equal(own.begin(), own.end(), orders.end() - static_cast<std::ptrdiff_t>(own.size())))
      fail("{}: Jets of different orders cannot be combined: [{}] and [{}]", op_name(o.op), fmt::join(own, ", "), fmt::join(orders, ", "));
  }
  if (auto fast = linear_fast_path(o, in, L)) return *fast;
  return L == 1 ? run_rule<Var>(o, in, L, orders[0]) : run_rule<Jet>(o, in, L, orders[0]);
}

}  // namespace tide
