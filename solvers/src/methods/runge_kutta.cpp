// The Runge-Kutta stepper: one stepping routine for every explicit and diagonally implicit
// tableau (ENGINE.md rule 3). The tableaus themselves are data (tableaus.cpp); this file is how a
// tableau steps, estimates its error and interpolates.
#include "../stepper.hpp"
#include "implicit_stages.hpp"
#include <optional>

namespace tide::detail {

namespace {

Var time_column(const std::vector<double>& t, const std::vector<double>& h, double c, DType dtype, Device device) {
  std::vector<double> v(t.size());
  for (std::size_t r = 0; r < t.size(); ++r) v[r] = t[r] + c * h[r];
  return Var(column(v, dtype, device));
}

class RungeKutta final : public Stepper {
public:
  RungeKutta(Method method, const Tableau& tableau, const SolveOptions& options)
      : method_(method), tab_(tableau), implicit_(options.implicit), newton_max_iterations_(options.newton_max_iterations) {}
  Method method() const override { return method_; }
  int order() const override { return tab_.order; }
  int error_order() const override { return tab_.error_order; }
  bool first_stage_is_f() const override { return tab_.a[0][0] == 0.0; }
  bool fsal() const override { return tab_.fsal || tab_.reuse_last_stage; }
  // methods of order 4 and above without their own interpolant (fehlberg45, dop853: cubic Hermite
  // only) land on every output time instead of interpolating below their order
  bool lands_on_outputs() const override { return tab_.interp.empty() && tab_.order > 3; }
  std::vector<double> quadrature_weights() const override { return tab_.b; }
  const Tableau* tableau() const override { return &tab_; }
  // diagonally implicit tableaus keep their Jacobians and factorisations between steps
  std::unique_ptr<StepperMemory> make_memory() const override {
    for (int i = 0; i < tab_.stages(); ++i)
      if (tab_.a[static_cast<std::size_t>(i)][static_cast<std::size_t>(i)] != 0.0) return std::make_unique<ImplicitMemory>();
    return nullptr;
  }

  StepResult step(StepContext& ctx, const Var& y, const Var& k1, const std::vector<double>& t,
                  const std::vector<double>& h) const override;
  RowError error(const Var& y, const StepResult& st, const ErrorScale& scale) const override;
  std::vector<double> dense_weights(double theta, double h, bool* needs_f_new) const override;

private:
  Method method_;
  const Tableau& tab_;
  ImplicitOptions implicit_;
  int newton_max_iterations_;
};

StepResult RungeKutta::step(StepContext& ctx, const Var& y, const Var& k1, const std::vector<double>& t,
                            const std::vector<double>& h) const {
  StepResult out;
  const DType dtype = y.dtype();
  const Device device = y.device();  // every tensor the step makes lives with the state
  out.failed.assign(t.size(), 0);
  out.h = row_vector(h, dtype, device);  // the per-row step sizes, once for every stage
  std::vector<Var>& k = out.k;
  std::optional<ImplicitStages> implicit;  // made at the first implicit stage: explicit tableaus never need it
  for (int i = 0; i < tab_.stages(); ++i) {
    const std::size_t si = static_cast<std::size_t>(i);
    const Var ti = time_column(t, h, tab_.c[si], dtype, device);
    const Var zi = i == 0 ? y : row_combination(y, out.h, tab_.a[si], k);
    out.stage_z.push_back(zi);
    out.stage_t.push_back(ti);
    const double gamma = tab_.a[si][si];
    if (gamma == 0.0) {
      k.push_back(i == 0 && k1.defined() ? k1 : ctx.eval(zi, ti));
      continue;
    }
    if (!implicit) implicit.emplace(y, t, implicit_, newton_max_iterations_, ctx.memory);
    const ImplicitStages::Stage stage = implicit->solve(ctx, zi, ti, h, gamma, k.back().value(), out.failed);
    out.stage_z.back() = stage.z;
    k.push_back(stage.k);
  }
  out.y_new = row_combination(y, out.h, tab_.b, k);
  return out;
}

RowError RungeKutta::error(const Var& y, const StepResult& st, const ErrorScale& scale) const {
  std::vector<Tensor> kv;
  for (const Var& k : st.k) kv.push_back(k.value());
  return row_error(y.value(), st.y_new.value(), kv, tab_.e, tab_.e3, st.h, scale);
}

std::vector<double> RungeKutta::dense_weights(double theta, double h, bool* needs_f_new) const {
  const std::size_t S = static_cast<std::size_t>(tab_.stages());
  std::vector<double> w(S + 3, 0.0);  // y, y_new, k_1..k_S, f_new
  *needs_f_new = false;
  if (theta == 1.0) {
    w[1] = 1.0;
    return w;
  }
  if (!tab_.interp.empty()) {  // the tableau's own interpolant
    w[0] = 1.0;
    for (std::size_t i = 0; i < S; ++i) {
      double bi = 0.0, p = theta;
      for (double coefficient : tab_.interp[i]) bi += coefficient * p, p *= theta;
      w[2 + i] = h * bi;
    }
    return w;
  }
  // cubic Hermite through (y, f(y)) and (y_new, f(y_new))
  const double t2 = theta * theta, t3 = t2 * theta;
  w[0] = 2 * t3 - 3 * t2 + 1;
  w[1] = -2 * t3 + 3 * t2;
  w[2] = h * (t3 - 2 * t2 + theta);
  if (tab_.fsal) w[2 + S - 1] += h * (t3 - t2);
  else w[2 + S] = h * (t3 - t2), *needs_f_new = true;
  return w;
}

}  // namespace

StepperPtr runge_kutta_stepper(Method method, const Tableau& tableau, const SolveOptions& options) {
  return std::make_shared<RungeKutta>(method, tableau, options);
}

}  // namespace tide::detail
