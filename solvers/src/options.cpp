// Named controllers, the torchdiffeq preset, statistics and the error type.
#include "tide/solvers/solve.hpp"
#include "tide/core/named.hpp"
#include <numeric>

namespace tide {

StepController StepController::i() { return {}; }
StepController StepController::pi(double b1, double b2, const std::string& name) {
  StepController c;
  c.b1 = b1, c.b2 = b2, c.name = name;
  return c;
}
StepController StepController::pi34() { return pi(0.7, -0.4, "PI34"); }
StepController StepController::pi42() { return pi(0.6, -0.2, "PI42"); }
StepController StepController::h211pi() { return pi(1.0 / 6, 1.0 / 6, "H211PI"); }
StepController StepController::pid(double b1, double b2, double b3, const std::string& name) {
  StepController c = pi(b1, b2, name);
  c.b3 = b3;
  return c;
}
StepController StepController::h312pid() { return pid(1.0 / 18, 1.0 / 9, 1.0 / 18, "H312PID"); }

namespace {
constexpr Named<GradientKind> kGradientKinds[] = {
    {"discrete", GradientKind::discrete}, {"checkpointed", GradientKind::checkpointed}, {"adjoint", GradientKind::adjoint}};
}  // namespace

const char* gradient_kind_name(GradientKind kind) {
  for (const auto& [name, k] : kGradientKinds)
    if (k == kind) return name.data();
  return "?";
}
std::vector<std::string> gradient_kind_names() { return names_of(kGradientKinds); }
GradientKind gradient_kind_from_name(const std::string& name) { return lookup(kGradientKinds, name, "gradient kind"); }

namespace {
constexpr Named<Method> kTorchdiffeqMethods[] = {
    {"dopri5", Method::dopri5},     {"bosh3", Method::bosh3},     {"adaptive_heun", Method::adaptive_heun},
    {"fehlberg2", Method::fehlberg2}, {"dopri8", Method::dopri8},   {"euler", Method::euler},
    {"midpoint", Method::midpoint}, {"heun2", Method::heun},      {"heun3", Method::heun3},
    {"rk4", Method::rk4_38}};
constexpr Named<ImplicitOptions::Jacobian> kJacobians[] = {{"automatic", ImplicitOptions::Jacobian::automatic},
                                                           {"dense", ImplicitOptions::Jacobian::dense},
                                                           {"krylov", ImplicitOptions::Jacobian::krylov}};
}  // namespace

const char* implicit_jacobian_name(ImplicitOptions::Jacobian jacobian) {
  for (const auto& [name, j] : kJacobians)
    if (j == jacobian) return name.data();
  return "?";
}
std::vector<std::string> implicit_jacobian_names() { return names_of(kJacobians); }
ImplicitOptions::Jacobian implicit_jacobian_from_name(const std::string& name) { return lookup(kJacobians, name, "implicit Jacobian"); }

SolveOptions SolveOptions::torchdiffeq(const std::string& method) {
  for (const char* multistep : {"explicit_adams", "implicit_adams", "fixed_adams", "scipy_solver"})
    if (method == multistep)
      fail("SolveOptions::torchdiffeq: torchdiffeq's {} has no tide counterpart (tide has Runge-Kutta methods only; "
           "reproduced: {})", method, fmt::join(names_of(kTorchdiffeqMethods), ", "));
  SolveOptions o;
  o.method = lookup(kTorchdiffeqMethods, method, "torchdiffeq method");
  o.torchdiffeq_variant = true;
  o.rtol = 1e-7, o.atol = 1e-9;
  o.norm = NormKind::rms;
  o.per_sample = false;
  o.clip_to_end = false;
  o.max_steps = std::numeric_limits<std::int32_t>::max();
  o.controller = StepController::i();
  o.controller.never_shrink_accepted = true;
  o.controller.hold_after_reject = false;
  o.controller.name = "torchdiffeq";
  return o;
}

std::int64_t SolveStats::max_nfe() const { return nfe.empty() ? 0 : *std::max_element(nfe.begin(), nfe.end()); }
std::int64_t SolveStats::total_accepted() const { return std::accumulate(accepted.begin(), accepted.end(), std::int64_t{0}); }
std::int64_t SolveStats::total_rejected() const { return std::accumulate(rejected.begin(), rejected.end(), std::int64_t{0}); }
std::string SolveStats::summary() const {
  std::string out = fmt::format("{} calls, max nfe per sample {}, {} accepted and {} rejected steps over {} samples, {} backward calls",
                                calls, max_nfe(), total_accepted(), total_rejected(), nfe.size(), backward_calls);
  if (newton_iterations > 0)
    out += fmt::format("; {} Newton iterations, {} Jacobians, {} factorisations, {} GMRES iterations", newton_iterations,
                       jacobian_evaluations, factorisations, linear_iterations);
  if (preconditioner_setups > 0) out += fmt::format(", {} banded preconditioner factorisations", preconditioner_setups);
  return out;
}

SolverError::SolverError(const std::string& message, double t, double h, double norm, double stiffness, SolveStats s)
    : Error(message), time(t), step(h), state_norm(norm), stiffness_estimate(stiffness), stats(std::move(s)) {}

Rows::Rows(Tensor index) : index_(std::move(index)) {
  if (index_.dtype() != DType::i64 || index_.rank() != 1) fail("Rows: the index must be i64 [n], got {}", index_.str());
}

Dynamics fused_rhs(const Dynamics& split, const Tensor& b) {
  Dynamics out;
  out.var = [split, b](const Var& z, const Var& t, const Rows& rows) {
    const Var ac = split.var(z, t, rows);
    const std::int64_t d = z.size(1);
    if (ac.rank() != 2 || ac.size(1) != 2 * d)
      fail("fused_rhs: the dynamics must return concat(a, c) of shape [{}, {}], got {}", z.size(0), 2 * d, ac.shape().str());
    const Var bb = Var(b.defined() ? b.to(z.dtype()).to(z.device()) : Tensor::zeros(Shape{1}, z.dtype(), z.device()));
    return slice(ac, 1, d, 2 * d) - (slice(ac, 1, 0, d) + bb) * z;
  };
  if (split.jet)
    out.jet = [split, b](const Jet& z, const Jet& t, const Rows& rows) {
      const Jet ac = split.jet(z, t, rows);
      const std::int64_t d = z.shape()[1];
      const Jet bb = Jet(b.defined() ? b.to(z.dtype()).to(z.device()) : Tensor::zeros(Shape{1}, z.dtype(), z.device()));
      return slice(ac, 1, d, 2 * d) - (slice(ac, 1, 0, d) + bb) * z;
    };
  return out;
}

}  // namespace tide
