// Solves whose state and parameters live on a non-CPU device. Every tensor a solve makes must go to
// the state's device (mixing devices in an op throws), and the results must equal the CPU's.
//
// Without a GPU the "cuda" device is served by a forwarding backend: it claims Device::cuda(),
// keeps its memory on the host and hands every primitive kernel to the CPU backend. Run once with
// the CPU's fused kernels forwarded too, a device solve does the same arithmetic as a CPU solve and
// must be identical to it; run once with the Backend defaults for the fused kernels (compositions
// of primitives: the generic path a new backend starts from), it must agree to rounding. The same
// cases run on the real CUDA backend when one is available (named "cuda"); otherwise that test
// case reports itself skipped with the reason.
#include "../forwarding_backend.hpp"
#include "tide/core/backend.hpp"
#include "tide/tide.hpp"
#include <doctest/doctest.h>
#include <cmath>
#include <functional>
#include <optional>
#include <string>

namespace tide {
namespace {

using test::ForwardingDevice;

// True when Device::cuda() is served by the real CUDA backend; otherwise `why` says what serves it.
bool real_cuda_available(std::string& why) {
  try {
    const Backend& b = backend_for(Device::cuda());
    if (std::string(b.name()) == "cuda") return true;
    why = fmt::format("Device::cuda() is served by the '{}' backend, not the real CUDA one", b.name());
  } catch (const Error& e) {
    why = e.what();
  }
  return false;
}

Tensor f64on(const std::vector<double>& v, Shape s, Device d) { return Tensor::from_vector(v, s, DType::f64, d); }

std::vector<double> host(const Var& v) {
  REQUIRE(v.defined());
  return v.value().to(Device::cpu()).to_vector();
}

// `got` (from the device) equals `want` (from the CPU) entry by entry, relative to max(1, |want|)
void check_same(const std::vector<double>& got, const std::vector<double>& want, double tol, const std::string& what) {
  REQUIRE(got.size() == want.size());
  double worst = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double err = std::fabs(got[i] - want[i]) / std::max(1.0, std::fabs(want[i]));
    worst = std::isnan(err) ? INFINITY : std::max(worst, err);
  }
  INFO(what << ": largest relative difference " << worst << " over " << got.size() << " entries");
  CHECK(worst <= tol);
}

// One case runs on both devices; an Error (a device-mixing one in particular) fails the check
// with its message instead of ending the test case.
void on_both(const std::string& name, Device device, const std::function<void(Device)>& run_case) {
  INFO("case: " << name << " on " << device.str());
  try {
    run_case(device);
  } catch (const Error& e) {
    FAIL_CHECK("raised: " << std::string(e.what()));
  }
}

// The dynamics of the gradient and method cases: tanh(z W + b) (1 + 0.3 sin t) - 0.1 z, with W and b
// parameters on the device; runs on Vars and Jets.
struct Net {
  Var W, b;
  explicit Net(Device d)
      : W(Var::parameter(f64on({-0.4, 0.9, -0.7, -0.3}, Shape{2, 2}, d))), b(Var::parameter(f64on({0.1, -0.2}, Shape{2}, d))) {}
  auto f() const {
    return [this](const auto& z, const auto& t) { return tanh(matmul(z, W) + b) * (1.0 + 0.3 * sin(t)) - 0.1 * z; };
  }
};

struct Outcome {
  std::vector<double> ys;
  std::vector<std::vector<double>> extra;  // regularisers or gradients, in a fixed order
  std::int64_t steps = 0;
};

void compare(const Outcome& got, const Outcome& want, double tol, const std::string& what) {
  check_same(got.ys, want.ys, tol, what + ": ys");
  REQUIRE(got.extra.size() == want.extra.size());
  for (std::size_t i = 0; i < got.extra.size(); ++i) check_same(got.extra[i], want.extra[i], tol, what + ": result " + std::to_string(i));
  CHECK(got.steps == want.steps);
}

// ---- the cases: each computes one Outcome on a device; the check runs it on the CPU and there ----

Outcome fixed_rk4(Device d) {
  const Net net(d);
  SolveOptions o;
  o.method = Method::rk4;
  o.unfolds = 4;
  NoGrad no_grad;
  const Solution s = solve(net.f(), Var(f64on({0.5, -0.3, 1.1, 0.4}, Shape{2, 2}, d)), Var(f64on({0.0, 0.6, 1.5}, Shape{3}, d)), o);
  CHECK(s.ys.value().device() == d);
  return {host(s.ys), {}, s.stats->total_accepted()};
}

// per-sample grids [B, T] with a mask (the second sample has two valid times), several adaptive
// methods (dop853: the second error estimator), the max norm with a seminorm state; the dynamics
// read per-sample data through the Rows of the samples still running
Outcome adaptive_grids(Device d, Method m, NormKind norm) {
  const Var u = Var(f64on({0.2, -0.1, 0.4, 0.3, -0.5, 0.1}, Shape{3, 2}, d));
  auto f = [u](const auto& z, const auto& t, const Rows& rows) { return sin(z) * t - 0.3 * z + rows.gather(u); };
  const std::vector<double> grids = {0.0, 0.5, 1.0, 3.0, 0.2, 0.3, 0.0, 0.0, 1.0, 1.8, 2.5, 3.2};
  const std::vector<double> mask = {1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1};
  SolveOptions o;
  o.method = m;
  o.rtol = o.atol = tableau(m).order >= 5 ? 1e-9 : 1e-6;  // a few hundred steps per sample
  o.norm = norm;
  if (norm == NormKind::max) o.seminorm = {1};
  o.mask = f64on(mask, Shape{3, 4}, d);
  NoGrad no_grad;
  const Solution s = solve(f, Var(f64on({0.1, 0.2, -1.0, 0.7, 2.0, 0.3}, Shape{3, 2}, d)), Var(f64on(grids, Shape{3, 4}, d)), o);
  CHECK(s.ys.value().device() == d);
  CHECK(s.end_times.device() == Device::cpu());  // host data by design
  return {host(s.ys), {s.end_times.to_vector()}, s.stats->total_accepted() + s.stats->total_rejected()};
}

// the torchdiffeq preset: one shared step for the batch, steps past the end, interpolated outputs
Outcome shared_step(Device d) {
  const Net net(d);
  NoGrad no_grad;
  const Solution s = solve(net.f(), Var(f64on({0.5, -0.3, 1.1, 0.4, -0.8, 0.2}, Shape{3, 2}, d)),
                           Var(f64on({0.0, 0.35, 0.9, 2.0}, Shape{4}, d)), SolveOptions::torchdiffeq());
  return {host(s.ys), {}, s.stats->total_accepted() + s.stats->total_rejected()};
}

// the implicit method on a stiff problem (Newton with per-row Jacobians)
Outcome implicit_stiff(Device d) {
  const double r = 1e3;
  auto f = [r](const auto& y, const auto& t) { return -r * y + 3 * r - 2 * r * exp(-t); };
  SolveOptions o;
  o.method = Method::kvaerno3;
  o.rtol = o.atol = 1e-7;
  NoGrad no_grad;
  const Solution s = solve(f, Var(f64on({0.0, 1.0}, Shape{2, 1}, d)), Var(f64on({0.0, 0.5, 2.0}, Shape{3}, d)), o);
  CHECK(s.stats->newton_iterations > 0);
  return {host(s.ys), {}, s.stats->total_accepted() + s.stats->total_rejected()};
}

// the LTC fused step (dynamics return concat(a, c)); fused_b is given on the host on purpose
Outcome ltc(Device d) {
  const Var Wa = Var::parameter(f64on({0.3, -0.2, 0.5, 0.1}, Shape{2, 2}, d));
  const Var Wc = Var::parameter(f64on({0.7, 0.4, -0.6, 0.2}, Shape{2, 2}, d));
  auto split = [&](const Var& z, const Var& t) { return concat({sigmoid(matmul(z, Wa)), tanh(matmul(z, Wc) + t)}, 1); };
  SolveOptions o;
  o.method = Method::ltc_fused;
  o.unfolds = 5;
  o.fused_b = Tensor::from_vector({0.5, 0.2}, Shape{2}, DType::f64);
  const Var y0 = Var::parameter(f64on({0.5, -0.3, 1.1, 0.4}, Shape{2, 2}, d));
  const Var times = Var(f64on({0.0, 0.5, 1.2}, Shape{3}, d));
  Outcome out;
  {
    NoGrad no_grad;
    const Solution s = solve(split, y0, times, o);
    out.ys = host(s.ys);
    out.steps = s.stats->total_accepted();
  }
  for (GradientKind kind : {GradientKind::discrete, GradientKind::adjoint}) {
    o.gradient = kind;
    const Solution s = solve(split, y0, times, o);
    for (const Var& g : grad({sum(square(s.ys))}, {y0, Wa, Wc})) {
      CHECK(g.value().device() == d);
      out.extra.push_back(host(g));
    }
  }
  return out;
}

// kinetic energy, R_2 (Taylor mode), the Jacobian norm and Hutchinson traces (the noise is drawn
// on the host from the seed and moved to the device), with the gradient of their sum
Outcome regularisers(Device d, GradientKind kind, Regularisers::Trace trace) {
  const Net net(d);
  SolveOptions o;
  o.rtol = o.atol = 1e-9;
  o.gradient = kind;
  o.seed = 7;
  o.regularisers.kinetic = true;
  if (trace == Regularisers::Trace::hutchinson_jvp) o.regularisers.taylor_order = 2, o.regularisers.jacobian = true;
  o.regularisers.trace = trace;
  const Var y0 = Var::parameter(f64on({0.5, -0.3, 1.1, 0.4}, Shape{2, 2}, d));
  const Solution s = solve(net.f(), y0, Var(f64on({0.0, 0.7, 1.3}, Shape{3}, d)), o);
  Outcome out{host(s.ys), {}, s.stats->total_accepted()};
  Var loss = sum(s.kinetic) + sum(s.logp_change);
  for (const Var& v : {s.kinetic, s.logp_change}) {
    CHECK(v.value().device() == d);
    out.extra.push_back(host(v));
  }
  if (trace == Regularisers::Trace::hutchinson_jvp) {
    out.extra.push_back(host(s.taylor));
    out.extra.push_back(host(s.jacobian));
    loss = loss + sum(s.taylor) + sum(s.jacobian);
  }
  for (const Var& g : grad({loss}, {y0, net.W, net.b})) out.extra.push_back(host(g));
  return out;
}

// gradients w.r.t. y0, the dynamics' parameters and (discrete) the times, by every gradient kind
Outcome gradients(Device d, GradientKind kind, Method m, std::int64_t budget) {
  const Net net(d);
  SolveOptions o;
  o.method = m;
  o.rtol = o.atol = 1e-9;
  if (m == Method::rk4) o.unfolds = 5;
  o.gradient = kind;
  o.checkpoint_budget = budget;
  const Var y0 = Var::parameter(f64on({0.5, -0.3, 1.1, 0.4}, Shape{2, 2}, d));
  const bool with_times = kind == GradientKind::discrete;
  const Var times = with_times ? Var::parameter(f64on({0.0, 0.6, 1.5}, Shape{3}, d)) : Var(f64on({0.0, 0.6, 1.5}, Shape{3}, d));
  const Solution s = solve(net.f(), y0, times, o);
  const Var w = Var(f64on({1.0, -2.0, 0.5, 1.5}, Shape{1, 2, 2}, d));
  std::vector<Var> wrt{y0, net.W, net.b};
  if (with_times) wrt.push_back(times);
  Outcome out{host(s.ys), {}, s.stats->total_accepted()};
  for (const Var& g : grad({sum(square(s.ys) * w) + sum(s.ys)}, wrt)) {
    CHECK(g.value().device() == d);
    out.extra.push_back(host(g));
  }
  return out;
}

// per-sample grids with a mask through the checkpointed and adjoint kinds (padding's cotangents,
// the adjoint's stops at every sample's own times)
Outcome masked_gradients(Device d, GradientKind kind) {
  const Net net(d);
  const Var u = Var(f64on({0.2, -0.1, 0.4, 0.3}, Shape{2, 2}, d));
  auto f = [&](const Var& z, const Var& t, const Rows& rows) { return net.f()(z, t) * rows.gather(u); };
  SolveOptions o;
  o.rtol = o.atol = 1e-9;
  o.gradient = kind;
  o.mask = f64on({1, 1, 1, 1, 1, 0}, Shape{2, 3}, d);
  const Var y0 = Var::parameter(f64on({0.5, -0.3, 1.1, 0.4}, Shape{2, 2}, d));
  const Solution s = solve(f, y0, Var(f64on({0.0, 0.4, 1.0, 0.2, -0.5, -0.5}, Shape{2, 3}, d)), o);
  Outcome out{host(s.ys), {}, s.stats->total_accepted()};
  for (const Var& g : grad({sum(square(s.ys))}, {y0, net.W, net.b})) out.extra.push_back(host(g));
  return out;
}

// Runs every case on `device` and on the CPU and compares them.
void check_solves_on(Device device, double tol) {
  auto both = [&](const std::string& name, const std::function<Outcome(Device)>& make) {
    on_both(name, device, [&](Device d) {
      const Outcome want = make(Device::cpu());
      const Outcome got = make(d);
      compare(got, want, tol, name);
    });
  };
  both("fixed-step rk4", fixed_rk4);
  for (Method m : {Method::dopri5, Method::tsit5, Method::dop853, Method::bosh3})
    for (NormKind norm : {NormKind::rms, NormKind::max})
      both(fmt::format("adaptive {} per-sample grids with a mask, {} norm", method_name(m), norm == NormKind::rms ? "rms" : "max"),
           [&](Device d) { return adaptive_grids(d, m, norm); });
  both("torchdiffeq preset (one shared step)", shared_step);
  both("kvaerno3 on a stiff problem", implicit_stiff);
  both("ltc_fused with discrete and adjoint gradients", ltc);
  for (GradientKind kind : {GradientKind::discrete, GradientKind::checkpointed, GradientKind::adjoint}) {
    both(fmt::format("regularisers: kinetic, R_2, jacobian, hutchinson_jvp trace ({})", gradient_kind_name(kind)),
         [&](Device d) { return regularisers(d, kind, Regularisers::Trace::hutchinson_jvp); });
    both(fmt::format("regularisers: kinetic, hutchinson_vjp trace ({})", gradient_kind_name(kind)),
         [&](Device d) { return regularisers(d, kind, Regularisers::Trace::hutchinson_vjp); });
  }
  both("gradients: discrete rk4 (with times)", [](Device d) { return gradients(d, GradientKind::discrete, Method::rk4, 0); });
  both("gradients: discrete dopri5 (with times)", [](Device d) { return gradients(d, GradientKind::discrete, Method::dopri5, 0); });
  both("gradients: discrete kvaerno3 (with times)", [](Device d) { return gradients(d, GradientKind::discrete, Method::kvaerno3, 0); });
  both("gradients: checkpointed dopri5", [](Device d) { return gradients(d, GradientKind::checkpointed, Method::dopri5, 0); });
  both("gradients: checkpointed dopri5, budget 3", [](Device d) { return gradients(d, GradientKind::checkpointed, Method::dopri5, 3); });
  both("gradients: adjoint dopri5", [](Device d) { return gradients(d, GradientKind::adjoint, Method::dopri5, 0); });
  both("gradients: adjoint kvaerno3", [](Device d) { return gradients(d, GradientKind::adjoint, Method::kvaerno3, 0); });
  both("gradients: checkpointed, per-sample grids with a mask", [](Device d) { return masked_gradients(d, GradientKind::checkpointed); });
  both("gradients: adjoint, per-sample grids with a mask", [](Device d) { return masked_gradients(d, GradientKind::adjoint); });
}

}  // namespace

TEST_CASE("solves on a forwarding 'cuda' device running the CPU's kernels are identical to the CPU's") {
  // the same arithmetic on both devices: any difference would be the solver's doing
  ForwardingDevice dev(true);
  CHECK(std::string(backend_for(Device::cuda()).name()) == "forwarding");
  check_solves_on(Device::cuda(), 0.0);
  CHECK(dev.backend.kernel_calls > 0);  // the device runs went through its backend
}

TEST_CASE("solves on a forwarding 'cuda' device with the default fused kernels equal the CPU's and never mix devices") {
  ForwardingDevice dev(false);
  check_solves_on(Device::cuda(), 1e-12);
  CHECK(dev.backend.kernel_calls > 0);
  // a state on the device with host data in the dynamics is refused by the op, with both devices
  const Var host_w = Var(Tensor::from_vector({1.0}, Shape{1, 1}, DType::f64));
  CHECK_THROWS_WITH_AS(solve([&](const Var& z, const Var&) { return matmul(z, host_w); }, Var(f64on({1.0}, Shape{1, 1}, Device::cuda())),
                             Var(f64on({0.0, 1.0}, Shape{2}, Device::cuda()))),
                       doctest::Contains("cuda:0"), Error);
}

TEST_CASE("solves on the real CUDA device equal the CPU's") {
  std::string why;
  if (!real_cuda_available(why)) {
    MESSAGE("skipped: no real CUDA device (" << why << ")");
    return;
  }
  // the GPU sums in its own order and contracts to FMA: a few ulps per step (3.5e-14 at worst on
  // an H100, the same step counts), well inside the tolerance of the defaults' run
  check_solves_on(Device::cuda(), 1e-12);
}

}  // namespace tide
