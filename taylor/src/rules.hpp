// The Taylor rule of every op of the op table, as one recurrence step: given the inputs'
// coefficients 0..k and the op's own (and auxiliary) coefficients 0..k-1, compute coefficient k.
// The ops marked linear in the table share one rule (the op on the coefficients k); every other op
// has its case here, and the switch has no default (-Werror=switch).
// Written once over the coefficient type C (Var for one level, Jet for nested levels), in
// differentiable ops, so reverse mode through a rule is exact (ENGINE.md rule 1). The same step
// serves the eager Jet (k = 0..K in a loop) and the incremental trace (one k per round).
// Notation: x_k = x^(k)/k!; "d(x, g)_k" is (1/k) sum_{j=1..k} j x_j g_{k-j}, the coefficient k of
// y when y' = g x'; "(a*b)_k" is the Cauchy product sum_{j=0..k} a_j b_{k-j}.
#pragma once
#include "tide/core/plan.hpp"
#include "tide/taylor/jet_ops.hpp"
#include <cmath>
#include <type_traits>

namespace tide::taylor_detail {

// A series as the rule sees it: the coefficients computed so far; an undefined entry is an exact
// zero, and past the end a complete series (constants, t) is zero.
template <class C> struct SeriesRef {
  const std::vector<C>* c = nullptr;
  bool complete = false;
  const C* at(int j) const {
    if (j < static_cast<int>(c->size())) {
      const C& v = (*c)[static_cast<std::size_t>(j)];
      return v.defined() ? &v : nullptr;
    }
    if (!complete) fail("internal: Taylor coefficient {} requested before it was computed", j);
    return nullptr;
  }
};

template <class C> struct NodeState {
  std::vector<C> y;                 // the op's own coefficients
  std::vector<std::vector<C>> aux;  // auxiliary series (tanh's 1 - y^2, sin's cos, ...)
  Tensor mask;                      // branch selection of piecewise ops, fixed by the primal
};

template <class C> struct Term {
  double w;
  const C* a;
  const C* b;  // null: the term is w a
};

// A product term; a zero factor (null) drops it.
template <class C> Term<C> prod(double w, const C* a, const C* b) { return {w, b ? a : nullptr, b}; }

// sum_i w_i a_i b_i, terms with a null factor dropped; undefined (zero) when none is left. The Var
// version runs one fused pass over memory when nothing is recorded (see products.cpp).
Var combine(std::vector<Term<Var>> terms);
Jet combine(std::vector<Term<Jet>> terms);

// c0 + c1 y + c2 y^2 in one pass over y where combine() would fuse it (see products.cpp): true and
// the value in `out`; false (and nothing done) where the caller's composite must record or trace.
bool fused_quadratic(const Var& y, double c0, double c1, double c2, Var& out);

// The start of tanh's auxiliary series, 1 - y^2, and of sigmoid's, y - y^2: a quadratic in the op's
// output, one pass when unrecorded; `composite` (the recorded form, and every Jet's) otherwise. The
// two agree to rounding (the pass may fuse the multiply and add, as combine()'s does).
template <class C, class F> C quadratic(const C& y, double c0, double c1, double c2, F composite) {
  if constexpr (std::is_same_v<C, Var>) {
    Var out;
    if (fused_quadratic(y, c0, c1, c2, out)) return out;
  }
  return composite();
}

template <class C> C run_op(const OpCall& op, const std::vector<C>& x);
template <> inline Var run_op<Var>(const OpCall& op, const std::vector<Var>& x) { return apply_op(op, x); }
template <> inline Jet run_op<Jet>(const OpCall& op, const std::vector<Jet>& x) { return jet_apply(op, x); }
inline Var zeros_like(const Var& ref) { return Var(Tensor::zeros(ref.shape(), ref.dtype(), ref.device())); }
inline Jet zeros_like(const Jet& ref) { return Jet(Tensor::zeros(ref.shape(), ref.dtype(), ref.device())); }
template <class C> C masked(const C& x, const Tensor& mask) { return x * C(Var(mask)); }
// 1 where x is exactly zero; for a nested coefficient (a Jet), zero with every coefficient of its own series.
inline Tensor zero_mask(const Var& x) {
  const Tensor& v = x.value();
  return tide::binary(Op::eq, v, Tensor::scalar(0.0, v.dtype(), v.device()));
}
inline Tensor zero_mask(const Jet& x) {
  const Tensor all = zero_mask(x.data());
  return x.levels() == 0 ? all : tide::reduce(Op::min, all, all_axes(x.levels()), false);
}
// zero_mask(x) where x has a zero, else undefined, so that the common case does no per-order work
// (Recurrence::one_where_zero_series). A trace keeps it: a replay's x may have zeros.
template <class C> Tensor zero_mask_if_any(const C& x) {
  const Tensor m = zero_mask(x);
  if (Trace::active()) return m;
  return m.numel() > 0 && tide::reduce(Op::max, m, all_axes(m.rank()), false).item() != 0 ? m : Tensor();
}

template <class C> C coefficient0(const OpCall& o, const std::vector<SeriesRef<C>>& x, NodeState<C>& s);

// One step of a recurrence: coefficient k of one op, with the series helpers every rule uses.
template <class C> struct Recurrence {
  using T = std::vector<Term<C>>;
  const OpCall& o;
  int k;
  const std::vector<SeriesRef<C>>& x;
  NodeState<C>& s;

  const C* X(int i, int j) const { return x[static_cast<std::size_t>(i)].at(j); }
  SeriesRef<C> y() const { return {&s.y, false}; }
  SeriesRef<C> aux(int n) const { return {&s.aux[static_cast<std::size_t>(n)], false}; }
  // Appends coefficient k, broadcast to the output's shape.
  void push(C v) const {
    if (v.defined() && !(v.shape() == s.y[0].shape())) v = broadcast_to(v, s.y[0].shape());
    s.y.push_back(std::move(v));
  }
  // (a*b)_k over j in [lo, hi], weighted
  void cauchy(const SeriesRef<C>& a, const SeriesRef<C>& b, int lo, int hi, double w, T& out) const {
    for (int j = lo; j <= hi; ++j) out.push_back(prod(w, a.at(j), b.at(k - j)));
  }
  C cauchy_sum(const SeriesRef<C>& a, const SeriesRef<C>& b) const {
    T t;
    cauchy(a, b, 0, k, 1.0, t);
    return combine(std::move(t));
  }
  // d(a, g)_n = (1/n) sum_j j a_j g_{n-j}, scaled by w
  C deriv_at(const SeriesRef<C>& a, const SeriesRef<C>& g, int n, double w) const {
    T t;
    for (int j = 1; j <= n; ++j) t.push_back(prod(w * j / n, a.at(j), g.at(n - j)));
    return combine(std::move(t));
  }
  C deriv(const SeriesRef<C>& a, const SeriesRef<C>& g, double w = 1.0) const { return deriv_at(a, g, k, w); }
  // (a*a)_n over j in [lo, n - lo], weighted: each cross term once with weight 2 (half the reads)
  void square_terms(const SeriesRef<C>& a, int n, int lo, double w, T& out) const {
    for (int j = lo; 2 * j < n; ++j) out.push_back(prod(2.0 * w, a.at(j), a.at(n - j)));
    if (n % 2 == 0 && n / 2 >= lo) out.push_back(prod(w, a.at(n / 2), a.at(n / 2)));
  }
  // Auxiliary series are filled lazily: entry n is made when an order first needs it, so the last
  // order requested never computes auxiliary coefficients no later order will read.
  template <class F> void grow(int series, int size, const F& make) const {
    auto& c = s.aux[static_cast<std::size_t>(series)];
    while (static_cast<int>(c.size()) < size) {
      const int n = static_cast<int>(c.size());
      c.push_back(make(n));
    }
  }
  // A linear op on the inputs' coefficients k (a missing one is an exact zero); undefined when all are.
  // A sum or difference with one zero side is the other side (push broadcasts it), with no zeros made.
  C linear() const {
    bool any = false;
    std::vector<C> parts;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const C* v = x[i].at(k);
      any = any || v;
      parts.push_back(v ? *v : zeros_like(*x[i].at(0)));
    }
    if (!any) return C();
    if ((o.op == Op::add || o.op == Op::sub) && !(X(0, k) && X(1, k)))
      return X(0, k) ? parts[0] : o.op == Op::add ? parts[1] : -parts[1];
    return run_op<C>(o, parts);
  }
  static C over(C t, const C& d) { return t.defined() ? t / d : t; }
  // d + 1 where input 0 is exactly zero through order k (s.mask, narrowed here by x_k; kept for
  // x^p, p > 0, and sqrt): there the output is identically zero, its recurrence's sum is 0 and the
  // division by its zero x_0 or y_0 must give 0, not 0/0. Where a later x_j is not zero, x_0 = 0 is
  // a true singularity and d stays 0.
  C one_where_zero_series(const C& d) const {
    if (!s.mask.defined()) return d;  // x_0 has no zero
    narrow_zero_series();
    return d + C(Var(s.mask));
  }
  // Narrows s.mask by x_k: an order that does not divide must still call it (once).
  void narrow_zero_series() const {
    if (!s.mask.defined()) return;
    if (const C* xk = X(0, k)) s.mask = tide::mul(s.mask, zero_mask(*xk));
  }
};

// Ops whose branch is fixed by the primal (piecewise linear, selections, extrema).
template <class C> void piecewise_coefficient(const Recurrence<C>& r) {
  using T = std::vector<Term<C>>;
  const int k = r.k;
  const NodeState<C>& s = r.s;
  switch (r.o.op) {
    case Op::abs: case Op::relu: case Op::leaky_relu: case Op::clamp:
      r.push(r.X(0, k) ? masked(*r.X(0, k), s.mask) : C()); return;
    case Op::maximum: case Op::minimum: {  // y_k = sel a_k + (1 - sel) b_k
      const C* ak = r.X(0, k);
      const C* bk = r.X(1, k);
      const C am = ak ? masked(*ak, s.mask) : C();
      const C bm = bk ? masked(*bk, tide::add_scalar(tide::neg(s.mask), 1.0)) : C();
      r.push(combine(T{{1.0, am.defined() ? &am : nullptr, nullptr}, {1.0, bm.defined() ? &bm : nullptr, nullptr}}));
      return;
    }
    case Op::where: {
      const C* ak = r.X(1, k);
      const C* bk = r.X(2, k);
      if (!ak && !bk) { r.push(C()); return; }
      r.push(where(*r.X(0, 0), ak ? *ak : zeros_like(*r.X(1, 0)), bk ? *bk : zeros_like(*r.X(2, 0))));
      return;
    }
    case Op::max: case Op::min: {  // to the extremal elements (ties share evenly)
      const C* xk = r.X(0, k);
      OpCall total = r.o;
      total.op = Op::sum;
      r.push(xk ? run_op<C>(total, {masked(*xk, s.mask)}) : C());
      return;
    }
    default: fail("internal: {} has no piecewise Taylor rule", op_name(r.o.op));
  }
}

// Coefficients 0..size-1 of u_m = x^(p-m) (m >= 1) in aux m-1, for x^p on nested coefficients:
// u_m' = (p-m) u_{m+1} x', so (u_m)_n = (p-m) d(x, u_{m+1})_n and (u_m)_0 = x_0^(p-m). No division
// by x_0: exact where x_0's primal is 0 but its own series is not (there u_m is 0 for m < p).
template <class C> void grow_power_chain(const Recurrence<C>& r, double p, int m, int size) {
  r.grow(m - 1, size, [&](int n) {
    if (n == 0) {
      OpCall power = r.o;
      power.p0 = p - m;
      return run_op<C>(power, {*r.X(0, 0)});
    }
    grow_power_chain(r, p, m + 1, n);
    return r.deriv_at(r.x[0], r.aux(m), n, p - m);
  });
}

// Powers x^p (rsqrt: p = -0.5): repeated products for small integer p, else the recurrence of x y' = p y x'.
template <class C> void power_coefficient(const Recurrence<C>& r) {
  using T = std::vector<Term<C>>;
  const int k = r.k;
  const OpCall& o = r.o;
  NodeState<C>& s = r.s;
  const SeriesRef<C>& a = r.x[0];
  const SeriesRef<C> y = r.y();
  const double p = o.op == Op::rsqrt ? -0.5 : o.p0;
  if (p == 0.0) { r.push(C()); return; }
  if (p == 1.0) { r.push(r.X(0, k) ? *r.X(0, k) : C()); return; }
  if (p == std::floor(p) && p >= 2.0 && p <= 16.0) {  // x^m = x^(m-1) * x, m = 2..p
    for (std::size_t m = 0; m < s.aux.size(); ++m) s.aux[m].push_back(r.cauchy_sum(m == 0 ? a : r.aux(static_cast<int>(m) - 1), a));
    r.push(r.cauchy_sum(s.aux.empty() ? a : r.aux(static_cast<int>(s.aux.size()) - 1), a));
    return;
  }
  // x y' = p y x'  =>  y_k = (1/(k x_0)) sum_{j=1..k} (p j - (k - j)) x_j y_{k-j}. Where x_0 = 0
  // and k < p the sum is 0 and so is y_k (x^p = s^p (x_1 + x_2 s + ...)^p has no term below
  // s^p): the division is by x_0 with its zeros replaced by 1 (aux 0). Orders k >= p at x_0 = 0
  // stay non-finite, as the derivatives are (for integer p > 16 the exact value x_1^p at k = p
  // is lost too: K >= 17), unless x_0..x_k are all 0 (p > 0: y is identically 0 so far). The
  // below-p divisor is only for plain coefficients (one level): a nested coefficient whose
  // primal is 0 may have a series of its own, and then the sum is not 0. Reverse mode takes the
  // derivative of such a y_k with respect to x_0 as 0 (the true one is infinite). Nested
  // coefficients below p take y' = p u_1 x' instead, u_1 = x^(p-1) by the same rule (grow_power_chain):
  // k aux series, no division.
  if constexpr (std::is_same_v<C, Jet>) {
    if (o.op == Op::pow_scalar && k < p) {
      r.narrow_zero_series();
      if (static_cast<int>(s.aux.size()) < k) s.aux.resize(static_cast<std::size_t>(k));  // first: grow holds references into it
      grow_power_chain(r, p, 1, k);
      r.push(r.deriv(a, r.aux(0), p));
      return;
    }
  }
  T t;
  for (int j = 1; j <= k; ++j) t.push_back(prod((p * j - (k - j)) / k, a.at(j), y.at(k - j)));
  const C d = r.one_where_zero_series(*a.at(0));
  const bool below_p = o.op == Op::pow_scalar && k < p && !s.aux.empty();
  r.push(r.over(combine(std::move(t)), below_p ? s.aux[0][0] : d));
}

// Products, quotients and powers: Cauchy products of the inputs' series.
template <class C> void product_coefficient(const Recurrence<C>& r) {
  using T = std::vector<Term<C>>;
  const int k = r.k;
  const OpCall& o = r.o;
  NodeState<C>& s = r.s;
  const SeriesRef<C>& a = r.x[0];
  const SeriesRef<C> y = r.y();
  switch (o.op) {
    case Op::mul: r.push(r.cauchy_sum(a, r.x[1])); return;
    case Op::matmul: {  // (A*B)_k with matmul as the product
      C acc;
      for (int j = 0; j <= k; ++j) {
        const C* aj = r.X(0, j);
        const C* bj = r.X(1, k - j);
        if (!aj || !bj) continue;
        C p = run_op<C>(o, {*aj, *bj});
        acc = acc.defined() ? acc + p : p;
      }
      r.push(acc);
      return;
    }
    case Op::square: {  // (x*x)_k
      T t;
      r.square_terms(a, k, 0, 1.0, t);
      r.push(combine(std::move(t)));
      return;
    }
    case Op::div: {  // y_k = (a_k - sum_{j>=1} b_j y_{k-j}) / b_0
      T t{{1.0, r.X(0, k), nullptr}};
      r.cauchy(r.x[1], y, 1, k, -1.0, t);
      r.push(r.over(combine(std::move(t)), *r.X(1, 0)));
      return;
    }
    case Op::reciprocal: {  // y_k = -(sum_{j>=1} x_j y_{k-j}) / x_0
      T t;
      r.cauchy(a, y, 1, k, -1.0, t);
      r.push(r.over(combine(std::move(t)), *a.at(0)));
      return;
    }
    case Op::sqrt: {  // y_k = (x_k - sum_{j=1..k-1} y_j y_{k-j}) / (2 y_0)
      T t{{1.0, r.X(0, k), nullptr}};
      r.square_terms(y, k, 1, -1.0, t);
      r.push(r.over(combine(std::move(t)), r.one_where_zero_series(s.y[0]) * 2.0));
      return;
    }
    case Op::rsqrt: case Op::pow_scalar: power_coefficient(r); return;
    default: fail("internal: {} has no product Taylor rule", op_name(o.op));
  }
}

// Elementary functions, y' = g x' with g from earlier coefficients (kept as auxiliary series).
template <class C> void function_coefficient(const Recurrence<C>& r) {
  using T = std::vector<Term<C>>;
  const int k = r.k;
  const OpCall& o = r.o;
  NodeState<C>& s = r.s;
  const SeriesRef<C>& a = r.x[0];
  const SeriesRef<C> y = r.y();
  const auto aux = [&](int n) { return r.aux(n); };
  switch (o.op) {
    case Op::exp: r.push(r.deriv(a, y)); return;                              // g = y
    case Op::expm1:                                                           // g = y + 1
      r.grow(0, k, [&](int n) { return s.y[static_cast<std::size_t>(n)]; });
      r.push(r.deriv(a, aux(0)));
      return;
    case Op::log: case Op::log1p: {  // y_k = (x_k - (1/k) sum_{j=1..k-1} j y_j x_{k-j}) / u_0; log1p: u = 1 + x (u_0 in aux 0)
      T t{{1.0, r.X(0, k), nullptr}};
      for (int j = 1; j < k; ++j) t.push_back(prod(-static_cast<double>(j) / k, y.at(j), a.at(k - j)));
      r.push(r.over(combine(std::move(t)), o.op == Op::log ? *a.at(0) : s.aux[0][0]));
      return;
    }
    case Op::sin: case Op::cos: {  // sin: s_k = d(x, c)_k, c_n = -d(x, s)_n; cos: the signs swap
      const double sign = o.op == Op::sin ? 1.0 : -1.0;
      r.grow(0, k, [&](int n) { return r.deriv_at(a, y, n, -sign); });
      r.push(r.deriv(a, aux(0), sign));
      return;
    }
    case Op::tanh: case Op::sigmoid: {  // g = 1 - y^2 (tanh), y - y^2 (sigmoid)
      r.grow(0, k, [&](int n) {
        T t;
        if (o.op == Op::sigmoid) t.push_back({1.0, y.at(n), nullptr});
        r.square_terms(y, n, 0, -1.0, t);
        return combine(std::move(t));
      });
      r.push(r.deriv(a, aux(0)));
      return;
    }
    case Op::softplus: case Op::silu: {  // sigma = sigmoid(x) in aux 0, its g = sigma - sigma^2 in aux 1
      const auto g = [&](int n) {
        T t{{1.0, aux(0).at(n), nullptr}};
        r.square_terms(aux(0), n, 0, -1.0, t);
        return combine(std::move(t));
      };
      r.grow(0, o.op == Op::softplus ? k : k + 1, [&](int n) {  // sigma_n needs g_0..g_{n-1}
        r.grow(1, n, g);
        return r.deriv_at(a, aux(1), n, 1.0);
      });
      if (o.op == Op::softplus) r.push(r.deriv(a, aux(0)));                  // softplus' = sigma
      else r.push(r.cauchy_sum(a, aux(0)));                                  // silu = x sigma
      return;
    }
    case Op::erf: {  // g = (2/sqrt(pi)) e, e = exp(m), m = -x^2
      r.grow(1, k, [&](int n) {  // e_n = d(m, e)_n needs m_1..m_n
        r.grow(0, n + 1, [&](int i) {
          T t;
          r.square_terms(a, i, 0, -1.0, t);
          return combine(std::move(t));
        });
        return r.deriv_at(aux(0), aux(1), n, 1.0);
      });
      r.push(r.deriv(a, aux(1), 1.1283791670955126));
      return;
    }
    case Op::gelu: {  // x Phi(x); Phi = (1 + erf(u)) / 2, u = x / sqrt(2): aux u, m = -u^2, e = exp(m), Phi
      const C* xk = r.X(0, k);
      s.aux[0].push_back(xk ? *xk * 0.7071067811865476 : C());
      s.aux[3].push_back(r.deriv(aux(0), aux(2), 0.5641895835477563));      // Phi' = e / sqrt(pi) u'
      T t;
      r.square_terms(aux(0), k, 0, -1.0, t);
      s.aux[1].push_back(combine(std::move(t)));
      s.aux[2].push_back(r.deriv(aux(1), aux(2)));
      r.push(r.cauchy_sum(a, aux(3)));
      return;
    }
    case Op::elu: {  // x where x > 0, else alpha (e^x - 1): aux xm = x off the positive branch, e = exp(xm)
      const C* xk = r.X(0, k);
      s.aux[0].push_back(xk ? masked(*xk, tide::add_scalar(tide::neg(s.mask), 1.0)) : C());
      s.aux[1].push_back(r.deriv(aux(0), aux(1)));
      const C pos = xk ? masked(*xk, s.mask) : C();
      r.push(combine(T{{1.0, pos.defined() ? &pos : nullptr, nullptr}, {o.p0, aux(1).at(k), nullptr}}));
      return;
    }
    default: fail("internal: {} has no elementary-function Taylor rule", op_name(o.op));
  }
}

// Coefficient k of the op's output, appended to s.y (and its auxiliary series updated). Every op of
// the table has its case here (no default: -Werror=switch); each family's rules are above.
template <class C> void next_coefficient(const OpCall& o, int k, const std::vector<SeriesRef<C>>& x, NodeState<C>& s) {
  if (k == 0) {
    s.y.push_back(coefficient0(o, x, s));
    return;
  }
  const Recurrence<C> r{o, k, x, s};
  switch (o.op) {
    // linear (the op table's column): every coefficient maps through the op itself
    TIDE_OP_TABLE(TIDE_LINEAR_OP_CASE) r.push(r.linear()); return;
    case Op::add_scalar: r.push(r.X(0, k) ? *r.X(0, k) : C()); return;  // the constant is order 0 only
    // zero derivative almost everywhere
    case Op::sign: case Op::eq: case Op::ne: case Op::lt: case Op::le: case Op::gt: case Op::ge:
      r.push(C()); return;
    case Op::abs: case Op::relu: case Op::leaky_relu: case Op::clamp: case Op::maximum: case Op::minimum:
    case Op::where: case Op::max: case Op::min:
      piecewise_coefficient(r); return;
    case Op::mul: case Op::matmul: case Op::square: case Op::div: case Op::reciprocal: case Op::sqrt:
    case Op::rsqrt: case Op::pow_scalar:
      product_coefficient(r); return;
    case Op::exp: case Op::expm1: case Op::log: case Op::log1p: case Op::sin: case Op::cos: case Op::tanh:
    case Op::sigmoid: case Op::softplus: case Op::silu: case Op::erf: case Op::gelu: case Op::elu:
      function_coefficient(r); return;
  }
}

// Coefficient 0: the op on the primal values, and the start of each auxiliary series.
template <class C> C coefficient0(const OpCall& o, const std::vector<SeriesRef<C>>& x, NodeState<C>& s) {
  std::vector<C> x0;
  for (const auto& xi : x) x0.push_back(*xi.at(0));
  C y0 = run_op<C>(o, x0);
  const C& a = x0[0];
  const Tensor& av = value_of(a);
  auto lit = [&](double v) { return Tensor::scalar(v, av.dtype(), av.device()); };
  auto start = [&](std::initializer_list<C> firsts) {
    s.aux.clear();
    for (const C& f : firsts) s.aux.push_back({f});
  };
  switch (o.op) {
    case Op::expm1: start({y0 + 1.0}); break;
    case Op::log1p: start({a + 1.0}); break;
    case Op::sin: start({cos(a)}); break;
    case Op::cos: start({sin(a)}); break;
    // 1 - y^2 (tanh) and y - y^2 (sigmoid) start from the rounded y: they lose relative digits as y
    // nears +-1 (tanh's order-12 coefficient: 2e-4 relative at x = 5 in f32, 1e-8 at x = 10 in f64)
    // and are 0 once it rounds there (tanh: |x| >
    // ~9 in f32, ~19 in f64; sigmoid: x > ~17 in f32, ~37 in f64), and every coefficient above order
    // 0 with them: tanh(9 + 10 s) in f32 has z_12 = 0 against -0.26. The reverse-mode derivative
    // (autodiff/src/backward.hpp) and PyTorch's and JAX's take the same 1 - y^2. sech^2(x) or
    // sigma(x) sigma(-x) from x would keep them at the price of an exp per call at order 0.
    case Op::tanh: start({quadratic(y0, 1.0, 0.0, -1.0, [&] { return 1.0 - square(y0); })}); break;
    case Op::sigmoid: start({quadratic(y0, 0.0, 1.0, -1.0, [&] { return y0 * (1.0 - y0); })}); break;
    case Op::softplus: case Op::silu: { const C sg = sigmoid(a); start({sg, sg * (1.0 - sg)}); break; }
    case Op::erf: { const C m = -square(a); start({m, exp(m)}); break; }
    case Op::gelu: {
      // Phi = (1 + erf(u)) / 2 cancels in the left tail (x <= -1: 2.8% off gelu's slope at x = -6
      // in f32); there Phi = gelu(x) / x = y0 / x, whose kernel is erfc (exact), as in the reverse
      // rule (autodiff/src/backward.hpp). The divisor is 1 off the tail, where it is not read.
      const C u = a * 0.7071067811865476, m = -square(u);
      const Tensor tail = tide::binary(Op::le, av, lit(-1.0)), body = tide::add_scalar(tide::neg(tail), 1.0);
      const C phi = masked(y0 / (masked(a, tail) + C(Var(body))), tail) + masked((erf(u) + 1.0) * 0.5, body);
      start({u, m, exp(m), phi});
      break;
    }
    case Op::elu: {
      s.mask = tide::binary(Op::gt, av, lit(0.0));
      const C xm = masked(a, tide::add_scalar(tide::neg(s.mask), 1.0));
      start({xm, exp(xm)});
      break;
    }
    case Op::pow_scalar: {
      s.aux.clear();
      const double p = o.p0;
      if (p == std::floor(p) && p >= 2.0 && p <= 16.0) {  // x^2 .. x^(p-1)
        C pm = a;
        for (int m = 2; m < static_cast<int>(p); ++m) { pm = pm * a; s.aux.push_back({pm}); }
      } else {
        if (p > 1.0 && !std::is_same_v<C, Jet>)  // x_0 with its zeros replaced by 1, the divisor of orders below p
          start({a + C(Var(tide::binary(Op::eq, av, lit(0.0))))});
        if (p > 0.0 && p != 1.0) s.mask = zero_mask_if_any(a);  // where the series is zero so far (one_where_zero_series)
      }
      break;
    }
    case Op::sqrt: s.mask = zero_mask_if_any(a); break;
    case Op::abs: s.mask = tide::sign(av); break;
    case Op::relu: s.mask = tide::binary(Op::gt, av, lit(0.0)); break;
    case Op::leaky_relu:
      s.mask = tide::add_scalar(tide::mul_scalar(tide::binary(Op::gt, av, lit(0.0)), 1.0 - o.p0), o.p0);
      break;
    case Op::clamp:
      s.mask = tide::mul(tide::binary(Op::ge, av, lit(o.p0)), tide::binary(Op::le, av, lit(o.p1)));
      break;
    case Op::maximum: case Op::minimum: {
      const Tensor& bv = value_of(x0[1]);
      s.mask = tide::add(tide::binary(o.op == Op::maximum ? Op::gt : Op::lt, av, bv), tide::mul_scalar(tide::eq(av, bv), 0.5));
      break;
    }
    case Op::max: case Op::min: {
      Shape kept = av.shape();
      for (int i = 0; i < kept.rank(); ++i)
        if (o.axes & (1u << i)) kept[i] = 1;
      const Tensor hit = tide::eq(av, value_of(y0).reshape(kept));
      s.mask = tide::div(hit, tide::reduce(Op::sum, hit, o.axes, true));
      break;
    }
    default: break;
  }
  return y0;
}

}  // namespace tide::taylor_detail
