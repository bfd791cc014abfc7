// Compiled dynamics and the rows of a batch: dynamics whose rows mix (rows_mix), NoGrad calls
// replayed over row blocks and their checks, subsets of rows, and plans dropped or remade
// (clear_compiled, compiling again with other options).
#include "../compare.hpp"
#include "plan_calls.hpp"
#include "tide/tide.hpp"
#include <doctest/doctest.h>
#include <cmath>
#include <algorithm>
#include <atomic>
#include <thread>

using namespace tide;
using test::max_rel_diff;
using test::plan_calls;

TEST_CASE("compiled dynamics whose rows mix (rows_mix): per-sample solves equal eager ones, no subset padded") {
  // a batch mean: the subsets a per-sample solve evaluates as samples finish must not be padded
  const auto mixing = [](const Var& z, const Var& t, const Rows&) { return (z - mean(z, {0}, true)) * t - 0.1 * z; };
  CompileOptions mix;
  mix.rows_mix = true;
  const Dynamics eager(mixing), compiled = compile_dynamics(Dynamics(mixing), mix);
  Generator gen(1);
  const Var y0(gen.normal(Shape{5, 2}, 0.0, 1.0, DType::f64));
  const Var times(Tensor::from_vector({0, 0.5, 0, 1.0, 0, 0.7, 0, 1.0, 0, 0.9}, Shape{5, 2}, DType::f64));
  SolveOptions o;
  o.rtol = o.atol = 1e-10;
  NoGrad off;
  for (int round = 0; round < 2; ++round) {
    const Solution se = solve(eager, y0, times, o), sc = solve(compiled, y0, times, o);
    CHECK(max_rel_diff(sc.ys.value(), se.ys.value()) <= 1e-12);
  }
  const Rows rows(Tensor::from_indices({1, 2, 4}, Shape{3}));
  const Var z = index_select(y0, 0, rows.index());
  const Var t(Tensor::full(Shape{3, 1}, 0.7, DType::f64));
  CHECK(max_rel_diff(compiled.var(z, t, rows).value(), eager.var(z, t, rows).value()) <= 1e-14);
}

TEST_CASE("compiled dynamics over row blocks: NoGrad solves of a large batch equal eager ones; rows that mix are never blocked") {
  Generator gen(12);
  const Var w1(gen.normal(Shape{3, 16}, 0.0, 0.5, DType::f64)), w2(gen.normal(Shape{16, 3}, 0.0, 0.5, DType::f64));
  const Tensor drive = gen.normal(Shape{200, 3}, 0.0, 1.0, DType::f64);
  const auto rowwise = [&](const Var& z, const Var& t, const Rows& rows) {
    return matmul(tanh(matmul(z, w1)), w2) * t + rows.gather(Var(drive)) * 0.1 - 0.2 * z;
  };
  const auto mixing = [&](const Var& z, const Var& t, const Rows&) { return (z - mean(z, {0}, true)) * t - 0.1 * z; };
  CompileOptions blocks;
  blocks.row_block = 16;  // 200 rows: 13 blocks, the last of 8
  const Var y0(gen.normal(Shape{200, 3}, 0.0, 1.0, DType::f64));
  // per-sample end times: subsets of rows (and their Rows index) are blocked too
  std::vector<double> tv;
  for (int i = 0; i < 200; ++i) tv.insert(tv.end(), {0.0, 0.5 + 0.005 * i});
  const Var per_sample(Tensor::from_vector(tv, Shape{200, 2}, DType::f64));
  SolveOptions o;
  o.rtol = o.atol = 1e-8;
  NoGrad no_grad;
  // (the mixing one by fixed rk4 steps on a shared grid, so every call has every row: without
  // rows_mix, the means of the subsets an adaptive per-sample solve evaluates would differ from
  // those of padded subsets; the test above sets it)
  const Var shared(Tensor::from_vector({0.0, 1.0}, Shape{2}, DType::f64));
  SolveOptions fixed;
  fixed.method = Method::rk4;
  fixed.unfolds = 10;
  for (const auto& [fn, name, blocked] : {std::tuple{VarDynamicsFn(rowwise), "row-wise", true}, std::tuple{VarDynamicsFn(mixing), "mixing", false}}) {
    INFO(name);
    const Var times = blocked ? per_sample : shared;
    const Dynamics eager(fn), compiled = compile_dynamics(Dynamics(fn), blocks);
    const SolveOptions& so = blocked ? o : fixed;
    const Solution se = solve(eager, y0, times, so);
    for (int round = 0; round < 2; ++round) {
      const Solution sc = solve(compiled, y0, times, so);
      CHECK(max_rel_diff(sc.ys.value(), se.ys.value()) <= 1e-12);
      CHECK(sc.stats->max_nfe() == se.stats->max_nfe());
    }
    // blocked: about 13 plan calls for each call of the function; not blocked: one
    const Dynamics whole = compile_dynamics(Dynamics(fn));
    for (int round = 0; round < 2; ++round) solve(whole, y0, times, so);
    CHECK((plan_calls(compiled_stats(compiled)) > 5 * plan_calls(compiled_stats(whole))) == blocked);
  }
  // a shared scalar time and a per-row time ([B, 1], sliced with the rows) are both served
  const Dynamics compiled = compile_dynamics(Dynamics(rowwise), blocks), eager(rowwise);
  for (const Var& t : {Var(Tensor::scalar(0.3, DType::f64)), Var(gen.uniform(Shape{200, 1}, 0.0, 1.0, DType::f64))})
    for (int round = 0; round < 10; ++round) {  // past the 8 checked calls
      const Var got = compiled.var(y0, t, Rows()), expect = eager.var(y0, t, Rows());
      CHECK(max_rel_diff(got.value(), expect.value()) <= 1e-13);
    }
  // a last block that is not a power of two (padded) with a shared scalar time: 195 = 12 * 16 + 3
  const Var y195 = slice(y0, 0, 0, 195);
  const Rows first195(Tensor::from_indices([] {
    std::vector<std::int64_t> v(195);
    for (std::int64_t i = 0; i < 195; ++i) v[static_cast<std::size_t>(i)] = i;
    return v;
  }(), Shape{195}));
  for (int round = 0; round < 10; ++round) {
    const Var t(Tensor::scalar(0.1 * (round + 1), DType::f64));
    CHECK(max_rel_diff(compiled.var(y195, t, first195).value(), eager.var(y195, t, first195).value()) <= 1e-13);
  }
  CHECK(compiled_stats(compiled).subset_rows.calls >= 2 * 13);  // every-row calls run the subset plan on blocks
}

TEST_CASE("compiled dynamics over row blocks: checked again after a closed-over tensor changes, relative to the result's size") {
  Generator gen(13);
  const Var w(gen.normal(Shape{3, 3}, 0.0, 0.5, DType::f64));
  const Var y0(gen.normal(Shape{64, 3}, 0.0, 1.0, DType::f64));
  const Var t(Tensor::scalar(0.0, DType::f64));
  CompileOptions blocks;
  blocks.row_block = 16;  // 64 rows: 4 blocks
  NoGrad off;
  SUBCASE("a mixing term gated by a tensor that starts at zero is caught when the gate moves (in place)") {
    // it passed the 8 checked calls at 0, and later calls used per-block means (8% to 65% off)
    const Var gate(Tensor::zeros(Shape{1}, DType::f64));
    const auto fn = [&](const Var& z, const Var&, const Rows&) { return tanh(matmul(z, w)) + gate * mean(z, {0}, true); };
    const Dynamics eager(fn), compiled = compile_dynamics(Dynamics(fn), blocks);
    for (int call = 0; call < 10; ++call) CHECK(max_rel_diff(compiled.var(y0, t, Rows()).value(), eager.var(y0, t, Rows()).value()) <= 1e-13);
    Tensor g = gate.value();
    g.fill_(0.8);  // an optimizer step
    for (int call = 0; call < 3; ++call) CHECK(max_rel_diff(compiled.var(y0, t, Rows()).value(), eager.var(y0, t, Rows()).value()) <= 1e-13);
  }
  SUBCASE("a row-wise function stays blocked after its parameter moves: one whole-batch check, then blocks") {
    const Var v(gen.normal(Shape{3, 3}, 0.0, 0.5, DType::f64));
    const auto fn = [&](const Var& z, const Var&, const Rows&) { return tanh(matmul(z, v)); };
    const Dynamics eager(fn), compiled = compile_dynamics(Dynamics(fn), blocks);
    for (int call = 0; call < 10; ++call) compiled.var(y0, t, Rows());
    Tensor value = v.value();
    value.mul_(0.5);
    const std::int64_t whole = compiled_stats(compiled).all_rows.calls, block = compiled_stats(compiled).subset_rows.calls;
    for (int call = 0; call < 3; ++call) CHECK(max_rel_diff(compiled.var(y0, t, Rows()).value(), eager.var(y0, t, Rows()).value()) <= 1e-13);
    CHECK(compiled_stats(compiled).all_rows.calls == whole + 1);
    CHECK(compiled_stats(compiled).subset_rows.calls == block + 3 * 4);
  }
  SUBCASE("small outputs are compared relative to their size") {
    // the tolerance was absolute below 1: a batch-centred 1e-5 * (z - mean) was blocked, 11% off
    for (const DType dt : {DType::f32, DType::f64}) {
      const double scale = dt == DType::f32 ? 1e-5 : 1e-10;
      const auto fn = [scale](const Var& z, const Var&, const Rows&) { return (z - mean(z, {0}, true)) * scale; };
      const Dynamics eager(fn), compiled = compile_dynamics(Dynamics(fn), blocks);
      const Var z(y0.value().to(dt));
      const Var tz(Tensor::scalar(0.0, dt));
      for (int call = 0; call < 10; ++call) {
        const Tensor got = compiled.var(z, tz, Rows()).value(), expect = eager.var(z, tz, Rows()).value();
        CHECK(max(abs(sub(got, expect))).item() <= 1e-5 * max(abs(expect)).item());  // (max_rel_diff is absolute below 1)
      }
    }
  }
  SUBCASE("a checked call returns what an unchecked one does (the blocks' result): calls are deterministic") {
    // a short last block rounds differently from the whole batch in the last bits; whether a call
    // was checked (a resumed process checks its first calls again) must not show in its value
    const auto fn = [&](const Var& z, const Var&, const Rows&) { return tanh(matmul(z, w)) - 0.1 * z; };
    const Dynamics compiled = compile_dynamics(Dynamics(fn), blocks);
    const Tensor first = compiled.var(y0, t, Rows()).value();
    for (int call = 1; call < 12; ++call) CHECK(max_rel_diff(compiled.var(y0, t, Rows()).value(), first) == 0.0);
  }
}

TEST_CASE("clear_compiled: after a closed-over tensor is replaced, solves trace again and equal eager ones, variants included") {
  // the plans read the replaced tensor: stale values (65% off) and gradients to the old parameter
  Generator gen(14);
  Var w = Var::parameter(gen.normal(Shape{3, 3}, 0.0, 0.5, DType::f64));
  const VarDynamicsFn fn = [&](const Var& z, const Var&, const Rows&) { return tanh(matmul(z, w)) - 0.1 * z; };
  const Dynamics eager(fn), compiled = compile_dynamics(Dynamics(fn));
  const Var y0 = Var::parameter(gen.normal(Shape{4, 3}, 0.0, 1.0, DType::f64));
  const Var times(Tensor::from_vector({0.0, 1.0}, Shape{2}, DType::f64));
  const auto check_solves = [&] {
    for (const GradientKind kind : {GradientKind::discrete, GradientKind::adjoint}) {
      SolveOptions o;
      o.gradient = kind;
      const Solution se = solve(eager, y0, times, o), sc = solve(compiled, y0, times, o);
      CHECK(max_rel_diff(sc.ys.value(), se.ys.value()) <= 1e-12);
      const auto ge = grad({sum(square(se.ys))}, {y0, w}), gc = grad({sum(square(sc.ys))}, {y0, w});
      for (std::size_t i = 0; i < ge.size(); ++i) CHECK(max_rel_diff(gc[i].value(), ge[i].value()) <= 1e-9);
    }
    NoGrad off;
    CHECK(max_rel_diff(solve(compiled, y0, times).ys.value(), solve(eager, y0, times).ys.value()) <= 1e-12);
  };
  check_solves();
  const std::size_t variants = compiled_stats(compiled).variants.size();
  w = Var::parameter(gen.normal(Shape{3, 3}, 0.0, 0.5, DType::f64));  // replaced, not updated in place
  clear_compiled(compiled);
  check_solves();
  const CompiledDynamicsStats st = compiled_stats(compiled);
  CHECK(st.variants.size() == variants);
  for (const CompiledVariantStats& v : st.variants) CHECK(v.all_rows.traces + v.subset_rows.traces >= 2);  // traced again
  clear_compiled(eager);  // not compiled: nothing to do
}

TEST_CASE("a compiled call whose closed-over parameter changed before its backward names clearing as the other cause") {
  const Var w = Var::parameter(Tensor::from_vector({-0.5, 0.2, 0.1, -0.3}, Shape{2, 2}, DType::f64));
  const Dynamics f = compile_dynamics([&](const Var& z, const Var&) { return tanh(matmul(z, w)); });
  const Var z = Var::parameter(Tensor::ones(Shape{2, 2}, DType::f64));
  const Var y = f.var(z, Var(Tensor::scalar(0.0, DType::f64)), Rows());  // its backward reads w for z's gradient
  Tensor value = w.value();
  value.mul_(1.5);
  CHECK_THROWS_WITH_AS(grad(sum(y), z), doctest::Contains("clear_compiled(f)"), Error);
}

TEST_CASE("compile_dynamics of a compiled dynamics with other options compiles it afresh with them") {
  // the new options (rows_mix here) were dropped: padded subsets of a mixing function, 7% off
  const auto mixing = [](const Var& z, const Var& t, const Rows&) { return (z - mean(z, {0}, true)) * t - 0.1 * z; };
  CompileOptions mix;
  mix.rows_mix = true;
  const Dynamics eager(mixing), once = compile_dynamics(Dynamics(mixing)), twice = compile_dynamics(once, mix);
  CHECK(is_compiled(twice));
  Generator gen(1);
  const Var y0(gen.normal(Shape{5, 2}, 0.0, 1.0, DType::f64));
  const Var times(Tensor::from_vector({0, 0.5, 0, 1.0, 0, 0.7, 0, 1.0, 0, 0.9}, Shape{5, 2}, DType::f64));
  SolveOptions o;
  o.rtol = o.atol = 1e-10;
  NoGrad off;
  CHECK(max_rel_diff(solve(twice, y0, times, o).ys.value(), solve(eager, y0, times, o).ys.value()) <= 1e-12);
  CHECK(compiled_stats(once).all_rows.calls == 0);  // the plans are twice's own
}

TEST_CASE("compiled dynamics on a subset of rows with a time broadcast over them ([1, 1], [1]) equal eager") {
  // the padding of the subset to a power of two took the time for one row per row: out of range
  const Var w(Tensor::from_vector({-0.5, 0.2, 0.1, -0.3, 0.4, 0.0, 0.3, 0.1, -0.2}, Shape{3, 3}, DType::f64));
  const auto fn = [&](const Var& z, const Var& t, const Rows&) { return tanh(matmul(z, w)) * t; };
  const Dynamics eager(fn), compiled = compile_dynamics(Dynamics(fn));
  const Var z(Tensor::from_vector({1.0, 2.0, 3.0, -1.0, 0.5, 0.0, 0.2, -0.4, 0.9}, Shape{3, 3}, DType::f64));
  const Rows rows(Tensor::from_indices({0, 2, 5}, Shape{3}));
  NoGrad off;
  for (const Shape& shape : {Shape{1, 1}, Shape{1}, Shape{3, 1}}) {
    CAPTURE(shape.str());
    const Var t(Tensor::full(shape, 0.5, DType::f64));
    CHECK(max_rel_diff(compiled.var(z, t, rows).value(), eager.var(z, t, rows).value()) <= 1e-14);
  }
}

TEST_CASE("compiled dynamics over row blocks: checked again at calls 16, 32, 64, ..., so a coupling growing with t is caught") {
  // z' = -0.5 z + t^10 (mean_batch(z) - z): all 8 checked calls fell in the first step, where t^10
  // is below the tolerance, and the rest of the solve used per-block means (2,000x off)
  const auto growing = [](const Var& z, const Var& t) { return -0.5 * z + pow(t, 10.0) * (mean(z, {0}, true) - z); };
  const std::int64_t B = 64, D = 130;  // 8,320 elements: evaluated stage by stage, not as a compiled step
  std::vector<double> v(static_cast<std::size_t>(B * D));
  for (std::int64_t i = 0; i < B * D; ++i) v[static_cast<std::size_t>(i)] = -1.5 + 3.0 * static_cast<double>(i / D) / (B - 1);
  const Var y0(Tensor::from_vector(v, Shape{B, D}, DType::f64));  // sorted rows: each block's mean differs
  const Var times(Tensor::from_vector({0.0, 1.5}, Shape{2}, DType::f64));
  CompileOptions blocks;
  blocks.row_block = 8;
  NoGrad off;
  SUBCASE("the solve equals eager (and the closed form)") {
    const Dynamics eager(growing), compiled = compile_dynamics(Dynamics(growing), blocks);
    SolveOptions o;
    o.per_sample = false;  // one shared step: the form for dynamics whose rows mix
    const Tensor want = solve(eager, y0, times, o).ys.value().select(0, 1);
    CHECK(want.select(0, 0).select(0, 0).item() == doctest::Approx(-1.5 * std::exp(-0.75 - std::pow(1.5, 11.0) / 11.0)).epsilon(1e-4));
    const Tensor got = solve(compiled, y0, times, o).ys.value().select(0, 1);
    CHECK(max(abs(sub(got, want))).item() <= 1e-7 * max(abs(want)).item());
    // the mechanism, not only its effect (which rests on where calls 16, 32, ... fall in this
    // solve): the solve ran blocked, a check caught the coupling, and blocking is off for good, so
    // more calls on the same Dynamics run the whole batch (all_rows), none a block (subset_rows),
    // even at a t where the coupling is below any check's tolerance
    const CompiledDynamicsStats solved = compiled_stats(compiled);
    CHECK(solved.subset_rows.calls > 0);
    const Var early(Tensor::scalar(0.1, DType::f64));
    const Tensor want_early = eager.var(y0, early, Rows()).value();
    double worst = 0;
    for (int call = 0; call < 40; ++call) worst = std::max(worst, max_rel_diff(compiled.var(y0, early, Rows()).value(), want_early));
    CHECK(worst <= 1e-14);
    const CompiledDynamicsStats later = compiled_stats(compiled);
    CHECK(later.all_rows.calls == solved.all_rows.calls + 40);
    CHECK(later.subset_rows.calls == solved.subset_rows.calls);
  }
  SUBCASE("a row-wise function stays blocked, checked at calls 1..8, 16, 32 and 64 of 100") {
    const auto rowwise = [](const Var& z, const Var& t) { return -0.5 * z + t * tanh(z); };
    const Dynamics plain(rowwise), blocked = compile_dynamics(Dynamics(rowwise), blocks);
    const Var t(Tensor::scalar(0.3, DType::f64));
    for (int call = 0; call < 100; ++call) CHECK(max_rel_diff(blocked.var(y0, t, Rows()).value(), plain.var(y0, t, Rows()).value()) <= 1e-14);
    CHECK(compiled_stats(blocked).all_rows.calls == 8 + 3);
    CHECK(compiled_stats(blocked).subset_rows.calls == 100 * (B / 8));
  }
}

TEST_CASE("one compiled dynamics called from several threads with different batch sizes equals eager (row blocks)") {
  // the every-row index was one tensor handle reassigned per batch size while another thread
  // copied it (a use-after-free, SIGSEGV), and the probation count was read and written unlocked
  Generator gen(21);
  const Var w(gen.normal(Shape{2, 2}, 0.0, 0.5, DType::f64));
  const auto fn = [&](const Var& z, const Var&, const Rows&) { return tanh(matmul(z, w)); };
  CompileOptions blocks;
  blocks.row_block = 2;  // 6, 7 and 9 rows: all blocked (B / 2 > 2), each with its own every-row index
  const Dynamics eager(fn), compiled = compile_dynamics(Dynamics(fn), blocks);
  std::atomic<int> wrong{0}, failed{0};
  const auto worker = [&](std::int64_t B) {
    NoGrad off;
    Generator g(static_cast<std::uint64_t>(B));
    const Var z(g.normal(Shape{B, 2}, 0.0, 1.0, DType::f64)), t(Tensor::scalar(0.0, DType::f64));
    const Tensor want = eager.var(z, t, Rows()).value();
    for (int i = 0; i < 20000; ++i) {
      try {
        const Tensor got = compiled.var(z, t, Rows()).value();
        if (max(abs(sub(got, want))).item() > 1e-12) ++wrong;
      } catch (const std::exception&) {
        ++failed;
      }
    }
  };
  std::vector<std::thread> threads;
  for (const std::int64_t B : {6, 7, 9}) threads.emplace_back(worker, B);
  for (std::thread& th : threads) th.join();
  CHECK(wrong.load() == 0);
  CHECK(failed.load() == 0);
  CHECK(compiled_stats(compiled).subset_rows.calls > 0);  // blocks were used
}

// On compiled dynamics an explicit step runs as one compiled function of the packed state and first
// stage (the "step <method>" variant) or of the state alone ("step <method> from y", making k1):
// every explicit method, fixed and adaptive, with outputs
// inside steps (dense output reads every stage), per-sample grids and the discrete gradient, equals
// the stage-by-stage step of the plain dynamics; NFE is counted alike.
