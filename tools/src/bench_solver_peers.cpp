// `tide bench solvers --peers`: the solver workloads of issue 14 on tide and on PyTorch +
// torchdiffeq and JAX + diffrax (bench/peers/solver_peers.py), same weights and inputs (written to
// safetensors files the peers read), sampled round-robin in one run. f32 on both sides.
#include "bench_solvers.hpp"
#include "peer_table.hpp"
#include "tide/tide.hpp"
#include <fmt/format.h>
#include <cmath>
#include <memory>

namespace tide::cli {
namespace {

Var f32_times(const std::vector<double>& t) {
  return Var(Tensor::from_vector(t, Shape{static_cast<std::int64_t>(t.size())}, DType::f32));
}
Var last_state(const Solution& s) { return select(s.ys, 0, s.ys.size(0) - 1); }
double total(const Var& v) { return sum(v).value().item(); }

// The two peer processes and the directory of workload files.
struct Peers {
  PeerFiles files;
  std::unique_ptr<Peer> torch, jax;
  explicit Peers(const PeerOptions& o) {
    torch = std::make_unique<Peer>(o, "solver_peers.py", std::vector<std::string>{"--framework", "torch"});
    jax = std::make_unique<Peer>(o, "solver_peers.py", std::vector<std::string>{"--framework", "jax"});
  }
  // Adds the peers' variants of `request` (torch's first, then JAX's) to `run`.
  void add(ComparisonRun& run, const nlohmann::json& request, const std::vector<std::string>& torch_variants,
           const std::vector<std::string>& jax_variants) {
    for (const std::string& v : torch_variants) {
      nlohmann::json r = request;
      r["variant"] = v;
      run.add(*torch, v, r);
    }
    for (const std::string& v : jax_variants) {
      nlohmann::json r = request;
      r["variant"] = v;
      run.add(*jax, v == "diffrax_vmap" ? "diffrax vmap" : v, r);
    }
  }
};

void add_mlp(Archive& a, const MLP& mlp) {
  for (std::size_t i = 0; i < mlp.layers().size(); ++i) {
    a.add(fmt::format("w{}", i), mlp.layers()[i].weight().value());
    a.add(fmt::format("b{}", i), mlp.layers()[i].bias().value());
  }
}

double gradient_sum(const MLP& mlp) {
  double s = 0;
  for (const Var& p : mlp.parameters()) s += p.grad().defined() ? sum(Var(p.grad())).value().item() : 0.0;
  return s;
}

// The tiny workloads: the solve alone (NoGrad), its discrete gradient, or the gradient with
// TayNODE's R_2 integrand appended (the Taylor recurrences at every evaluation).
enum class TinyCase { solve, grad, r2_grad };

const char* tiny_case_name(TinyCase c) {
  return c == TinyCase::solve ? "tiny_solve" : c == TinyCase::grad ? "tiny_solve_grad" : "tiny_r2_grad";
}

// MLP 4-32(softplus)-4(tanh), dopri5 rtol = atol = 1e-6 on [0, 1], batch B; NoGrad, or the
// discrete gradient of sum(y(1)^2) (+ sum(R_2) for r2_grad) with respect to the weights.
// `shared_step` adds tide's one-shared-step solve (per_sample = false) as a row of its own, after the
// per-sample rows the targets read: tiny_scaling asks for both forms (the peers' rows cover both).
Comparison tiny(Peers& peers, std::int64_t B, TinyCase which, const TimingPlan& plan, bool shared_step = false) {
  const bool gradient = which != TinyCase::solve;
  Generator gen(1);
  auto mlp = std::make_shared<MLP>(std::vector<std::int64_t>{4, 32, 4}, Activation::softplus, gen, LinearOptions{}, Activation::tanh);
  const Var y0(gen.uniform(Shape{B, 4}, -1.0, 1.0));
  Archive a;
  add_mlp(a, *mlp);
  a.add("y0", y0.value());
  const std::string file = peers.files.write(fmt::format("tiny_B{}", B), a);
  const Dynamics dynamics = [mlp](const auto& z, const auto&) { return apply(*mlp, z); };
  const auto side = [=](const std::string& label, const Dynamics& f, bool per_sample = true) {
    auto nfe = std::make_shared<double>(NAN);
    const auto call = [=] {
      SolveOptions o;
      o.method = Method::dopri5;
      o.rtol = o.atol = 1e-6;
      o.per_sample = per_sample;
      if (!gradient) {
        NoGrad no_grad;
        const Solution s = solve(f, y0, f32_times({0.0, 1.0}), o);
        *nfe = static_cast<double>(s.stats->calls);
        return total(last_state(s));
      }
      if (which == TinyCase::r2_grad) o.regularisers.taylor_order = 2;
      mlp->zero_grad();
      const Solution s = solve(f, y0, f32_times({0.0, 1.0}), o);
      const Var loss = sum(square(last_state(s)));
      backward(which == TinyCase::r2_grad ? loss + sum(s.taylor) : loss);
      *nfe = static_cast<double>(s.stats->calls);
      return gradient_sum(*mlp);
    };
    return TideSide{label, call, [nfe] { return *nfe; }};
  };
  std::vector<PeerTarget> targets;
  if (which == TinyCase::grad) targets = {{"diffrax", 4.0}};
  else if (which == TinyCase::solve) targets = B == 64 ? std::vector<PeerTarget>{{"diffrax", 1.5}, {"torchdiffeq", 30.0}} : std::vector<PeerTarget>{{"diffrax", 1.5}};
  const char* what = which == TinyCase::solve ? "" : which == TinyCase::grad ? ", gradient of sum(y(1)^2) by the weights"
                                                                             : ", R_2 appended, gradient of sum(y(1)^2) + sum(R_2)";
  ComparisonRun run(fmt::format("{} B={} (MLP 4-32-4, dopri5 1e-6, [0, 1]{})", tiny_case_name(which), B, what), targets);
  run.add(side("tide", dynamics));
  run.add(side("tide compiled", compile_dynamics(dynamics)));
  if (shared_step) run.add(side("tide shared step", dynamics, false));
  peers.add(run, {{"case", tiny_case_name(which)}, {"file", file}}, {"torchdiffeq"}, {"diffrax", "diffrax_vmap"});
  return run.run(plan);
}

// MLP 64-64(tanh)-64, batch 256, one classic RK4 step of 0.1, NoGrad.
Comparison mid(Peers& peers, const TimingPlan& plan) {
  Generator gen(2);
  auto mlp = std::make_shared<MLP>(std::vector<std::int64_t>{64, 64, 64}, Activation::tanh, gen);
  const Var y0(gen.uniform(Shape{256, 64}, -1.0, 1.0));
  Archive a;
  add_mlp(a, *mlp);
  a.add("y0", y0.value());
  const std::string file = peers.files.write("mid", a);
  const Dynamics dynamics = [mlp](const Var& z, const Var&) { return (*mlp)(z); };
  const auto call = [=](const Dynamics& f) {
    return [=] {
      NoGrad no_grad;
      SolveOptions o;
      o.method = Method::rk4;
      o.unfolds = 1;
      return total(last_state(solve(f, y0, f32_times({0.0, 0.1}), o)));
    };
  };
  ComparisonRun run("mid_rk4_step (MLP 64-64-64, batch 256, one RK4 step)", {{"jax", 1.0 / 1.1}});
  run.add({"tide", call(dynamics), [] { return 4.0; }});
  run.add({"tide compiled", call(compile_dynamics(dynamics)), [] { return 4.0; }});
  peers.add(run, {{"case", "mid_rk4_step"}, {"file", file}}, {"torchdiffeq", "torch"}, {"jax"});
  return run.run(plan);
}

// torchdiffeq's ode_demo: y' = MLP(y^3), 30 points from a start on the true spiral, dopri5 1e-7 /
// 1e-9, mean |error|, Adam 1e-3; starts cycle through 64 drawn once and given to the peers. Issue 14
// puts the 30 points on [0, 1.5]: the true spiral (ode_demo's, on [0, 25]) is sampled every 1.5 / 29,
// so that a batch's 30 points and its targets true_y[s:s+30] both span 1.5.
constexpr std::int64_t kSpiralPoints = 30;
constexpr double kSpiralSpan = 1.5;

struct Spiral {
  Var true_y, t, batch_t;
  std::vector<std::int64_t> starts;
  std::string file;
};

Spiral spiral_data(Peers& peers) {
  Spiral s;
  const double step = kSpiralSpan / static_cast<double>(kSpiralPoints - 1);
  std::vector<double> tv(static_cast<std::size_t>(std::lround(25.0 / step)) + 1);
  for (std::size_t i = 0; i < tv.size(); ++i) tv[i] = step * static_cast<double>(i);
  const auto n = static_cast<std::int64_t>(tv.size());
  s.t = f32_times(tv);
  s.batch_t = slice(s.t, 0, 0, kSpiralPoints);
  const Var A(Tensor::from_vector({-0.1, 2.0, -2.0, -0.1}, Shape{2, 2}));
  {
    NoGrad no_grad;
    const auto truth = [&A](const Var& y, const Var&) { return matmul(pow(y, 3.0), A); };
    s.true_y = reshape(solve(truth, Var(Tensor::from_vector({2.0, 0.0}, Shape{1, 2})), s.t).ys, Shape{n, 2});
  }
  Generator gen(5);
  const double last_start = static_cast<double>(n - kSpiralPoints);
  for (int i = 0; i < 64; ++i) s.starts.push_back(static_cast<std::int64_t>(gen.uniform(Shape{1}, 0.0, last_start, DType::f64).item()));
  Generator weights(3);
  const MLP mlp({2, 50, 2}, Activation::tanh, weights);
  Archive a;
  add_mlp(a, mlp);
  a.add("true_y", s.true_y.value());
  a.add("t", s.t.value());
  a.add("starts", Tensor::from_indices(s.starts, Shape{64}));
  s.file = peers.files.write("spiral", a);
  return s;
}

// A run of kSpiralIterations iterations per call, from the initial weights with a fresh Adam (the
// peers do the same), on a model of its own; NFE: the forward solves' evaluations over the run.
constexpr int kSpiralIterations = 16;

TideSide spiral_side(const Spiral& s, GradientKind kind, bool compiled, const std::string& label) {
  Generator weights(3);
  auto mlp = std::make_shared<MLP>(std::vector<std::int64_t>{2, 50, 2}, Activation::tanh, weights);
  const Dynamics plain = [mlp](const Var& y, const Var&) { return (*mlp)(pow(y, 3.0)); };
  const Dynamics dynamics = compiled ? compile_dynamics(plain) : plain;  // kept across calls: traced once
  std::vector<Tensor> initial;
  for (const Var& p : mlp->parameters()) initial.push_back(p.value().clone());
  auto nfe = std::make_shared<double>(NAN);
  const auto call = [=] {
    std::vector<Var> params = mlp->parameters();
    for (std::size_t i = 0; i < params.size(); ++i) {
      Tensor value = params[i].value();  // a handle onto the parameter's storage
      value.copy_(initial[i]);
    }
    Adam adam(params, {.lr = 1e-3});
    SolveOptions o;  // dopri5, rtol 1e-7, atol 1e-9
    o.gradient = kind;
    double loss_value = NAN;
    *nfe = 0;
    for (int i = 0; i < kSpiralIterations; ++i) {
      const std::int64_t start = s.starts[static_cast<std::size_t>(i) % s.starts.size()];
      const Solution pred = solve(dynamics, slice(s.true_y, 0, start, start + 1), s.batch_t, o);
      const Var loss = mean(abs(reshape(pred.ys, Shape{kSpiralPoints, 2}) - slice(s.true_y, 0, start, start + kSpiralPoints)));
      adam.zero_grad();
      backward(loss);
      adam.step();
      *nfe += static_cast<double>(pred.stats->calls);
      loss_value = loss.value().item();
    }
    return loss_value;
  };
  return {label, call, [nfe] { return *nfe; }};
}

std::vector<Comparison> spiral(Peers& peers, const TimingPlan& plan) {
  const Spiral s = spiral_data(peers);
  std::vector<Comparison> out;
  for (const auto& [kind, name] : {std::pair{GradientKind::adjoint, "adjoint"}, std::pair{GradientKind::discrete, "discrete"}}) {
    // the span printed is the one the file holds: every side reads its t
    const double first = select(s.batch_t, 0, 0).value().item(), last = select(s.batch_t, 0, kSpiralPoints - 1).value().item();
    ComparisonRun run(fmt::format("spiral_iteration, {} (torchdiffeq ode_demo: MLP 2-50-2 on y^3, {} points on [{:.3g}, {:.3g}], dopri5 "
                                  "1e-7/1e-9, Adam; a call = {} iterations from the initial weights, NFE = their forward evaluations)",
                                  name, kSpiralPoints, first, last, kSpiralIterations),
                      {{"torchdiffeq", 100.0, true}, {"diffrax", 1.0}});
    run.add(spiral_side(s, kind, false, "tide"));
    run.add(spiral_side(s, kind, true, "tide compiled"));
    peers.add(run, {{"case", "spiral_iteration"}, {"file", s.file}, {"gradient", name}, {"iterations", kSpiralIterations}}, {"torchdiffeq"}, {"diffrax"});
    out.push_back(run.run(plan));
  }
  return out;
}

}  // namespace

int run_bench_solver_peers(const BenchSolversOptions& options) {
  TimingPlan plan;
  plan.repeats = options.repeats;
  plan.min_sample_seconds = 0.1;
  Peers peers(options.peers);
  std::vector<Comparison> all;
  all.push_back(tiny(peers, 64, TinyCase::solve, plan));
  all.push_back(tiny(peers, 64, TinyCase::grad, plan));
  all.push_back(tiny(peers, 64, TinyCase::r2_grad, plan));
  all.push_back(mid(peers, plan));
  for (Comparison& c : spiral(peers, plan)) all.push_back(std::move(c));
  for (std::int64_t B : {1, 16, 256, 4096, 65536}) all.push_back(tiny(peers, B, TinyCase::solve, plan, true));  // tiny_scaling
  const std::vector<std::string> status = peer_status({peers.torch.get(), peers.jax.get()});
  print_peer_report("solvers", "f32", all, status, plan, options.json);
  return 0;
}

}  // namespace tide::cli
