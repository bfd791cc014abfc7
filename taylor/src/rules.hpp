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
#include "tide/taylor/jet_ops.hpp"
#include <cmath>

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

template <class C> C run_op(const OpCall& op, const std::vector<C>& x);
template <> inline Var run_op<Var>(const OpCall& op, const std::vector<Var>& x) { return apply_op(op, x); }
template <> inline Jet run_op<Jet>(const OpCall& op, const std::vector<Jet>& x) { return jet_apply(op, x); }
inline Var zeros_like(const Var& ref) { return Var(Tensor::zeros(ref.shape(), ref.dtype(), ref.device())); }
inline Jet zeros_like(const Jet& ref) { return Jet(Tensor::zeros(ref.shape(), ref.dtype(), ref.device())); }
template <class C> C masked(const C& x, const Tensor& mask) { return x * C(Var(mask)); }

template <class C> C coefficient0(const OpCall& o, const std::vector<SeriesRef<C>>& x, NodeState<C>& s);

// Coefficient k of the op's output, appended to s.y (and its auxiliary series updated).
template <class C> void next_coefficient(const OpCall& o, int k, const std::vector<SeriesRef<C>>& x, NodeState<C>& s) {
  if (k == 0) {
    s.y.push_back(coefficient0(o, x, s));
    return;
  }
  using T = std::vector<Term<C>>;
  auto X = [&](int i, int j) { return x[static_cast<std::size_t>(i)].at(j); };
  const SeriesRef<C> y{&s.y, false};
  auto aux = [&](int n) { return SeriesRef<C>{&s.aux[static_cast<std::size_t>(n)], false}; };
  auto push = [&](C v) {
    if (v.defined() && !(v.shape() == s.y[0].shape())) v = broadcast_to(v, s.y[0].shape());
    s.y.push_back(std::move(v));
  };
  // (a*b)_k over j in [lo, hi], weighted
  auto cauchy = [&](const SeriesRef<C>& a, const SeriesRef<C>& b, int lo, int hi, double w, T& out) {
    for (int j = lo; j <= hi; ++j) out.push_back(prod(w, a.at(j), b.at(k - j)));
  };
  auto cauchy_sum = [&](const SeriesRef<C>& a, const SeriesRef<C>& b) {
    T t;
    cauchy(a, b, 0, k, 1.0, t);
    return combine(std::move(t));
  };
  // d(a, g)_n = (1/n) sum_j j a_j g_{n-j}, scaled by w
  auto deriv_at = [&](const SeriesRef<C>& a, const SeriesRef<C>& g, int n, double w) {
    T t;
    for (int j = 1; j <= n; ++j) t.push_back(prod(w * j / n, a.at(j), g.at(n - j)));
    return combine(std::move(t));
  };
  auto deriv = [&](const SeriesRef<C>& a, const SeriesRef<C>& g, double w = 1.0) { return deriv_at(a, g, k, w); };
  // (a*a)_n over j in [lo, n - lo], weighted: each cross term once with weight 2 (half the reads)
  auto square_terms = [&](const SeriesRef<C>& a, int n, int lo, double w, T& out) {
    for (int j = lo; 2 * j < n; ++j) out.push_back(prod(2.0 * w, a.at(j), a.at(n - j)));
    if (n % 2 == 0 && n / 2 >= lo) out.push_back(prod(w, a.at(n / 2), a.at(n / 2)));
  };
  // Auxiliary series are filled lazily: entry n is made when an order first needs it, so the last
  // order requested never computes auxiliary coefficients no later order will read.
  auto grow = [&](int series, int size, const auto& make) {
    auto& c = s.aux[static_cast<std::size_t>(series)];
    while (static_cast<int>(c.size()) < size) {
      const int n = static_cast<int>(c.size());
      c.push_back(make(n));
    }
  };
  // A linear op on the inputs' coefficients k (a missing one is an exact zero); undefined when all are.
  // A sum or difference with one zero side is the other side (push broadcasts it), with no zeros made.
  auto linear = [&] {
    bool any = false;
    std::vector<C> parts;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const C* v = x[i].at(k);
      any = any || v;
      parts.push_back(v ? *v : zeros_like(*x[i].at(0)));
    }
    if (!any) return C();
    if ((o.op == Op::add || o.op == Op::sub) && !(x[0].at(k) && x[1].at(k)))
      return x[0].at(k) ? parts[0] : o.op == Op::add ? parts[1] : -parts[1];
    return run_op<C>(o, parts);
  };
  auto over = [](C t, const C& d) { return t.defined() ? t / d : t; };
  const SeriesRef<C>& a = x[0];
  const C& a0 = *a.at(0);

  switch (o.op) {
    // linear (the op table's column): every coefficient maps through the op itself
    TIDE_OP_TABLE(TIDE_LINEAR_OP_CASE) push(linear()); return;
    case Op::add_scalar: push(X(0, k) ? *X(0, k) : C()); return;  // the constant is order 0 only
    // zero derivative almost everywhere
    case Op::sign: case Op::eq: case Op::ne: case Op::lt: case Op::le: case Op::gt: case Op::ge:
      push(C()); return;
    // piecewise linear: the branch is fixed by the primal
    case Op::abs: case Op::relu: case Op::leaky_relu: case Op::clamp:
      push(X(0, k) ? masked(*X(0, k), s.mask) : C()); return;
    case Op::maximum: case Op::minimum: {  // y_k = sel a_k + (1 - sel) b_k
      const C* ak = X(0, k);
      const C* bk = X(1, k);
      const C am = ak ? masked(*ak, s.mask) : C();
      const C bm = bk ? masked(*bk, tide::add_scalar(tide::neg(s.mask), 1.0)) : C();
      push(combine(T{{1.0, am.defined() ? &am : nullptr, nullptr}, {1.0, bm.defined() ? &bm : nullptr, nullptr}}));
      return;
    }
    case Op::where: {
      const C* ak = X(1, k);
      const C* bk = X(2, k);
      if (!ak && !bk) { push(C()); return; }
      push(where(*X(0, 0), ak ? *ak : zeros_like(*X(1, 0)), bk ? *bk : zeros_like(*X(2, 0))));
      return;
    }
    case Op::max: case Op::min: {  // to the extremal elements (ties share evenly)
      const C* xk = X(0, k);
      OpCall total = o;
      total.op = Op::sum;
      push(xk ? run_op<C>(total, {masked(*xk, s.mask)}) : C());
      return;
    }
    // products
    case Op::mul: push(cauchy_sum(a, x[1])); return;
    case Op::matmul: {  // (A*B)_k with matmul as the product
      C acc;
      for (int j = 0; j <= k; ++j) {
        const C* aj = X(0, j);
        const C* bj = X(1, k - j);
        if (!aj || !bj) continue;
        C p = run_op<C>(o, {*aj, *bj});
        acc = acc.defined() ? acc + p : p;
      }
      push(acc);
      return;
    }
    case Op::square: {  // (x*x)_k
      T t;
      square_terms(a, k, 0, 1.0, t);
      push(combine(std::move(t)));
      return;
    }
    case Op::div: {  // y_k = (a_k - sum_{j>=1} b_j y_{k-j}) / b_0
      T t{{1.0, X(0, k), nullptr}};
      cauchy(x[1], y, 1, k, -1.0, t);
      push(over(combine(std::move(t)), *X(1, 0)));
      return;
    }
    case Op::reciprocal: {  // y_k = -(sum_{j>=1} x_j y_{k-j}) / x_0
      T t;
      cauchy(a, y, 1, k, -1.0, t);
      push(over(combine(std::move(t)), a0));
      return;
    }
    case Op::sqrt: {  // y_k = (x_k - sum_{j=1..k-1} y_j y_{k-j}) / (2 y_0)
      T t{{1.0, X(0, k), nullptr}};
      square_terms(y, k, 1, -1.0, t);
      push(over(combine(std::move(t)), s.y[0] * 2.0));
      return;
    }
    case Op::rsqrt: case Op::pow_scalar: {
      const double p = o.op == Op::rsqrt ? -0.5 : o.p0;
      if (p == 0.0) { push(C()); return; }
      if (p == 1.0) { push(X(0, k) ? *X(0, k) : C()); return; }
      if (p == std::floor(p) && p >= 2.0 && p <= 16.0) {  // x^m = x^(m-1) * x, m = 2..p
        for (std::size_t m = 0; m < s.aux.size(); ++m) s.aux[m].push_back(cauchy_sum(m == 0 ? a : aux(static_cast<int>(m) - 1), a));
        push(cauchy_sum(s.aux.empty() ? a : aux(static_cast<int>(s.aux.size()) - 1), a));
        return;
      }
      // x y' = p y x'  =>  y_k = (1/(k x_0)) sum_{j=1..k} (p j - (k - j)) x_j y_{k-j}
      T t;
      for (int j = 1; j <= k; ++j) t.push_back(prod((p * j - (k - j)) / k, a.at(j), y.at(k - j)));
      push(over(combine(std::move(t)), a0));
      return;
    }
    // y' = g x' with g from earlier coefficients
    case Op::exp: push(deriv(a, y)); return;                                  // g = y
    case Op::expm1:                                                           // g = y + 1
      grow(0, k, [&](int n) { return s.y[static_cast<std::size_t>(n)]; });
      push(deriv(a, aux(0)));
      return;
    case Op::log: {  // y_k = (x_k - (1/k) sum_{j=1..k-1} j y_j x_{k-j}) / x_0
      T t{{1.0, X(0, k), nullptr}};
      for (int j = 1; j < k; ++j) t.push_back(prod(-static_cast<double>(j) / k, y.at(j), a.at(k - j)));
      push(over(combine(std::move(t)), a0));
      return;
    }
    case Op::log1p: {  // as log of u = 1 + x (u_0 kept in aux 0)
      T t{{1.0, X(0, k), nullptr}};
      for (int j = 1; j < k; ++j) t.push_back(prod(-static_cast<double>(j) / k, y.at(j), a.at(k - j)));
      push(over(combine(std::move(t)), s.aux[0][0]));
      return;
    }
    case Op::sin: case Op::cos: {  // sin: s_k = d(x, c)_k, c_n = -d(x, s)_n; cos: the signs swap
      const double sign = o.op == Op::sin ? 1.0 : -1.0;
      grow(0, k, [&](int n) { return deriv_at(a, y, n, -sign); });
      push(deriv(a, aux(0), sign));
      return;
    }
    case Op::tanh: case Op::sigmoid: {  // g = 1 - y^2 (tanh), y - y^2 (sigmoid)
      grow(0, k, [&](int n) {
        T t;
        if (o.op == Op::sigmoid) t.push_back({1.0, y.at(n), nullptr});
        square_terms(y, n, 0, -1.0, t);
        return combine(std::move(t));
      });
      push(deriv(a, aux(0)));
      return;
    }
    case Op::softplus: case Op::silu: {  // sigma = sigmoid(x) in aux 0, its g = sigma - sigma^2 in aux 1
      const auto g = [&](int n) {
        T t{{1.0, aux(0).at(n), nullptr}};
        square_terms(aux(0), n, 0, -1.0, t);
        return combine(std::move(t));
      };
      grow(0, o.op == Op::softplus ? k : k + 1, [&](int n) {  // sigma_n needs g_0..g_{n-1}
        grow(1, n, g);
        return deriv_at(a, aux(1), n, 1.0);
      });
      if (o.op == Op::softplus) push(deriv(a, aux(0)));                      // softplus' = sigma
      else push(cauchy_sum(a, aux(0)));                                      // silu = x sigma
      return;
    }
    case Op::erf: {  // g = (2/sqrt(pi)) e, e = exp(m), m = -x^2
      grow(1, k, [&](int n) {  // e_n = d(m, e)_n needs m_1..m_n
        grow(0, n + 1, [&](int i) {
          T t;
          square_terms(a, i, 0, -1.0, t);
          return combine(std::move(t));
        });
        return deriv_at(aux(0), aux(1), n, 1.0);
      });
      push(deriv(a, aux(1), 1.1283791670955126));
      return;
    }
    case Op::gelu: {  // x Phi(x); Phi = (1 + erf(u)) / 2, u = x / sqrt(2): aux u, m = -u^2, e = exp(m), Phi
      const C* xk = X(0, k);
      s.aux[0].push_back(xk ? *xk * 0.7071067811865476 : C());
      s.aux[3].push_back(deriv(aux(0), aux(2), 0.5641895835477563));      // Phi' = e / sqrt(pi) u'
      T t;
      square_terms(aux(0), k, 0, -1.0, t);
      s.aux[1].push_back(combine(std::move(t)));
      s.aux[2].push_back(deriv(aux(1), aux(2)));
      push(cauchy_sum(a, aux(3)));
      return;
    }
    case Op::elu: {  // x where x > 0, else alpha (e^x - 1): aux xm = x off the positive branch, e = exp(xm)
      const C* xk = X(0, k);
      s.aux[0].push_back(xk ? masked(*xk, tide::add_scalar(tide::neg(s.mask), 1.0)) : C());
      s.aux[1].push_back(deriv(aux(0), aux(1)));
      const C pos = xk ? masked(*xk, s.mask) : C();
      push(combine(T{{1.0, pos.defined() ? &pos : nullptr, nullptr}, {o.p0, aux(1).at(k), nullptr}}));
      return;
    }
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
    case Op::tanh: start({1.0 - square(y0)}); break;
    case Op::sigmoid: start({y0 * (1.0 - y0)}); break;
    case Op::softplus: case Op::silu: { const C sg = sigmoid(a); start({sg, sg * (1.0 - sg)}); break; }
    case Op::erf: { const C m = -square(a); start({m, exp(m)}); break; }
    case Op::gelu: {
      const C u = a * 0.7071067811865476, m = -square(u);
      start({u, m, exp(m), (erf(u) + 1.0) * 0.5});
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
      }
      break;
    }
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
