// Compiled dynamics (compile_dynamics.hpp): solves with compiled dynamics equal the eager solves in
// values and every gradient kind, with per-sample grids (subsets of rows) and closed-over data.
#include "../compare.hpp"
#include "plan_calls.hpp"
#include "tide/tide.hpp"
#include <doctest/doctest.h>
#include <set>
#include <atomic>
#include <cmath>
#include <algorithm>
#include <thread>
#include <fmt/format.h>

using namespace tide;
using test::max_rel_diff;
using test::plan_calls;

namespace {

}  // namespace

TEST_CASE("solves with compiled dynamics equal eager ones: values and discrete, checkpointed and adjoint gradients, per-sample grids") {
  Generator gen(11);
  const Var w1 = Var::parameter(gen.normal(Shape{3, 16}, 0.0, 0.5, DType::f64));
  const Var b1 = Var::parameter(gen.normal(Shape{16}, 0.0, 0.5, DType::f64));
  const Var w2 = Var::parameter(gen.normal(Shape{16, 3}, 0.0, 0.5, DType::f64));
  const Tensor drive = gen.normal(Shape{4, 3}, 0.0, 1.0, DType::f64);  // per-sample data, gathered by rows
  auto mlp = [&](const Var& z, const Var& t, const Rows& rows) {
    return matmul(softplus(matmul(z, w1) + b1), w2) * t + rows.gather(Var(drive)) * 0.1 - 0.2 * z;
  };
  const Dynamics eager(mlp);
  const Dynamics compiled = compile_dynamics(eager);
  // per-sample end times: samples leave the batch at different steps
  const Tensor times = Tensor::from_vector({0, 0.5, 1.0, 0, 0.3, 0.6, 0, 0.7, 1.4, 0, 0.2, 2.0}, Shape{4, 3}, DType::f64);
  for (GradientKind kind : {GradientKind::discrete, GradientKind::checkpointed, GradientKind::adjoint}) {
    INFO("gradient kind " << static_cast<int>(kind));
    SolveOptions o;
    o.rtol = o.atol = 1e-8;
    o.gradient = kind;
    const Var y0 = Var::parameter(gen.normal(Shape{4, 3}, 0.0, 1.0, DType::f64));
    const Solution se = solve(eager, y0, Var(times), o);
    const Solution sc = solve(compiled, y0, Var(times), o);
    CHECK(max_rel_diff(sc.ys.value(), se.ys.value()) <= 1e-12);
    CHECK(sc.stats->max_nfe() == se.stats->max_nfe());
    const auto ge = grad({sum(square(se.ys))}, {y0, w1, b1, w2});
    const auto gc = grad({sum(square(sc.ys))}, {y0, w1, b1, w2});
    for (std::size_t i = 0; i < ge.size(); ++i) {
      INFO("gradient " << i);
      CHECK(max_rel_diff(gc[i].value(), ge[i].value()) <= (kind == GradientKind::adjoint ? 1e-9 : 1e-12));
    }
  }
  const CompiledDynamicsStats st = compiled_stats(compiled);
  CHECK(st.all_rows.calls > 0);
  CHECK(st.subset_rows.calls > 0);             // the shrinking batch went through the subset path
  CHECK(st.subset_rows.traces <= 3 * 3);       // subsets of 3, 2, 1 rows (padded: 4, 2, 1), in at most three recording states
  CHECK(st.all_rows.backward_calls > 0);
  CHECK(compiled_stats(eager).all_rows.calls == 0);
  CHECK(compiled_stats(compile_dynamics(compiled)).all_rows.calls == st.all_rows.calls);  // compiling twice is a no-op
  // the explicit steps and the adjoint's backward right-hand side (f and its vjp) ran as plans
  std::vector<std::string> keys;
  for (const CompiledVariantStats& v : st.variants) {
    INFO(v.key);
    keys.push_back(v.key.substr(0, v.key.find(' ')));
    CHECK(v.eager_because.empty());
    CHECK(v.all_rows.calls + v.subset_rows.calls > 0);
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());  // a step given k1, and one making it
  CHECK(keys == std::vector<std::string>{"adjoint", "step"});
}

TEST_CASE("compiled dynamics under NoGrad") {
  Generator gen(5);
  const Var w = Var::parameter(gen.normal(Shape{2, 2}, 0.0, 0.7, DType::f64));
  auto f = [&](const auto& z, const auto&) { return tanh(matmul(z, w)); };
  const Dynamics eager(f);
  const Dynamics compiled = compile_dynamics(eager);
  CHECK(compiled.taylor_capable());
  const Tensor times = Tensor::from_vector({0.0, 1.0}, Shape{2}, DType::f64);
  const Var y0(gen.normal(Shape{3, 2}, 0.0, 1.0, DType::f64));
  NoGrad off;
  CHECK(max_rel_diff(solve(compiled, y0, Var(times)).ys.value(), solve(eager, y0, Var(times)).ys.value()) <= 1e-13);
}

// R_K and kinetic energy: the regularised dynamics (Taylor mode included) compiled once per setting
// and replayed by later solves; per-sample grids, discrete and adjoint gradients.
TEST_CASE("compiled dynamics with R_K and kinetic energy: the regularised dynamics compile once and equal the eager solve") {
  Generator gen(6);
  const Var w = Var::parameter(gen.normal(Shape{2, 5}, 0.0, 0.7, DType::f64));
  const Var v = Var::parameter(gen.normal(Shape{5, 2}, 0.0, 0.7, DType::f64));
  int calls = 0;  // runs of f's own code, on Vars or Jets
  auto f = [&](const auto& z, const auto& t) {
    ++calls;
    return matmul(tanh(matmul(z, w) + t * 0.3), v);
  };
  const Dynamics eager(f);
  const Dynamics compiled = compile_dynamics(eager);
  const Tensor times = Tensor::from_vector({0.0, 0.4, 0.9, 0.0, 0.7, 1.2, 0.0, 0.2, 0.5}, Shape{3, 3}, DType::f64);
  for (GradientKind kind : {GradientKind::discrete, GradientKind::adjoint}) {
    for (auto [K, kinetic] : {std::pair{2, false}, std::pair{3, true}, std::pair{0, true}}) {
      INFO("gradient kind " << static_cast<int>(kind) << ", K = " << K << ", kinetic " << kinetic);
      SolveOptions o;
      o.rtol = o.atol = 1e-8;
      o.gradient = kind;
      o.regularisers.taylor_order = K;
      o.regularisers.kinetic = kinetic;
      const Var y0 = Var::parameter(gen.normal(Shape{3, 2}, 0.0, 1.0, DType::f64));
      calls = 0;
      const Solution se = solve(eager, y0, Var(times), o);
      const int eager_calls = calls;
      calls = 0;
      const Solution sc = solve(compiled, y0, Var(times), o);
      const int traced = calls;
      calls = 0;
      const Solution again = solve(compiled, y0, Var(times), o);
      CHECK(calls == 0);                   // the second solve replays plans only
      CHECK(traced > 0);
      const CompiledDynamicsStats st = compiled_stats(compiled);
      const std::string key = fmt::format("regularised D=2 taylor={} kinetic={}", K, kinetic);
      const auto variant = std::find_if(st.variants.begin(), st.variants.end(), [&](const CompiledVariantStats& x) { return x.key == key; });
      REQUIRE(variant != st.variants.end());
      CHECK(variant->eager_because.empty());
      CHECK(variant->all_rows.calls + variant->subset_rows.calls > 0);
      CHECK(traced < eager_calls / 2);     // a trace per signature, not a call per evaluation
      CHECK(max_rel_diff(sc.ys.value(), se.ys.value()) <= 1e-12);
      if (K > 0) CHECK(max_rel_diff(sc.taylor.value(), se.taylor.value()) <= 1e-12);
      if (K > 0) CHECK(max_rel_diff(again.taylor.value(), se.taylor.value()) <= 1e-12);
      if (kinetic) CHECK(max_rel_diff(sc.kinetic.value(), se.kinetic.value()) <= 1e-12);
      const Var le = (K > 0 ? sum(se.taylor) : sum(se.kinetic)) + sum(square(se.ys));
      const Var lc = (K > 0 ? sum(sc.taylor) : sum(sc.kinetic)) + sum(square(sc.ys));
      const auto ge = grad({le}, {y0, w, v}), gc = grad({lc}, {y0, w, v});
      for (std::size_t i = 0; i < ge.size(); ++i) {
        INFO("gradient " << i);
        CHECK(max_rel_diff(gc[i].value(), ge[i].value()) <= (kind == GradientKind::adjoint ? 1e-9 : 1e-11));
      }
    }
  }
}

TEST_CASE("compiled dynamics with the noisy estimators: new noise per solve, two solves then one backward equal eager") {
  Generator gen(9);
  const Var w = Var::parameter(gen.normal(Shape{2, 5}, 0.0, 0.7, DType::f64));
  const Var v = Var::parameter(gen.normal(Shape{5, 2}, 0.0, 0.7, DType::f64));
  auto f = [&](const auto& z, const auto& t) { return matmul(tanh(matmul(z, w) + t * 0.3), v); };
  const Dynamics eager(f);
  const Dynamics compiled = compile_dynamics(eager);
  const Var y0 = Var::parameter(gen.normal(Shape{4, 2}, 0.0, 1.0, DType::f64));
  // per-sample grids: samples finish at different steps, so later steps evaluate subsets of rows
  const Var times(Tensor::from_vector({0.0, 0.4, 0.8, 0.0, 0.3, 1.1, 0.0, 0.6, 0.7, 0.0, 0.2, 1.4}, Shape{4, 3}, DType::f64));
  for (auto [trace, kind] : {std::pair{Regularisers::Trace::hutchinson_vjp, GradientKind::discrete},
                             std::pair{Regularisers::Trace::hutchinson_jvp, GradientKind::discrete},
                             std::pair{Regularisers::Trace::hutchinson_vjp, GradientKind::adjoint},
                             std::pair{Regularisers::Trace::none, GradientKind::discrete},  // the Jacobian term's own JVP
                             std::pair{Regularisers::Trace::exact, GradientKind::discrete}}) {
    INFO("trace " << static_cast<int>(trace) << ", gradient kind " << static_cast<int>(kind));
    // both solves recorded before the backward: the first one's backward must use its own noise,
    // not what the second solve wrote into the variant's noise tensor
    const auto loss = [&](const Dynamics& dyn) {
      Var total;
      for (std::uint64_t seed : {11, 12}) {
        SolveOptions o;
        o.rtol = o.atol = 1e-8;
        o.seed = seed;
        o.gradient = kind;
        o.regularisers.trace = trace;
        o.regularisers.jacobian = true;
        const Solution s = solve(dyn, y0, times, o);
        const Var l = (s.logp_change.defined() ? sum(s.logp_change) : Var(Tensor::scalar(0.0, DType::f64))) + sum(s.jacobian) +
                      sum(square(s.ys));
        total = total.defined() ? total + l : l;
      }
      return total;
    };
    const Var le = loss(eager), lc = loss(compiled);
    CHECK(max_rel_diff(lc.value(), le.value()) <= 1e-12);
    const auto ge = grad({le}, {y0, w, v}), gc = grad({lc}, {y0, w, v});
    for (std::size_t i = 0; i < ge.size(); ++i) {
      INFO("gradient " << i);
      CHECK(max_rel_diff(gc[i].value(), ge[i].value()) <= (kind == GradientKind::adjoint ? 1e-9 : 1e-11));
    }
  }
  const CompiledDynamicsStats st = compiled_stats(compiled);
  REQUIRE(!st.variants.empty());
  for (const CompiledVariantStats& x : st.variants) CHECK(x.eager_because.empty());
}

TEST_CASE("compiled dynamics keep the 8 most recent noisy variants (one per batch size), and clear_compiled drops them all") {
  // (each batch size added a whole variant, ~15-18 MB of plans for a small CNF, without bound; clear_compiled left them listed)
  Generator gen(5);
  const Var w = Var::parameter(gen.normal(Shape{2, 2}, 0.0, 0.7, DType::f64));
  const Dynamics compiled = compile_dynamics(Dynamics([&](const auto& z, const auto&) { return tanh(matmul(z, w)); }));
  const Tensor times = Tensor::from_vector({0.0, 0.5}, Shape{2}, DType::f64);
  SolveOptions o;
  o.regularisers.jacobian = true;
  const auto noisy_variants = [&] {
    std::set<std::string> keys;
    for (const CompiledVariantStats& x : compiled_stats(compiled).variants)
      if (x.key.find(" noise ") != std::string::npos) keys.insert(x.key.substr(0, x.key.find(" slot ")));  // (one solve at a time here: slot 0)
    return keys;
  };
  NoGrad off;
  for (std::int64_t batch = 1; batch <= 12; ++batch) {
    const Solution s = solve(compiled, Var(gen.normal(Shape{batch, 2}, 0.0, 1.0, DType::f64)), times, o);
    CHECK(s.jacobian.value().shape() == Shape{batch});
  }
  const std::set<std::string> kept = noisy_variants();
  CHECK(kept.size() == 8);
  CHECK(kept.count("regularised D=2 taylor=0 kinetic=false jacobian noise f64[12, 2] on cpu") == 1);  // the latest
  CHECK(kept.count("regularised D=2 taylor=0 kinetic=false jacobian noise f64[4, 2] on cpu") == 0);   // dropped
  clear_compiled(compiled);
  CHECK(compiled_stats(compiled).variants.empty());
  const Solution again = solve(compiled, Var(gen.normal(Shape{3, 2}, 0.0, 1.0, DType::f64)), times, o);
  CHECK(noisy_variants().size() == 1);
  CHECK(std::isfinite(sum(again.jacobian).item()));
}

TEST_CASE("noisy solves on two threads sharing one compiled dynamics each use their own noise") {
  // both wrote their noise into the one tensor kept per batch shape, which the running plans read:
  // a solve's log-density changed partway through (6 of 20 wrong by up to 12, no error)
  Generator gen(3);
  const std::int64_t B = 64, D = 2;
  const Var w1(gen.normal(Shape{D, 16}, 0.0, 0.8, DType::f64)), w2(gen.normal(Shape{16, D}, 0.0, 0.8, DType::f64));
  auto f = [&](const auto& z, const auto&) {
    using T = std::decay_t<decltype(z)>;
    return matmul(tanh(matmul(z, T(w1))), T(w2));
  };
  const Dynamics eager(f), compiled = compile_dynamics(Dynamics(f));
  const Var y0(gen.normal(Shape{B, D}, 0.0, 1.0, DType::f64));
  const Var times(Tensor::from_vector({0.0, 1.0}, Shape{2}, DType::f64));
  const auto options = [](std::uint64_t seed) {
    SolveOptions o;
    o.regularisers.trace = Regularisers::Trace::hutchinson_jvp;
    o.seed = seed;
    return o;
  };
  NoGrad off;
  const Tensor want[2] = {solve(eager, y0, times, options(1)).logp_change.value(), solve(eager, y0, times, options(2)).logp_change.value()};
  REQUIRE(max(abs(sub(want[0], want[1]))).item() > 1.0);  // the seeds' estimates differ
  std::atomic<int> wrong[2] = {0, 0};
  const auto worker = [&](int s) {
    NoGrad no_grad;
    for (int round = 0; round < 12; ++round) {
      const Tensor got = solve(compiled, y0, times, options(static_cast<std::uint64_t>(s + 1))).logp_change.value();
      if (max(abs(sub(got, want[s]))).item() > 1e-9) ++wrong[s];
    }
  };
  std::thread first(worker, 0), second(worker, 1);
  first.join(), second.join();
  CHECK(wrong[0].load() == 0);
  CHECK(wrong[1].load() == 0);
}

TEST_CASE("compiled dynamics with R_K: a Jet path that cannot be traced runs eagerly, with the same result") {
  Generator gen(7);
  const Var w = Var::parameter(gen.normal(Shape{2, 2}, 0.0, 0.7, DType::f64));
  auto f = [&](const auto& z, const auto&) {
    if constexpr (std::is_same_v<std::decay_t<decltype(z)>, Jet>) {
      if (sum(z.primal()).item() > 1e9) return z;  // control flow on a value: not traceable
    }
    return tanh(matmul(z, w));
  };
  const Dynamics eager(f);
  const Dynamics compiled = compile_dynamics(eager);
  const Tensor times = Tensor::from_vector({0.0, 1.0}, Shape{2}, DType::f64);
  const Var y0(gen.normal(Shape{3, 2}, 0.0, 1.0, DType::f64));
  SolveOptions o;
  o.regularisers.taylor_order = 2;
  for (int round = 0; round < 2; ++round) {
    const Solution se = solve(eager, y0, Var(times), o), sc = solve(compiled, y0, Var(times), o);
    CHECK(max_rel_diff(sc.taylor.value(), se.taylor.value()) <= 1e-12);
    CHECK(max_rel_diff(grad(sum(sc.taylor), w).value(), grad(sum(se.taylor), w).value()) <= 1e-10);
  }
  const CompiledDynamicsStats st = compiled_stats(compiled);
  REQUIRE(st.variants.size() == 1);
  CHECK(st.variants[0].key == "regularised D=2 taylor=2 kinetic=false");
  CHECK(st.variants[0].eager_because.find("back to the host") != std::string::npos);  // the trace's own error
}

TEST_CASE("compiled_variant: made once per key from the uncompiled form; a plain dynamics gets make(f)") {
  int made = 0;
  const Dynamics plain([](const Var& z, const Var&) { return -z; });
  const Dynamics compiled = compile_dynamics(plain);
  auto make = [&](const Dynamics& g) {
    ++made;
    return Dynamics([g](const Var& z, const Var& t, const Rows& r) { return g(z, t, r) * 2.0; });
  };
  const Var z(Tensor::ones(Shape{2, 2}, DType::f64)), t(Tensor::zeros(Shape{2, 1}, DType::f64));
  const Dynamics a = compiled_variant(compiled, "x", make), b = compiled_variant(compiled, "x", make);
  CHECK(made == 1);
  CHECK(max_rel_diff(a(z, t).value(), Tensor::full(Shape{2, 2}, -2.0, DType::f64)) == 0.0);
  CHECK(max_rel_diff(b(z, t).value(), Tensor::full(Shape{2, 2}, -2.0, DType::f64)) == 0.0);
  compiled_variant(compiled, "y", make);
  CHECK(made == 2);
  compiled_variant(plain, "x", make);
  CHECK(made == 3);  // not compiled: made every time
}

TEST_CASE("compiled dynamics: a batch that shrinks one sample at a time costs log2(B) traces, not B") {
  const Var w(Tensor::from_vector({-0.5, 0.2, 0.1, -0.3}, Shape{2, 2}, DType::f64));
  const Dynamics f = compile_dynamics([&](const Var& z, const Var&) { return tanh(matmul(z, w)); });
  std::vector<double> grid;
  for (int b = 0; b < 16; ++b) grid.insert(grid.end(), {0.0, 0.1 * (b + 1)});  // 16 different end times
  const Var y0(Tensor::ones(Shape{16, 2}, DType::f64));
  NoGrad off;
  const Solution s = solve(f, y0, Var(Tensor::from_vector(grid, Shape{16, 2}, DType::f64)));
  const Solution e = solve(Dynamics([&](const Var& z, const Var&) { return tanh(matmul(z, w)); }), y0,
                           Var(Tensor::from_vector(grid, Shape{16, 2}, DType::f64)));
  CHECK(max_rel_diff(s.ys.value(), e.ys.value()) <= 1e-14);
  const CompiledDynamicsStats st = compiled_stats(f);
  CHECK(plan_calls(st, true) > 0);
  CHECK(st.subset_rows.traces <= 5);  // padded to 16, 8, 4, 2, 1 rows
  REQUIRE(st.variants.size() == 1);   // the compiled dopri5 step
  CHECK(st.variants[0].subset_rows.traces <= 5);
}

TEST_CASE("compiled dynamics called on an empty subset of rows return an empty result, as eager") {
  // the padding to a power of two took the last of no rows (a crash)
  const Var w(Tensor::from_vector({-0.5, 0.2, 0.1, -0.3, 0.4, 0.0}, Shape{2, 3}, DType::f64));
  const Dynamics f = compile_dynamics([&](const Var& z, const Var&) { return tanh(matmul(z, w)); });
  NoGrad off;
  for (int call = 0; call < 2; ++call) {  // traced, then replayed
    const Var out = f(Var(Tensor::zeros(Shape{0, 2}, DType::f64)), Var(Tensor::zeros(Shape{0, 1}, DType::f64)),
                      Rows(Tensor::from_indices({}, Shape{0})));
    CHECK(out.shape() == Shape{0, 3});
  }
}

TEST_CASE("checkpointed and adjoint gradients refuse parameters modified in place since the solve, as discrete does") {
  // their backward passes evaluate f again: with the new values they returned a silent mix (53% off)
  for (const bool compiled : {false, true}) {
    for (const GradientKind kind : {GradientKind::checkpointed, GradientKind::adjoint}) {
      CAPTURE(compiled);
      const Var w = Var::parameter(Tensor::from_vector({-0.5, 0.2, 0.1, -0.3}, Shape{2, 2}, DType::f64));
      const Dynamics plain = [&w](const Var& z, const Var&) { return tanh(matmul(z, w)); };
      SolveOptions o;
      o.gradient = kind;
      const Solution s = solve(compiled ? compile_dynamics(plain) : plain, Var(Tensor::ones(Shape{2, 2}, DType::f64)),
                               Var(Tensor::from_vector({0.0, 1.0}, Shape{2}, DType::f64)), o);
      Tensor value = w.value();
      value.mul_(1.5);
      CHECK_THROWS_WITH_AS(grad(sum(s.ys), w), doctest::Contains("was modified in place after it was saved"), Error);
    }
  }
}

TEST_CASE("compiled explicit steps equal stage-by-stage steps for every explicit method") {
  Generator gen(21);
  const Var w1 = Var::parameter(gen.normal(Shape{2, 8}, 0.0, 0.6, DType::f64));
  const Var w2 = Var::parameter(gen.normal(Shape{8, 2}, 0.0, 0.6, DType::f64));
  const auto fn = [&](const Var& z, const Var& t) { return matmul(tanh(matmul(z, w1)), w2) * cos(t) - 0.3 * z; };
  const Var y0 = Var::parameter(gen.normal(Shape{3, 2}, 0.0, 1.0, DType::f64));
  // per-sample grids of five times: outputs fall inside steps
  const Tensor times = Tensor::from_vector({0, 0.1, 0.25, 0.4, 0.9, 0, 0.3, 0.5, 1.1, 1.2, 0, 0.05, 0.1, 0.15, 0.6},
                                           Shape{3, 5}, DType::f64);
  for (Method m : {Method::midpoint, Method::heun, Method::rk4, Method::rk4_38, Method::heun_euler, Method::bosh3,
                   Method::dopri5, Method::tsit5, Method::fehlberg45, Method::dop853, Method::fehlberg2, Method::dopri8}) {
    INFO(method_name(m));
    SolveOptions o;
    o.method = m;
    o.rtol = o.atol = 1e-7;
    if (!tableau(m).adaptive()) o.step_size = 0.05;
    const Dynamics eager(fn), compiled = compile_dynamics(Dynamics(fn));
    const Solution se = solve(eager, y0, Var(times), o);
    for (int round = 0; round < 2; ++round) {  // the second replays
      const Solution sc = solve(compiled, y0, Var(times), o);
      CHECK(max_rel_diff(sc.ys.value(), se.ys.value()) <= 1e-12);
      CHECK(sc.stats->calls == se.stats->calls);
      CHECK(sc.stats->max_nfe() == se.stats->max_nfe());
      const auto ge = grad({sum(square(se.ys))}, {y0, w1, w2}), gc = grad({sum(square(sc.ys))}, {y0, w1, w2});
      for (std::size_t i = 0; i < ge.size(); ++i) CHECK(max_rel_diff(gc[i].value(), ge[i].value()) <= 1e-11);
    }
    // the step given k1 (FSAL, or f at the new state for dense output) and the step making it
    // (fixed-step tableaus without FSAL, a checkpoint's replay): one plan for either
    const CompiledDynamicsStats st = compiled_stats(compiled);
    REQUIRE(!st.variants.empty());
    REQUIRE(st.variants.size() <= 2);
    std::int64_t calls = 0, backward_calls = 0;
    bool made_k1 = false;
    for (const CompiledVariantStats& v : st.variants) {
      INFO(v.key);
      CHECK((v.key == fmt::format("step {}", method_name(m)) || v.key == fmt::format("step {} from y", method_name(m))));
      CHECK(v.eager_because.empty());
      calls += v.all_rows.calls + v.subset_rows.calls;
      backward_calls += v.all_rows.backward_calls + v.subset_rows.backward_calls;
      made_k1 = made_k1 || (v.key.find("from y") != std::string::npos && v.all_rows.calls + v.subset_rows.calls > 0);
    }
    CHECK(calls > 0);
    CHECK(backward_calls > 0);
    if (!tableau(m).adaptive() && !tableau(m).fsal) CHECK(made_k1);
  }
}

TEST_CASE("compiled explicit steps of one sample: a retried step and the next step of an FSAL tableau reuse their packed inputs") {
  // one sample: a rejected step retries from the same y and k1, and an accepted step of dopri5,
  // bosh3 or tsit5 continues from y_new and its last stage (PackedInputs); a first step far too
  // large forces rejections. Values and gradients against the stage-by-stage eager steps.
  Generator gen(23);
  const Var w1 = Var::parameter(gen.normal(Shape{2, 8}, 0.0, 0.6, DType::f64));
  const Var w2 = Var::parameter(gen.normal(Shape{8, 2}, 0.0, 0.6, DType::f64));
  const auto fn = [&](const Var& z, const Var&) { return matmul(tanh(matmul(pow(z, 3.0), w1)), w2) - 0.1 * z; };
  const Var y0 = Var::parameter(Tensor::from_vector({1.5, -0.5}, Shape{1, 2}, DType::f64));
  const Var times(Tensor::from_vector({0.0, 0.4, 0.5, 2.0}, Shape{4}, DType::f64));
  for (Method m : {Method::dopri5, Method::bosh3, Method::tsit5, Method::fehlberg45, Method::heun_euler}) {
    INFO(method_name(m));
    SolveOptions o;
    o.method = m;
    o.rtol = o.atol = 1e-9;
    o.first_step = 1.5;
    const Dynamics eager(fn), compiled = compile_dynamics(Dynamics(fn));
    const Solution se = solve(eager, y0, times, o);
    CHECK(se.stats->total_rejected() > 0);
    for (int round = 0; round < 2; ++round) {
      const Solution sc = solve(compiled, y0, times, o);
      CHECK(max_rel_diff(sc.ys.value(), se.ys.value()) <= 1e-12);
      CHECK(sc.stats->total_rejected() == se.stats->total_rejected());
      CHECK(sc.stats->total_accepted() == se.stats->total_accepted());
      const auto ge = grad({sum(square(se.ys))}, {y0, w1, w2}), gc = grad({sum(square(sc.ys))}, {y0, w1, w2});
      for (std::size_t i = 0; i < ge.size(); ++i) CHECK(max_rel_diff(gc[i].value(), ge[i].value()) <= 1e-11);
    }
  }
}

TEST_CASE("compiled dynamics called inside another function's trace run their eager form, a padded subset of rows too") {
  // the subset's padding read its row index back to the host first, which a trace refuses
  Generator gen(1);
  const Var w = Var::parameter(gen.normal(Shape{3, 3}, 0.0, 0.5, DType::f64));
  const auto plain = [&](const Var& z, const Var& t) { return tanh(matmul(z, w)) * t; };
  const Dynamics inner = compile_dynamics(Dynamics(plain));
  NoGrad off;
  CompiledFunction outer([&](const std::vector<Var>& in) { return inner(in[0], in[1], Rows(in[2].value())) * 2.0; });
  const Var z(gen.normal(Shape{3, 3}, 0.0, 1.0, DType::f64)), t(Tensor::full(Shape{3, 1}, 0.5, DType::f64));
  const Var y = outer({z, t, Var(Tensor::from_indices({0, 2, 4}, Shape{3}))});
  CHECK(max(abs(sub(y.value(), (plain(z, t) * 2.0).value()))).item() == 0.0);
}

TEST_CASE("threads differentiating one graph through compiled dynamics all get its gradient (a busy plan's backward runs eagerly)") {
  // design.md lets several threads differentiate graphs that share nodes at once; the compiled
  // node's one backward plan refused the second thread ("this plan is already running")
  Generator gen(4);
  const Var w = Var::parameter(gen.normal(Shape{4, 4}, 0.0, 0.5, DType::f64));
  const Dynamics f = compile_dynamics(Dynamics([&](const Var& z, const Var&) { return tanh(matmul(z, w)) - 0.2 * z; }));
  const Var y0(gen.normal(Shape{32, 4}, 0.0, 1.0, DType::f64));
  const Var t(Tensor::from_vector({0.0, 1.0}, Shape{2}, DType::f64));
  // dopri5's checkpointed backward carries its reused last stage's cotangent from step to step
  for (const auto& [method, kind] : {std::pair{Method::rk4, GradientKind::discrete}, std::pair{Method::rk4, GradientKind::adjoint},
                                     std::pair{Method::dopri5, GradientKind::checkpointed}}) {
    CAPTURE(static_cast<int>(kind));
    SolveOptions o;
    o.method = method;
    o.unfolds = method == Method::rk4 ? 8 : 1;
    o.gradient = kind;
    const Solution s = solve(f, y0, t, o);
    const Var loss = sum(square(s.ys));
    const Tensor want = grad(loss, w).value();
    std::atomic<int> failed{0}, differ{0};
    std::vector<std::thread> threads;
    for (int k = 0; k < 4; ++k)
      threads.emplace_back([&] {
        for (int r = 0; r < 25; ++r) {
          try {
            if (max_rel_diff(grad(loss, w).value(), want) > 1e-12) ++differ;
          } catch (const std::exception& e) {
            if (++failed == 1) MESSAGE(std::string(e.what()));
          }
        }
      });
    for (std::thread& th : threads) th.join();
    CHECK(failed.load() == 0);
    CHECK(differ.load() == 0);
  }
}

TEST_CASE("parameters made on another thread get their gradients through adjoint, checkpointed and compiled paths") {
  // Node numbers are ordered within a thread only: a parameter made on a thread holding a later
  // block of numbers looked recorded after the call began, was not found as closed over, and got 0.
  { const Var warm = Var::parameter(Tensor::ones(Shape{1}, DType::f64)) * 2.0; }  // this thread takes its block first
  Var w, b;
  std::thread([&] {
    w = Var::parameter(Tensor::from_vector({-0.4, 0.9, -0.7, -0.3}, Shape{2, 2}, DType::f64));
    b = Var::parameter(Tensor::from_vector({0.1, -0.2}, Shape{2}, DType::f64));
  }).join();
  const Dynamics plain = [&](const Var& z, const Var&) { return tanh(matmul(z, w) + b) - 0.1 * z; };
  const Var y0(Tensor::from_vector({0.5, -0.3}, Shape{1, 2}, DType::f64));
  const Var t(Tensor::from_vector({0.0, 1.0}, Shape{2}, DType::f64));
  auto gradients = [&](const Dynamics& f, GradientKind kind) {
    SolveOptions o;
    o.gradient = kind;
    const auto g = grad({sum(square(solve(f, y0, t, o).ys))}, {w, b});
    return concat(std::vector<Tensor>{g[0].value().reshape(Shape{4}), g[1].value()}, 0);
  };
  const Tensor want = gradients(plain, GradientKind::discrete);
  CHECK(max(abs(want)).item() > 0.1);
  for (const GradientKind kind : {GradientKind::checkpointed, GradientKind::adjoint}) CHECK(max_rel_diff(gradients(plain, kind), want) < 1e-5);
  CHECK(max_rel_diff(gradients(compile_dynamics(plain), GradientKind::discrete), want) < 1e-12);
  CompiledFunction layer([&](const std::vector<Var>& v) { return tanh(matmul(v[0], w) + b); });
  const auto g = grad({sum(layer({y0}))}, {w, b});
  const auto e = grad({sum(tanh(matmul(y0, w) + b))}, {w, b});
  CHECK(max_rel_diff(g[0].value(), e[0].value()) < 1e-14);
  CHECK(max(abs(g[0].value())).item() > 0.01);
}
