// The Runge-Kutta stepper: one stepping routine for every explicit and diagonally implicit
// tableau (ENGINE.md rule 3). The tableaus themselves are data (tableaus.cpp); this file is how a
// tableau steps, estimates its error and interpolates.
#include "../integrate.hpp"
#include "../stepper.hpp"
#include "implicit_stages.hpp"
#include <fmt/format.h>
#include <optional>

namespace tide::detail {

namespace {

// Every stage's times t + c_i h, made on the host in double: one [S, n] tensor whose row i, viewed as
// [n, 1], is stage i's time column (one allocation and copy per step instead of one per stage).
Tensor stage_times(const std::vector<double>& t, const std::vector<double>& h, const std::vector<double>& c, DType dtype,
                   Device device) {
  const std::size_t n = t.size();
  std::vector<double> v(c.size() * n);
  for (std::size_t i = 0; i < c.size(); ++i)
    for (std::size_t r = 0; r < n; ++r) v[i * n + r] = t[r] + c[i] * h[r];
  return Tensor::from_vector(v, Shape{static_cast<std::int64_t>(c.size()), static_cast<std::int64_t>(n)}, dtype, device);
}

bool all_explicit(const Tableau& tab) {
  for (int i = 0; i < tab.stages(); ++i)
    if (tab.a[static_cast<std::size_t>(i)][static_cast<std::size_t>(i)] != 0.0) return false;
  return true;
}

// An explicit step as one function of packed inputs, for compiled dynamics (System::compiled_step):
// z = [y | k1] ([n, 2D]) and t = the stages' times and the step sizes ([n, S + 1], each stage's
// t + c_i h made on the host in double, as the stage-by-stage step makes them), returning
// [k_2 | .. | k_{S-1} | y_new | k_S] ([n, S D]): y_new and the last stage side by side, the next
// step's z when the tableau's next step starts from them (PackedInputs). Without `given_k1`, z is
// y alone ([n, D]) and the function evaluates k1 = f(y, t) itself, returning [k1 | k_2 | ..]
// ([n, (S + 1) D]): a step that carries no first stage (a tableau without FSAL) is then one plan,
// not an evaluation of f, a concatenation and the step. Traced once per signature, the stages,
// their combinations and their backward replay as one plan (one tape node per step instead of 2S).
Dynamics packed_step(const Dynamics& f, const Tableau& tab, bool given_k1) {
  const std::vector<std::vector<double>> a = tab.a;
  const std::vector<double> b = tab.b;
  const auto S = static_cast<std::int64_t>(tab.stages());
  Dynamics g;
  g.var = [f, a, b, S, given_k1](const Var& z, const Var& t, const Rows& rows) {
    const std::int64_t D = given_k1 ? z.size(1) / 2 : z.size(1), n = z.size(0);
    const Var y = given_k1 ? contiguous(slice(z, 1, 0, D)) : z;
    const Tensor h = t.value().slice(1, S, S + 1).contiguous().reshape(Shape{n});
    const auto stage = [&](const Var& zi, std::int64_t i) {
      const Var ki = f(zi, Var(t.value().slice(1, i, i + 1).contiguous()), rows);
      check_dynamics_output(ki, y, 1);
      return ki;
    };
    std::vector<Var> k{given_k1 ? contiguous(slice(z, 1, D, 2 * D)) : stage(y, 0)}, out;
    if (!given_k1) out.push_back(k[0]);
    for (std::int64_t i = 1; i < S; ++i) {
      k.push_back(stage(row_combination(y, h, a[static_cast<std::size_t>(i)], k), i));
      out.push_back(k.back());
    }
    out.insert(out.end() - 1, row_combination(y, h, b, k));
    return concat(out, 1);
  };
  return g;
}

// What the packed step keeps between the steps of one integration: the input z = [y | k1] it was
// last given, for a retry of a rejected step (the same y and k1), and, for a tableau whose next step
// starts from y_new and the last stage (FSAL: dopri5, bosh3, tsit5; torchdiffeq's adaptive_heun and
// fehlberg2 reuse theirs), the view [y_new | k_S] of its result: that z is then taken as it is or as
// one view instead of being concatenated again (a tape node and its backward less per step). A pair
// is recognised by identity (the same node, memory, layout and version), which the kept Vars hold
// alive.
class PackedInputs final : public StepperMemory {
public:
  const Var* find(const Var& y, const Var& k1) const {
    for (const Kept* c : {&same_, &next_})
      if (identical(c->y, y) && identical(c->k1, k1)) return &c->z;
    return nullptr;
  }
  void keep(const Var& y, const Var& k1, const Var& z) { same_ = {y, k1, z}, next_ = {}; }
  void keep_next(const Var& y_new, const Var& k_last, const Var& z_next) { next_ = {y_new, k_last, z_next}; }

private:
  struct Kept {
    Var y, k1, z;
  };
  static bool identical(const Var& a, const Var& b) {
    return a.defined() && b.defined() && a.node() == b.node() && a.value().raw_data() == b.value().raw_data() &&
           a.shape() == b.shape() && a.value().strides() == b.value().strides() && a.value().version() == b.value().version();
  }
  Kept same_, next_;
};

// Above this many rows, or this many state elements, a step goes stage by stage even on compiled
// dynamics: its ops are large enough that their overhead is small, and the packed step's inputs
// (the stage times, made on the host) and its packed result (the stages copied side by side) cost
// more than it saves (the tiny MLP at B = 65,536: 7% slower packed; the MLP 64-64-64 at B = 256,
// 16,384 elements: 3% slower forward and 7% slower with the gradient; at B = 128, 8,192 elements,
// within 4%; at B = 32 the packed step is 7% faster with the gradient).
constexpr std::int64_t kCompiledStepMaxRows = 2048;
constexpr std::int64_t kCompiledStepMaxElements = 8192;

class RungeKutta final : public Stepper {
public:
  RungeKutta(Method method, const Tableau& tableau, const SolveOptions& options)
      : method_(method), tab_(tableau), implicit_(options.implicit), newton_max_iterations_(options.newton_max_iterations),
        fixed_steps_(!tableau.adaptive() || options.step_size > 0 || options.unfolds > 0),
        explicit_(all_explicit(tableau)), torchdiffeq_(options.torchdiffeq_variant),
        step_key_(fmt::format("step {}{}", method_name(method), options.torchdiffeq_variant ? " (torchdiffeq)" : "")),
        step_from_y_key_(step_key_ + " from y") {}
  Method method() const override { return method_; }
  int order() const override { return tab_.order; }
  int error_order() const override { return tab_.error_order; }
  bool first_stage_is_f() const override { return tab_.a[0][0] == 0.0; }
  bool fsal() const override { return tab_.fsal || tab_.reuse_last_stage; }
  // Methods whose dense output is less accurate than their error control land on every output
  // time instead: those of order 4 and above without their own interpolant (fehlberg45, dop853:
  // cubic Hermite only), and dopri8 (a 4th-order quartic inside 8th-order steps: 1,600x the
  // tolerance between steps at 1e-8). torchdiffeq's forms interpolate, as torchdiffeq does.
  bool lands_on_outputs() const override {
    if (tab_.interp.empty()) return tab_.order > 3;
    return !torchdiffeq_ && tab_.interp_order < tab_.error_order;
  }
  std::vector<double> quadrature_weights() const override { return tab_.b; }
  const Tableau* tableau() const override { return &tab_; }
  // diagonally implicit tableaus keep their Jacobians and factorisations between steps, explicit
  // ones the packed step's inputs
  std::unique_ptr<StepperMemory> make_memory() const override {
    if (explicit_) return std::make_unique<PackedInputs>();
    return std::make_unique<ImplicitMemory>();
  }

  StepResult step(StepContext& ctx, const Var& y, const Var& k1, const std::vector<double>& t,
                  const std::vector<double>& h) const override;
  RowError error(const Var& y, const StepResult& st, const ErrorScale& scale) const override;
  std::vector<double> dense_weights(double theta, double h, bool* needs_f_new) const override;

private:
  Dynamics compiled_step_for(StepContext& ctx, const Var& y, const Var& k1) const;
  bool makes_first_stage(StepContext& ctx, const Var& y) const override;
  StepResult compiled_step(StepContext& ctx, const Dynamics& g, const Var& y, const Var& k1, const std::vector<double>& t,
                           const std::vector<double>& h) const;

  Method method_;
  const Tableau& tab_;
  ImplicitOptions implicit_;
  int newton_max_iterations_;
  bool fixed_steps_;  // as Plan::adaptive() decides: an implicit stage that did not converge cannot be rejected
  bool explicit_;
  bool torchdiffeq_;  // SolveOptions::torchdiffeq_variant
  std::string step_key_;  // the compiled step's key: one tableau per method and form (torchdiffeq's differ)
  std::string step_from_y_key_;  // the same step making its first stage
};

// The packed step (packed_step) compiled with the system's dynamics, where it applies: an explicit
// tableau, on compiled dynamics alone, at most kCompiledStepMaxRows rows and
// kCompiledStepMaxElements elements; its form given k1 or making it.
Dynamics RungeKutta::compiled_step_for(StepContext& ctx, const Var& y, const Var& k1) const {
  if (!explicit_ || y.rank() != 2 || tab_.stages() < 2 || y.size(0) > kCompiledStepMaxRows ||
      y.numel() > kCompiledStepMaxElements)
    return {};
  const bool given = k1.defined();
  return ctx.system.compiled_step(given ? step_key_ : step_from_y_key_,
                                  [this, given](const Dynamics& f) { return packed_step(f, tab_, given); });
}

// Not for an adaptive tableau recording a gradient: a rejected row that went non-finite is stepped
// again without its stages (Integrator::restep_accepted) but keeps stage 1, which must then be an
// evaluation of its own, not a view of the packed plan whose backward reaches those rows.
bool RungeKutta::makes_first_stage(StepContext& ctx, const Var& y) const {
  if (tab_.adaptive() && grad_enabled()) return false;
  return compiled_step_for(ctx, y, Var()).var != nullptr;
}

// The step through the packed function `g` (packed_step): stages and y_new sliced out of its
// result, the evaluations counted as the stage-by-stage step counts them.
StepResult RungeKutta::compiled_step(StepContext& ctx, const Dynamics& g, const Var& y, const Var& k1,
                                     const std::vector<double>& t, const std::vector<double>& h) const {
  const auto S = static_cast<std::int64_t>(tab_.stages());
  const std::int64_t n = y.size(0), D = y.size(1);
  std::vector<double> times(static_cast<std::size_t>(n * (S + 1)));
  for (std::int64_t r = 0; r < n; ++r) {
    const auto ru = static_cast<std::size_t>(r);
    for (std::int64_t i = 0; i < S; ++i) times[static_cast<std::size_t>(r * (S + 1) + i)] = t[ru] + tab_.c[static_cast<std::size_t>(i)] * h[ru];
    times[static_cast<std::size_t>(r * (S + 1) + S)] = h[ru];
  }
  const bool given = k1.defined();
  auto* inputs = dynamic_cast<PackedInputs*>(ctx.memory);
  const Var* kept = inputs && given ? inputs->find(y, k1) : nullptr;
  const Var z = kept ? *kept : given ? concat({y, k1}, 1) : y;
  const Var packed = g(z, Var(Tensor::from_vector(times, Shape{n, S + 1}, y.dtype(), y.device())), ctx.rows);
  for (std::int64_t i = given ? 1 : 0; i < S; ++i) ctx.count();
  const std::int64_t o = given ? -D : 0;  // where k_i starts: o + i D (k1 too, when the step made it)
  StepResult out;
  out.failed.assign(t.size(), 0);
  out.h = row_vector(h, y.dtype(), y.device());
  out.k.push_back(given ? k1 : slice(packed, 1, 0, D));
  for (std::int64_t i = 1; i < S - 1; ++i) out.k.push_back(slice(packed, 1, o + i * D, o + (i + 1) * D));
  out.y_new = slice(packed, 1, o + (S - 1) * D, o + S * D);
  out.k.push_back(slice(packed, 1, o + S * D, o + (S + 1) * D));
  if (inputs) {
    if (given) inputs->keep(y, k1, z);
    if (fsal()) inputs->keep_next(out.y_new, out.k.back(), slice(packed, 1, o + (S - 1) * D, o + (S + 1) * D));
  }
  return out;
}

StepResult RungeKutta::step(StepContext& ctx, const Var& y, const Var& k1, const std::vector<double>& t,
                            const std::vector<double>& h) const {
  if (const Dynamics g = compiled_step_for(ctx, y, k1); g.var) return compiled_step(ctx, g, y, k1, t, h);
  StepResult out;
  const DType dtype = y.dtype();
  const Device device = y.device();  // every tensor the step makes lives with the state
  out.failed.assign(t.size(), 0);
  out.h = row_vector(h, dtype, device);  // the per-row step sizes, once for every stage
  std::vector<Var>& k = out.k;
  const std::size_t stages = static_cast<std::size_t>(tab_.stages());
  k.reserve(stages), out.stage_z.reserve(stages), out.stage_t.reserve(stages);
  std::optional<ImplicitStages> implicit;  // made at the first implicit stage: explicit tableaus never need it
  const Tensor times = stage_times(t, h, tab_.c, dtype, device);
  const Shape column_shape{static_cast<std::int64_t>(t.size()), 1};
  for (int i = 0; i < tab_.stages(); ++i) {
    const std::size_t si = static_cast<std::size_t>(i);
    const Var ti(times.slice(0, i, i + 1).reshape(column_shape));
    const Var zi = i == 0 ? y : row_combination(y, out.h, tab_.a[si], k);
    out.stage_z.push_back(zi);
    out.stage_t.push_back(ti);
    const double gamma = tab_.a[si][si];
    if (gamma == 0.0) {
      k.push_back(i == 0 && k1.defined() ? k1 : ctx.eval(zi, ti));
      continue;
    }
    if (!implicit) implicit.emplace(y, t, implicit_, newton_max_iterations_, fixed_steps_, ctx.memory);
    const ImplicitStages::Stage stage = implicit->solve(ctx, zi, ti, h, gamma, k.back().value(), out.failed);
    out.stage_z.back() = stage.z;
    k.push_back(stage.k);
  }
  out.y_new = row_combination(y, out.h, tab_.b, k);
  return out;
}

RowError RungeKutta::error(const Var& y, const StepResult& st, const ErrorScale& scale) const {
  std::vector<Tensor> kv;
  kv.reserve(st.k.size());
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
