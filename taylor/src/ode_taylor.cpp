#include "tide/taylor/ode_taylor.hpp"
#include "trace.hpp"
#include "tide/core/plan.hpp"
#include <cmath>
#include <limits>
#include "jet_access.hpp"

namespace tide {

using detail::JetAccess;

const char* taylor_form_name(TaylorForm form) {
  switch (form) {
    case TaylorForm::incremental: return "incremental";
    case TaylorForm::rerun: return "rerun";
    case TaylorForm::nested_jvp: return "nested_jvp";
  }
  return "?";
}

namespace {
Var time_as(const Var& t, const Var& z) {
  if (!t.defined()) fail("ode_taylor: the time t is undefined");
  if (!is_floating(t.dtype())) fail("ode_taylor: the time t must be floating, got {}", dtype_name(t.dtype()));
  return t.dtype() == z.dtype() ? t : cast(t, z.dtype());
}
Var ones_like(const Var& t) { return Var(Tensor::ones(t.shape(), t.dtype(), t.device())); }
Var zeros_like(const Var& t) { return Var(Tensor::zeros(t.shape(), t.dtype(), t.device())); }

// K's range: max_taylor_order; nested_jvp also needs its K - 1 levels over z's (and t's) axes to
// fit in one tensor.
void check_args(const Var& z, const Var& t, int K, TaylorForm form) {
  if (!z.defined()) fail("ode_taylor: the state z is undefined");
  if (!is_floating(z.dtype())) fail("ode_taylor: the state must be floating, got {}", dtype_name(z.dtype()));
  const int max_k = form == TaylorForm::nested_jvp ? max_nested_jvp + 1 : max_taylor_order;
  if (K < 0 || K > max_k) fail("ode_taylor ({}): K = {} is outside 0..{}", taylor_form_name(form), K, max_k);
  if (form == TaylorForm::nested_jvp && K >= 2) {
    const Shape& widest = t.defined() && t.rank() > z.rank() ? t.shape() : z.shape();
    detail::check_levels_fit(K - 1, widest, "ode_taylor (nested_jvp, K = {})", K);
  }
}

// Skipped while a plan is traced (values cannot be read back then): a compiled Taylor computation
// returns the non-finite value instead, for the caller to check.
bool all_finite(const Var& c) {
  return std::isfinite(tide::reduce(Op::sum, tide::mul_scalar(c.value(), 0.0), all_axes(c.rank()), false).item());
}
void check_coefficient(const Var& c, int k) {
  if (Trace::active() || all_finite(c)) return;
  fail("ode_taylor: the coefficient of order {} is not finite (the dynamics or their derivatives overflow at this state)", k);
}

// The derivatives d^k z/dt^k = k! z_k (orders first_order.. of d) can overflow the state's dtype where
// z_k did not (f32, z' = 20 z from 1: z_30 = 4e6, z^(30) = 1e39). One read for all of them; the
// first order that overflows is named.
void check_derivatives(const std::vector<Var>& d, int first_order) {
  if (Trace::active() || d.empty()) return;
  std::vector<Tensor> parts;
  for (const Var& dk : d) parts.push_back(tide::mul_scalar(dk.value(), 0.0).reshape(Shape{-1}));
  if (std::isfinite(tide::reduce(Op::sum, tide::concat(parts, 0), all_axes(1), false).item())) return;
  for (std::size_t k = 0; k < d.size(); ++k)
    if (!all_finite(d[k]))
      fail("ode_taylor: the derivative of order {} (k! times its coefficient, which is finite) overflows {} at this state; use "
           "an f64 state or the coefficients (ode_taylor_coefficients)",
           first_order + static_cast<int>(k), dtype_name(d[k].dtype()));
}

// An f32 state's coefficients z_k = z^(k)/k! can fall below f32's smallest normal (1.2e-38) while
// the derivatives are far from it (z' = 0.3 z: z_25 = 5.5e-39, z^(25) = 8.5e-14): they lose digits,
// then flush to 0, and ode_taylor would return k! times that. Caught at the order where it starts,
// per element: a subnormal coefficient, or a 0 after a normal one below 2^23 times the smallest
// normal (a flush that skipped the subnormals); a 0 after a larger one is taken as exact (z' = 1:
// z_2 = 0). One read of the values, skipped while traced as check_coefficient is. (f64's smallest
// normal, 2.2e-308, leaves room at K = 32 for any derivative above 1e-272.)
void check_underflow(const std::vector<Var>& c) {
  if (Trace::active() || c.size() < 2 || c.front().dtype() != DType::f32) return;
  std::vector<Tensor> magnitudes;
  for (const Var& ck : c) magnitudes.push_back(abs(ck.value()).reshape(Shape{1, -1}));
  const Tensor a = concat(magnitudes, 0);  // |z_k|, [K+1, numel]
  const std::int64_t K = a.shape()[0] - 1;
  const auto constant = [&](double v) { return Tensor::scalar(v, DType::f32, a.device()); };
  const float smallest = std::numeric_limits<float>::min();
  const Tensor at = a.slice(0, 1, K + 1), below = a.slice(0, 0, K), zero = constant(0.0), normal = constant(smallest);
  const Tensor subnormal = lt(at, normal) * gt(at, zero);
  const Tensor flushed = eq(at, zero) * ge(below, normal) * lt(below, constant(smallest / std::numeric_limits<float>::epsilon()));
  const std::vector<double> count = sum(subnormal + flushed, {1}).to_vector();
  for (std::int64_t k = 1; k <= K; ++k)
    if (count[static_cast<std::size_t>(k - 1)] > 0)
      fail("ode_taylor: the coefficient of order {} (z^({})/{}!) underflows f32 (below its smallest normal, {:g}) at {} of the "
           "state's {} elements: the derivatives from order {} on would lose digits or come out 0; use an f64 state (or K <= {})",
           k, k, k, smallest, count[static_cast<std::size_t>(k - 1)], a.shape()[1], k, k - 1);
}

// What the dynamics returned must be the state's shape and dtype (checked before any op mixes them).
void check_dynamics(const Jet& y, const Shape& shape, DType dtype) {
  if (!(y.shape() == shape))
    fail("ode_taylor: the dynamics returned shape {} for a state of shape {}", y.shape().str(), shape.str());
  if (y.dtype() != dtype)
    fail("ode_taylor: the dynamics returned {} for a state of {}{}", dtype_name(y.dtype()), dtype_name(dtype), shape.str());
}
void checked_shape(const Jet& y, const Var& z) { check_dynamics(y, z.shape(), z.dtype()); }

// coefficients z_0..z_K, each as a Var
std::vector<Var> incremental(const JetDynamics& f, const Var& z, const Var& t, int K) {
  TaylorTrace trace;
  Jet zj, y;
  {
    TaylorTrace::Recording recording(trace);
    zj = trace.input(z);
    const Jet tj = trace.polynomial({t, ones_like(t)});
    y = f(zj, tj);
  }
  checked_shape(y, z);
  std::vector<Var> c{z};
  for (int k = 0; k < K; ++k) {
    if (k > 0) trace.compute(k);
    Var yk = trace.coefficient(y, k);
    Var next = yk.defined() ? (yk.shape() == z.shape() ? yk : broadcast_to(yk, z.shape())) * (1.0 / (k + 1)) : zeros_like(z);
    if (k + 1 < K) trace.append(zj, next);
    c.push_back(std::move(next));
  }
  return c;
}

std::vector<Var> rerun(const JetDynamics& f, const Var& z, const Var& t, int K) {
  std::vector<Var> c{z};
  for (int k = 0; k < K; ++k) {
    // a fresh jet of order k through the whole dynamics
    std::vector<Var> tc{t};
    if (k >= 1) tc.push_back(ones_like(t));
    for (int j = 2; j <= k; ++j) tc.push_back(zeros_like(t));
    const Jet y = f(JetAccess::from_data(stack(c, 0), {k}), JetAccess::from_data(stack(tc, 0), {k}));
    checked_shape(y, z);
    Var next = y.coefficient(k).primal() * (1.0 / (k + 1));
    c.push_back(std::move(next));
  }
  return c;
}

// g_K(z, t) = d^K z/dt^K by K-1 nested jvps along (f, 1)
Var nested(const JetDynamics& f, const Var& z, const Var& t, int K) {
  MultiJetFn g = [f](const std::vector<Jet>& a) { return f(a[0], a[1]); };
  for (int i = 1; i < K; ++i)
    g = [g, f](const std::vector<Jet>& a) {
      const Jet one(Tensor::ones(a[1].shape(), a[1].dtype(), a[1].device()));
      const Jet tangent = f(a[0], a[1]);
      check_dynamics(tangent, a[0].shape(), a[0].dtype());
      return jvp(g, a, {tangent, one}).second;
    };
  const Jet y = g({Jet(z), Jet(t)});
  checked_shape(y, z);
  return y.primal();
}

// z_0..z_K; a non-finite value anywhere propagates to the highest order, which is checked unless
// `checked` is false (a solver's trial evaluation, whose own non-finite handling rejects the step)
std::vector<Var> coefficient_list(const JetDynamics& f, const Var& z, const Var& t0, int K, TaylorForm form,
                                  bool checked = true) {
  check_args(z, t0, K, form);
  const Var t = time_as(t0, z);
  std::vector<Var> c;
  switch (form) {
    case TaylorForm::incremental: c = incremental(f, z, t, K); break;
    case TaylorForm::rerun: c = rerun(f, z, t, K); break;
    case TaylorForm::nested_jvp: {
      c.push_back(z);
      double factorial = 1.0;
      for (int k = 1; k <= K; ++k) {
        factorial *= k;
        Var d = nested(f, z, t, k);
        c.push_back(d * (1.0 / factorial));
      }
      break;
    }
  }
  for (int k = 1; k <= K && checked; ++k)
    if (k == K || form == TaylorForm::nested_jvp) check_coefficient(c[static_cast<std::size_t>(k)], k);
  if (checked) check_underflow(c);
  return c;
}
}  // namespace

Var ode_taylor_coefficients(const JetDynamics& f, const Var& z, const Var& t, int K, TaylorForm form) {
  return stack(coefficient_list(f, z, t, K, form), 0);
}

namespace detail {
Var ode_taylor_coefficients_unchecked(const JetDynamics& f, const Var& z, const Var& t, int K) {
  return stack(coefficient_list(f, z, t, K, TaylorForm::incremental, false), 0);
}
}  // namespace detail

std::vector<Var> ode_taylor(const JetDynamics& f, const Var& z, const Var& t, int K, TaylorForm form) {
  const std::vector<Var> c = coefficient_list(f, z, t, K, form);
  std::vector<Var> out;
  double factorial = 1.0;
  for (int k = 1; k <= K; ++k) {
    factorial *= k;
    out.push_back(c[static_cast<std::size_t>(k)] * factorial);
  }
  check_derivatives(out, 1);
  return out;
}

Var ode_derivative(const JetDynamics& f, const Var& z, const Var& t0, int K, TaylorForm form) {
  check_args(z, t0, K, form);
  if (K == 0) return z;
  if (form != TaylorForm::nested_jvp) {
    double factorial = 1.0;
    for (int k = 2; k <= K; ++k) factorial *= k;
    const Var d = coefficient_list(f, z, t0, K, form).back() * factorial;
    check_derivatives({d}, K);
    return d;
  }
  const Var d = nested(f, z, time_as(t0, z), K);
  check_coefficient(d, K);
  return d;
}

}  // namespace tide
