#include "tide/solvers/step.hpp"
#include "stepper.hpp"
#include "tide/core/fused.hpp"

namespace tide {

Var explicit_step(const Dynamics& f, const Var& y, double t, double h, Method method) {
  const Tableau* stepper_tableau = detail::default_stepper(method).tableau();
  if (!stepper_tableau || stepper_tableau->implicit)
    fail("explicit_step: {} is not an explicit Runge-Kutta method (use solve())", method_name(method));
  if (y.rank() < 1) fail("explicit_step: the state needs a batch axis, got {}", y.value().str());
  const Tableau& tab = *stepper_tableau;
  const bool record = grad_enabled() && y.requires_grad();
  const std::int64_t batch = y.shape()[0];
  auto time = [&](double c) { return Var(Tensor::full(Shape{batch, 1}, t + c * h, y.dtype(), y.device())); };
  // With nothing to record, each combination is one fused kernel; otherwise ops the tape records.
  auto combine = [&](const std::vector<Var>& k, const std::vector<double>& w) {
    std::vector<Var> used;
    std::vector<double> c;
    for (std::size_t j = 0; j < k.size() && j < w.size(); ++j)
      if (w[j] != 0.0) used.push_back(k[j]), c.push_back(h * w[j]);
    if (used.empty()) return y;
    bool tape = record;
    for (const Var& v : used) tape = tape || (grad_enabled() && v.requires_grad());
    if (!tape) {
      std::vector<Tensor> xs;
      for (const Var& v : used) xs.push_back(v.value());
      return Var(linear_combination(y.value(), xs, c));
    }
    Var acc = y;
    for (std::size_t j = 0; j < used.size(); ++j) acc = acc + used[j] * c[j];
    return acc;
  };
  std::vector<Var> k;
  for (int i = 0; i < tab.stages(); ++i) {
    const Var z = i == 0 ? y : combine(k, tab.a[static_cast<std::size_t>(i)]);
    const Var ki = f(z, time(tab.c[static_cast<std::size_t>(i)]));
    if (!(ki.shape() == y.shape()))
      fail("explicit_step: the dynamics returned {} for a state of shape {}", ki.value().str(), y.shape().str());
    k.push_back(ki);
  }
  return combine(k, tab.b);
}

}  // namespace tide
