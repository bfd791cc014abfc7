// The solver settings, seeds and regulariser metrics shared by the CNF and the ODE classifier.
#include "flow_solve.hpp"
#include <algorithm>
#include <fmt/format.h>

namespace tide::models::detail {

namespace {

Regularisers::Trace solver_trace(CnfTrace t) {
  switch (t) {
    case CnfTrace::exact: return Regularisers::Trace::exact;
    case CnfTrace::hutchinson_jvp: return Regularisers::Trace::hutchinson_jvp;
    case CnfTrace::hutchinson_vjp: return Regularisers::Trace::hutchinson_vjp;
  }
  return Regularisers::Trace::exact;
}

}  // namespace

SolveOptions solve_options(const CnfSolve& how, Regularisers reg, bool trace, std::uint64_t seed) {
  SolveOptions o;
  o.method = how.ode.method;
  o.rtol = how.ode.rtol;
  o.atol = how.ode.atol;
  o.gradient = how.ode.gradient;
  const bool adaptive = tableau(how.ode.method).adaptive();
  o.unfolds = how.steps > 0 ? static_cast<int>(how.steps) : adaptive ? 0 : how.ode.unfolds;
  o.per_sample = how.per_sample;
  reg.trace = trace ? solver_trace(how.trace) : Regularisers::Trace::none;
  reg.noise = how.noise;
  reg.error_control = how.regulariser_error_control;
  reg.trace_error_control = how.trace_error_control;
  o.regularisers = reg;
  o.seed = seed;
  return o;
}

std::uint64_t next_seed(Generator* gen) {
  if (!gen) return 0x434e46ULL;
  const std::uint64_t s = gen->seed() * 0x9E3779B97F4A7C15ULL + gen->stream() * 0xBF58476D1CE4E5B9ULL + 1;
  gen->set_stream(gen->stream() + 1);
  return s;
}

Regularisers regularisers_for(bool train, bool report, const Training& t) {
  Regularisers reg;
  if (train) {
    reg.taylor_order = t.taylor > 0 ? t.taylor_order : 0;
    reg.kinetic = t.kinetic > 0;
    reg.jacobian = t.jacobian > 0;
  } else if (report) {
    reg.taylor_order = 2, reg.kinetic = true, reg.jacobian = true;
  }
  return reg;
}

void add_regularisers(BatchLoss& out, const FlowPass& p, const Regularisers& reg, const Training* weights, double n) {
  const std::pair<const Var*, double> terms[] = {{reg.kinetic ? &p.kinetic : nullptr, weights ? weights->kinetic : 0},
                                                 {reg.jacobian ? &p.jacobian : nullptr, weights ? weights->jacobian : 0},
                                                 {reg.taylor_order > 0 ? &p.taylor : nullptr, weights ? weights->taylor : 0}};
  const std::string names[] = {"K", "B", fmt::format("R_{}", reg.taylor_order)};
  for (std::size_t i = 0; i < 3; ++i) {
    const Var* v = terms[i].first;
    if (!v) continue;
    if (weights) out.loss = out.loss + mean(*v) * terms[i].second;
    out.metrics.emplace_back(names[i], MetricSums{mean_of(*v) * n, n});
  }
}

double mean_of(const Var& per_sample) { return per_sample.defined() ? mean(per_sample.detach()).item() : 0.0; }

Var steered_end_time(const Var& T, double steer, Generator* gen) {
  if (!(steer > 0)) return T;
  if (!gen) fail("STEER needs a generator for its draws");
  const Var r(gen->uniform(Shape{1}, -1.0, 1.0, T.dtype()));
  // The half-width is b, capped at 0.99 T so the end time stays > 0. Capped, it moves with T, so the
  // offset is taped through T (dT'/dT = 1 + 0.99 r, not 1); below the cap it is a constant.
  if (steer < 0.99 * T.value().item()) return T + r * steer;
  return T + T * r * 0.99;
}

}  // namespace tide::models::detail
