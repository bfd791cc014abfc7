// Gradients through solves: discrete backprop against f64 finite differences, checkpointed equal
// to discrete, the adjoint against discrete to tolerance, time gradients and double backward (the
// regularisers' gradients: test_regulariser_gradients.cpp).
#include "gradient_problem.hpp"
#include "tide/tide.hpp"
#include <doctest/doctest.h>
#include <atomic>
#include <cmath>
#include <functional>
#include <thread>

namespace tide {
namespace {

using test::central_difference;
using test::f64t;
using test::Problem;

// central differences of the loss in each parameter entry, under NoGrad
std::vector<std::vector<double>> finite_differences(const Problem& p, const SolveOptions& o, double eps) {
  NoGrad no_grad;
  std::vector<std::vector<double>> out;
  for (const Var& v : p.params()) {
    std::vector<double> g;
    for (std::int64_t i = 0; i < v.numel(); ++i) g.push_back(central_difference(v.value(), i, eps, [&] { return p.loss(o).item(); }));
    out.push_back(g);
  }
  return out;
}

std::vector<std::vector<double>> gradients(const Problem& p, const SolveOptions& o) {
  const std::vector<Var> g = grad({p.loss(o)}, p.params());
  std::vector<std::vector<double>> out;
  for (const Var& x : g) out.push_back(x.value().to_vector());
  return out;
}

void check_close(const std::vector<std::vector<double>>& got, const std::vector<std::vector<double>>& want, double tol,
                 const char* what, std::size_t skip_last = 0) {
  for (std::size_t i = 0; i + skip_last < got.size(); ++i)
    for (std::size_t j = 0; j < got[i].size(); ++j) {
      INFO(what << ": parameter " << i << " entry " << j << " got " << got[i][j] << " want " << want[i][j]);
      CHECK(std::fabs(got[i][j] - want[i][j]) <= tol * std::max(1.0, std::fabs(want[i][j])));
    }
}

TEST_CASE("discrete backprop equals f64 finite differences of the computed solution (fixed step, tight)") {
  Problem p;
  for (Method m : {Method::rk4, Method::tsit5, Method::kvaerno3}) {
    INFO(method_name(m));
    SolveOptions o;
    o.method = m;
    o.unfolds = 7;
    // times: finite differences move the step grid with them, which the discrete gradient does
    // not see (it is the exact solution's time sensitivity), so they are checked separately
    check_close(gradients(p, o), finite_differences(p, o, 1e-6), m == Method::kvaerno3 ? 1e-6 : 1e-8, "discrete", 1);
  }
}

TEST_CASE("adaptive discrete, checkpointed and adjoint gradients agree; time gradients match finite differences") {
  Problem p;
  SolveOptions o;
  o.rtol = o.atol = 1e-10;
  const auto discrete = gradients(p, o);
  check_close(discrete, finite_differences(p, o, 1e-5), 1e-6, "discrete vs finite differences (adaptive, with times)");
  o.gradient = GradientKind::checkpointed;
  check_close(gradients(p, o), discrete, 1e-11, "checkpointed vs discrete");
  o.checkpoint_budget = 4;  // two-level: 4 stored states, each segment recomputed
  check_close(gradients(p, o), discrete, 1e-11, "budgeted checkpointed vs discrete");
  o.checkpoint_budget = 0;
  o.gradient = GradientKind::adjoint;
  check_close(gradients(p, o), discrete, 1e-6, "adjoint vs discrete");
  o.gradient = GradientKind::adjoint;
  o.method = Method::kvaerno3;
  o.rtol = o.atol = 1e-8;
  SolveOptions d = o;
  d.gradient = GradientKind::discrete;
  check_close(gradients(p, o), gradients(p, d), 1e-4, "kvaerno3 adjoint vs discrete");
}

TEST_CASE("discrete gradients are the same to the bit with and without create_graph (the stage combinations' backward)") {
  // Without create_graph a stage combination writes its terms' gradients into one block with the
  // backend's kernels, and the unary rules of these dynamics (tanh, sin) run as one elementwise
  // pass each; with it, all are Var ops. Each form uses the same kernels as its Var ops (the
  // all-ops harness checks the unary rules alone), so the two sweeps must agree exactly: shared and
  // per-sample steps, adaptive and fixed.
  for (const Method method : {Method::dopri5, Method::bosh3, Method::rk4})
    for (const bool per_sample : {true, false}) {
      Problem p;
      SolveOptions o;
      o.method = method;
      o.per_sample = per_sample;
      o.rtol = o.atol = 1e-6;
      if (method == Method::rk4) o.step_size = 0.2;
      const std::vector<Var> loss{p.loss(o)};
      const std::vector<Var> plain = grad(loss, p.params());
      const std::vector<Var> graphed = grad({p.loss(o)}, p.params(), {}, GradOptions{.create_graph = true});
      for (std::size_t i = 0; i < plain.size(); ++i) {
        INFO(method_name(method) << (per_sample ? " per-sample" : " shared") << " parameter " << i);
        CHECK(plain[i].value().to_vector() == graphed[i].value().to_vector());
      }
    }
}

TEST_CASE("checkpointed equals discrete with per-sample grids; the backward pass is counted") {
  Problem p;
  SolveOptions o;
  o.rtol = o.atol = 1e-8;
  o.mask = f64t({1, 1, 1, 1, 1, 0}, Shape{2, 3});
  const Var times = Var(f64t({0.0, 0.4, 1.0, 0.2, -0.5, -0.5}, Shape{2, 3}));
  auto run = [&](GradientKind kind) {
    o.gradient = kind;
    const Solution s = solve(p.f(), p.y0, times, o);
    const auto g = grad({sum(square(s.ys))}, {p.W, p.b, p.y0});
    if (kind != GradientKind::discrete) CHECK(s.stats->backward_calls > 0);
    std::vector<std::vector<double>> out;
    for (const Var& x : g) out.push_back(x.value().to_vector());
    return out;
  };
  const auto discrete = run(GradientKind::discrete);
  check_close(run(GradientKind::checkpointed), discrete, 1e-11, "checkpointed, per-sample grids");
  o.checkpoint_budget = 3;
  check_close(run(GradientKind::checkpointed), discrete, 1e-11, "budgeted checkpointed, per-sample grids");
  o.checkpoint_budget = 0;
  check_close(run(GradientKind::adjoint), discrete, 1e-5, "adjoint, per-sample grids");
}

TEST_CASE("checkpointed equals discrete for tableaus whose first stage is the last step's last stage (adaptive_heun, fehlberg2)") {
  // Their first stage is not f at the step's start, so a replay that made it so took other steps
  // (2.6e-3 off at rtol 1e-3). Per-sample steps at a loose tolerance reject some rows' steps while
  // others go on, so a batch mixes reused and fresh first stages.
  Problem p;
  const Var y0 = Var::parameter(f64t({0.5, -0.3, 1.1, 0.4, -2.5, 3.0}, Shape{3, 2}));
  const Var times = Var(f64t({0.0, 0.4, 1.0, 0.2, -0.5, -0.9, 0.0, 2.0, 3.0}, Shape{3, 3}));
  for (const Method m : {Method::adaptive_heun, Method::fehlberg2}) {
    for (const bool per_sample : {true, false}) {
      CAPTURE(method_name(m));
      CAPTURE(per_sample);
      SolveOptions o;
      o.method = m;
      o.per_sample = per_sample;
      o.rtol = o.atol = 1e-3;
      o.first_step = 0.1;  // too long for some rows' first step: rejected there while others go on
      auto run = [&](GradientKind kind, std::int64_t budget) {
        o.gradient = kind;
        o.checkpoint_budget = budget;
        const Solution s = solve(p.f(), y0, per_sample ? times : Var(f64t({0.0, 0.7, 2.0}, Shape{3})), o);
        std::vector<std::vector<double>> out;
        for (const Var& x : grad({sum(square(s.ys))}, {p.W, p.b, y0})) out.push_back(x.value().to_vector());
        return out;
      };
      const auto discrete = run(GradientKind::discrete, 0);
      check_close(run(GradientKind::checkpointed, 0), discrete, 1e-11, "checkpointed");
      check_close(run(GradientKind::checkpointed, 2), discrete, 1e-11, "budgeted checkpointed");
    }
  }
}

TEST_CASE("double backward through a discrete solve: Hessian-vector product against finite differences") {
  Problem p;
  SolveOptions o;
  o.method = Method::rk4;
  o.unfolds = 5;
  const Tensor v = f64t({0.3, -0.2, 0.5, 0.1}, Shape{2, 2});
  auto directional = [&](bool create) {  // d loss / dW . v
    GradOptions go;
    go.create_graph = create;
    const Var gw = grad({p.loss(o)}, {p.W}, {}, go)[0];
    return sum(gw * Var(v));
  };
  const std::vector<double> hv = grad(directional(true), p.y0).value().to_vector();
  std::vector<double> fd;
  for (std::int64_t i = 0; i < 4; ++i) fd.push_back(central_difference(p.y0.value(), i, 1e-5, [&] { return directional(false).item(); }));
  for (std::size_t i = 0; i < 4; ++i) CHECK(hv[i] == doctest::Approx(fd[i]).epsilon(1e-6));
  // the checkpointed and adjoint kinds are first order: a recorded backward is refused, not wrong
  for (GradientKind kind : {GradientKind::checkpointed, GradientKind::adjoint}) {
    o.gradient = kind;
    CHECK_THROWS_WITH_AS(directional(true), doctest::Contains("first order only"), Error);
  }
}

TEST_CASE("second derivatives through the times under create_graph match the closed forms, in both orders") {
  // y' = -p y: y(t1) = y0 exp(-p (t1 - t0)). The time terms' f was a constant in the recorded
  // graph: d2/dt1 dp came out 0 (exact -0.2562), d2/dp dt0 -0.4362 (exact +0.2562), d2/dt1^2 0.
  const double y0v = 1.3, pv = 0.7, t0 = 0.2, t1 = 1.1, E = std::exp(-pv * (t1 - t0)), tol = 1e-8;
  const Var p = Var::parameter(f64t({pv}, Shape{1}));
  const Var y0 = Var::parameter(f64t({y0v}, Shape{1, 1}));
  const Var times = Var::parameter(f64t({t0, t1}, Shape{2}));
  const auto f = [p](const Var& z, const Var&) { return -(z * p); };
  SolveOptions o;
  o.rtol = o.atol = 1e-12;
  const auto last = [&] { return sum(select(solve(f, y0, times, o).ys, 0, 1)); };
  GradOptions graphed;
  graphed.create_graph = graphed.allow_unused = true;
  const Var dt1 = select(grad({last()}, {times}, {}, graphed)[0], 0, 1);
  CHECK(dt1.item() == doctest::Approx(-pv * y0v * E).epsilon(tol));
  const std::vector<Var> h = grad({dt1}, {p, y0, times}, {}, GradOptions{.allow_unused = true});
  const std::vector<double> htt = h[2].value().to_vector();
  CHECK(h[0].item() == doctest::Approx(-y0v * E * (1 - pv * (t1 - t0))).epsilon(tol));
  CHECK(h[1].item() == doctest::Approx(-pv * E).epsilon(tol));
  CHECK(htt[0] == doctest::Approx(-pv * pv * y0v * E).epsilon(tol));
  CHECK(htt[1] == doctest::Approx(pv * pv * y0v * E).epsilon(tol));
  // the other order: the times' gradient of dL/dp recorded
  const std::vector<double> hp = grad(sum(grad({last()}, {p}, {}, graphed)[0]), times).value().to_vector();
  CHECK(hp[0] == doctest::Approx(y0v * E * (1 - pv * (t1 - t0))).epsilon(tol));
  CHECK(hp[1] == doctest::Approx(-y0v * E * (1 - pv * (t1 - t0))).epsilon(tol));
}

TEST_CASE("Hessian-vector products through the times match finite differences: per-sample grids and one shared step") {
  // d/dparams of (dL/dtimes . v) for non-autonomous dynamics, against central differences of the
  // first-order directional derivative (the times' block needs f_y f + f_t)
  for (const int config : {0, 1, 2}) {
    INFO("config " << config);
    Problem p;
    if (config == 1) p.times = Var::parameter(f64t({0.0, 0.6, 1.5, 0.1, 0.5, 1.2}, Shape{2, 3}));
    SolveOptions o;
    o.rtol = o.atol = 1e-11;
    o.per_sample = config != 2;
    std::vector<double> dir;
    for (std::int64_t i = 0; i < p.times.numel(); ++i) dir.push_back(0.3 + 0.2 * static_cast<double>(i));
    const Var v(f64t(dir, p.times.shape()));
    const auto directional = [&](bool create) {
      GradOptions go;
      go.create_graph = create;
      return sum(grad({p.loss(o)}, {p.times}, {}, go)[0] * v);
    };
    std::vector<std::vector<double>> hv, fd;
    for (const Var& x : grad({directional(true)}, p.params())) hv.push_back(x.value().to_vector());
    for (const Var& w : p.params()) {
      std::vector<double> g;
      for (std::int64_t i = 0; i < w.numel(); ++i) g.push_back(central_difference(w.value(), i, 1e-5, [&] { return directional(false).item(); }));
      fd.push_back(g);
    }
    check_close(hv, fd, 1e-6, "Hessian-vector product");
  }
}

// dL/dtimes by central differences of `loss` (which takes the times' values).
std::vector<double> time_differences(const std::function<double(const std::vector<double>&)>& loss, const std::vector<double>& t) {
  std::vector<double> out;
  for (std::size_t j = 0; j < t.size(); ++j) {
    std::vector<double> up = t, down = t;
    up[j] += 1e-6, down[j] -= 1e-6;
    out.push_back((loss(up) - loss(down)) / 2e-6);
  }
  return out;
}

TEST_CASE("time gradients with a mask: a padded entry moves with its sample's last valid time, not its own") {
  // padded ys repeat the last valid state; their times were credited with f there, and the last
  // valid time missed their share
  Generator gen(2);
  const Var w = Var::parameter(gen.normal(Shape{2, 2}, 0.0, 0.5, DType::f64));
  const auto f = [&](const Var& z, const Var& t) { return tanh(matmul(z, w)) * (1.0 + t); };
  const Tensor y0 = gen.normal(Shape{2, 2}, 0.0, 1.0, DType::f64);
  const std::vector<double> tv = {0.0, 0.4, 1.0, 0.0, 0.5, 0.7};
  for (GradientKind kind : {GradientKind::discrete, GradientKind::adjoint}) {
    CAPTURE(gradient_kind_name(kind));
    std::vector<double> analytic;
    const auto loss = [&](const std::vector<double>& t, bool with_grad) {
      SolveOptions o;
      o.rtol = o.atol = 1e-12, o.gradient = kind;
      o.mask = Tensor::from_vector({1, 1, 1, 1, 1, 0}, Shape{2, 3}, DType::f64);
      const Var times = Var::parameter(Tensor::from_vector(t, Shape{2, 3}, DType::f64));
      const Var L = sum(square(solve(Dynamics(f), Var(y0), times, o).ys));  // the padded ys[2, 1] included
      if (with_grad) analytic = grad(L, times).value().to_vector();
      return L.value().item();
    };
    loss(tv, true);
    const std::vector<double> fd = time_differences([&](const std::vector<double>& t) { return loss(t, false); }, tv);
    CHECK(analytic[5] == 0.0);
    for (std::size_t j = 0; j < fd.size(); ++j) CHECK(analytic[j] == doctest::Approx(fd[j]).epsilon(1e-6).scale(1e-8));
  }
}

TEST_CASE("time gradients of dynamics whose rows mix (a batch mean) evaluate f per output time, eager and compiled") {
  Generator gen(2);
  const Var w = Var::parameter(gen.normal(Shape{2, 2}, 0.0, 0.5, DType::f64));
  const auto f = [&](const Var& z, const Var&) { return tanh(matmul(z, w)) - mean(z, {0}, true); };
  const Tensor y0 = gen.normal(Shape{3, 2}, 0.0, 1.0, DType::f64);
  const std::vector<double> tv = {0.0, 0.4, 1.0};
  for (bool compiled : {false, true}) {
    CAPTURE(compiled);
    CompileOptions co;
    co.rows_mix = true;
    const Dynamics d = compiled ? compile_dynamics(Dynamics(f), co) : Dynamics(f);
    std::vector<double> analytic;
    const auto loss = [&](const std::vector<double>& t, bool with_grad) {
      SolveOptions o;
      o.rtol = o.atol = 1e-12, o.per_sample = false;
      const Var times = Var::parameter(Tensor::from_vector(t, Shape{3}, DType::f64));
      const Var L = sum(square(solve(d, Var(y0), times, o).ys));
      if (with_grad) analytic = grad(L, times).value().to_vector();
      return L.value().item();
    };
    loss(tv, true);
    const std::vector<double> fd = time_differences([&](const std::vector<double>& t) { return loss(t, false); }, tv);
    for (std::size_t j = 0; j < fd.size(); ++j) CHECK(analytic[j] == doctest::Approx(fd[j]).epsilon(1e-6).scale(1e-8));
  }
}

TEST_CASE("the adjoint's parameter gradient for dynamics whose rows mix (one shared step) equals the discrete one, eager and compiled") {
  // the quadrature ran f once over every stage's rows together, so a batch mean mixed stages: the
  // gradient was off by ~1e-3 relative, an error that shrank with the step, not the tolerance
  Generator gen(2);
  const Var w = Var::parameter(gen.normal(Shape{2, 2}, 0.0, 0.5, DType::f64));
  const auto f = [&](const Var& z, const Var&) { return tanh(matmul(z, w)) - mean(matmul(z, w), {0}, true); };
  const Tensor y0 = gen.normal(Shape{3, 2}, 0.0, 1.0, DType::f64);
  const Var times(Tensor::from_vector({0.0, 0.4, 1.0}, Shape{3}, DType::f64));
  CompileOptions co;
  co.rows_mix = true;
  const auto gradient = [&](GradientKind kind, bool compiled) {
    SolveOptions o;
    o.rtol = o.atol = 1e-11, o.per_sample = false, o.gradient = kind;
    const Dynamics d = compiled ? compile_dynamics(Dynamics(f), co) : Dynamics(f);
    return grad(sum(square(solve(d, Var(y0), times, o).ys)), w).value();
  };
  const Tensor want = gradient(GradientKind::discrete, false);
  for (bool compiled : {false, true}) {
    CAPTURE(compiled);
    const std::vector<double> got = gradient(GradientKind::adjoint, compiled).to_vector(), ref = want.to_vector();
    for (std::size_t i = 0; i < ref.size(); ++i) CHECK(got[i] == doctest::Approx(ref[i]).epsilon(1e-7));
  }
}

TEST_CASE("a parameter read directly and through a value computed from it before the solve counts once, every kind") {
  // G = W^T W is made before the solve: the checkpointed and adjoint backward passes gave W the
  // path through G twice (once through G's history inside their grad(), once from the outer graph)
  const Var W = Var::parameter(f64t({-0.4, 0.9, -0.7, -0.3}, Shape{2, 2}));
  const Var y0(f64t({0.5, -0.3, 1.1, 0.4}, Shape{2, 2}));
  const Var times(f64t({0.0, 0.6, 1.5}, Shape{3}));
  const auto loss = [&](GradientKind kind, bool compiled) {
    SolveOptions o;
    o.rtol = o.atol = 1e-10, o.gradient = kind;
    const Var G = matmul(transpose(W, 0, 1), W);
    const auto f = [W, G](const Var& z, const Var&) { return tanh(matmul(z, W)) - 0.1 * matmul(z, G); };
    const Solution s = solve(compiled ? compile_dynamics(Dynamics(f)) : Dynamics(f), y0, times, o);
    return sum(square(s.ys)) + sum(s.ys);
  };
  std::vector<double> fd;
  {
    NoGrad no_grad;
    for (std::int64_t i = 0; i < 4; ++i)
      fd.push_back(central_difference(W.value(), i, 1e-6, [&] { return loss(GradientKind::discrete, false).item(); }));
  }
  for (const GradientKind kind : {GradientKind::discrete, GradientKind::checkpointed, GradientKind::adjoint})
    for (const bool compiled : {false, true}) {
      INFO(gradient_kind_name(kind) << (compiled ? " compiled" : " eager"));
      check_close({grad(loss(kind, compiled), W).value().to_vector()}, {fd}, 1e-6, "dL/dW vs finite differences");
    }
}

TEST_CASE("threads differentiating one budgeted checkpointed solve at once all get its gradient") {
  // the budgeted backward wrote each replayed segment's states into the solve's shared step log and
  // cleared them after: threads erased each other's ("Var::parameter: undefined tensor")
  Problem p;
  SolveOptions o;
  o.rtol = o.atol = 1e-6;
  o.gradient = GradientKind::checkpointed;
  o.checkpoint_budget = 2;
  const Solution s = solve(p.f(), p.y0, Var(p.times.value()), o);
  REQUIRE(s.stats->total_accepted() > 4);  // segments of several steps
  const Var loss = sum(square(s.ys)) + sum(s.ys);
  const std::vector<double> want = grad(loss, p.W).value().to_vector();
  std::atomic<int> wrong{0}, threw{0};
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k)
    threads.emplace_back([&] {
      for (int it = 0; it < 20; ++it) {
        try {
          if (grad(loss, p.W).value().to_vector() != want) ++wrong;
        } catch (const std::exception&) {
          ++threw;
        }
      }
    });
  for (std::thread& t : threads) t.join();
  CHECK(threw.load() == 0);
  CHECK(wrong.load() == 0);
}

TEST_CASE("checkpointed and adjoint refuse dynamics that read a parameter their first evaluation did not") {
  // a piecewise-constant control: th1 is read only after t = 0.75, which the probe at the first
  // times that finds the parameters never sees; its gradient was 0, silently
  const Var th0 = Var::parameter(f64t({0.5}, Shape{1})), th1 = Var::parameter(f64t({-0.8}, Shape{1}));
  const auto f = [th0, th1](const Var& z, const Var& t) { return (t.value().to_vector()[0] < 0.75 ? th0 : th1) * z; };
  const Var y0(f64t({3.0}, Shape{1, 1}));
  const Var times(f64t({0.0, 0.5, 1.0}, Shape{3}));
  SolveOptions o;
  o.rtol = o.atol = 1e-10;
  const std::vector<Var> g = grad({sum(solve(f, y0, times, o).ys)}, {th0, th1});  // discrete: both, exactly
  const double e1 = std::exp(0.75 * 0.5 - 0.25 * 0.8);
  CHECK(g[1].item() == doctest::Approx(3.0 * 0.25 * e1).epsilon(1e-7));
  for (const GradientKind kind : {GradientKind::checkpointed, GradientKind::adjoint}) {
    INFO(gradient_kind_name(kind));
    o.gradient = kind;
    const Var loss = sum(solve(f, y0, times, o).ys);
    CHECK_THROWS_WITH(grad({loss}, {th0, th1}, {}, GradOptions{.allow_unused = true}),
                      doctest::Contains(fmt::format("{} gradient: the dynamics read a tensor requiring grad", gradient_kind_name(kind)).c_str()));
  }
}

TEST_CASE("time gradients through ltc_fused read the plain right-hand side, every kind, against finite differences") {
  // the time gradients evaluated the split dynamics (concat(a, c), twice the state's width): an
  // internal broadcast error. z' = -(a + b) z + c with a = 1 + 0.2 z, b = 0.5, c = 0.2
  const auto split = [](const Var& z, const Var&) { return concat({1.0 + 0.2 * z, z * 0.0 + 0.2}, 1); };
  const Var y0(f64t({1.0, 2.0}, Shape{1, 2}));
  const Var times = Var::parameter(f64t({0.0, 0.5, 1.0}, Shape{3}));
  SolveOptions o;
  o.method = Method::ltc_fused;
  o.unfolds = 400;
  o.fused_b = f64t({0.5}, Shape{1});
  const auto loss = [&] { return sum(square(solve(split, y0, times, o).ys)); };
  std::vector<double> fd;
  {
    NoGrad no_grad;
    for (std::int64_t i = 0; i < 3; ++i) fd.push_back(central_difference(times.value(), i, 1e-5, [&] { return loss().item(); }));
  }
  for (const GradientKind kind : {GradientKind::discrete, GradientKind::checkpointed, GradientKind::adjoint}) {
    INFO(gradient_kind_name(kind));
    o.gradient = kind;
    // the finite differences see the fixed steps move with the times (first order: ~1e-3)
    check_close({grad(loss(), times).value().to_vector()}, {fd}, 1e-2, "d loss / d times");
  }
}

}  // namespace
}  // namespace tide
