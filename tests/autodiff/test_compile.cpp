// Compiled functions (compile.hpp) against the eager ones: values and gradients on every case of
// the all-ops harness, replay on new values and new shapes, double backward, closed-over parameters.
#include "../compare.hpp"
#include "../forwarding_backend.hpp"
#include "compile_check.hpp"
#include <doctest/doctest.h>
#include <cmath>
#include <functional>
#include <optional>

using namespace tide;
using test::max_rel_diff;
using namespace tide::testing;

TEST_CASE("compiled functions equal the eager ones in values and gradients on every case of the all-ops harness") {
  for (const OpCase& c : op_cases()) check_compiled_case(c, Device::cpu(), 1e-13);
  for (const OpCase& c : composite_cases()) check_compiled_case(c, Device::cpu(), 1e-13);
}

TEST_CASE("compiled functions on a non-CPU device (a forwarding 'cuda' backend with the default fused kernels) equal the eager ones") {
  // The plans' device-neutral path: arena, bound inputs and the default Backend::elementwise that
  // runs a fused chain step by step (the real GPU: tests/cuda/test_cuda_compile.cpp).
  test::ForwardingDevice dev(false);
  for (const OpCase& c : op_cases()) check_compiled_case(c, Device::cuda(), 1e-13);
  for (const OpCase& c : composite_cases()) check_compiled_case(c, Device::cuda(), 1e-13);
  CHECK(dev.backend.kernel_calls > 0);
}

TEST_CASE("a compiled function closes over parameters, traces once per signature, and double backward falls back to eager") {
  Generator gen(3);
  const Var w = Var::parameter(gen.normal(Shape{4, 4}, 0.0, 0.5, DType::f64));
  const Var b = Var::parameter(gen.normal(Shape{4}, 0.0, 0.5, DType::f64));
  auto f = [&](const std::vector<Var>& in) { return tanh(matmul(in[0], w) + b) * in[0]; };
  const CompiledFunction cf(f);
  for (std::int64_t batch : {3, 5, 3}) {  // a new batch size is a new signature; the first is kept
    const Var x = Var::parameter(gen.normal(Shape{batch, 4}, 0.0, 1.0, DType::f64));
    const Var ye = sum(square(f({x}))), yc = sum(square(cf({x})));
    CHECK(std::fabs(ye.item() - yc.item()) <= 1e-13 * (1 + std::fabs(ye.item())));
    const auto ge = grad({ye}, {x, w, b}), gc = grad({yc}, {x, w, b});
    for (std::size_t i = 0; i < 3; ++i) CHECK(max_rel_diff(gc[i].value(), ge[i].value()) <= 1e-13);
  }
  CHECK(cf.stats().traces == 2);
  CHECK(cf.stats().backward_calls == 3);

  // d/dw of |d y / dx|^2: the compiled node's backward is re-run eagerly with recording
  const Var x = Var::parameter(gen.normal(Shape{3, 4}, 0.0, 1.0, DType::f64));
  GradOptions create;
  create.create_graph = true;
  const Var dxe = grad({sum(f({x}))}, {x}, {}, create)[0];
  const Var dxc = grad({sum(cf({x}))}, {x}, {}, create)[0];
  CHECK(max_rel_diff(dxc.value(), dxe.value()) <= 1e-13);
  const Var hw_e = grad(sum(square(dxe)), w), hw_c = grad(sum(square(dxc)), w);
  CHECK(max_rel_diff(hw_c.value(), hw_e.value()) <= 1e-12);
  CHECK(cf.stats().eager_backward == 1);

  // parameters updated in place are seen; without grad mode the call records nothing
  {
    NoGrad off;
    Tensor wv = w.value();
    wv.mul_(0.5);
    const Var x2(gen.normal(Shape{3, 4}, 0.0, 1.0, DType::f64));
    CHECK(max_rel_diff(cf({x2}).value(), f({x2}).value()) <= 1e-13);
    CHECK_FALSE(cf({x2}).requires_grad());
  }
}

TEST_CASE("max_plans drops the least recently used signature: one served on every call is not traced again") {
  // (the oldest was dropped: a batch size used on every call was retraced once per max_plans new ones)
  const Var w = Var::parameter(Tensor::ones(Shape{2, 2}, DType::f64));
  CompileOptions options;
  options.max_plans = 4;
  const CompiledFunction cf([&](const std::vector<Var>& in) { return matmul(in[0], w); }, options);
  NoGrad off;
  for (std::int64_t other = 1; other <= 20; ++other) {
    cf({Var(Tensor::ones(Shape{64, 2}, DType::f64))});
    cf({Var(Tensor::ones(Shape{100 + other, 2}, DType::f64))});
  }
  CHECK(cf.stats().traces == 21);  // 64 once, and each of the 20 others
  cf({Var(Tensor::ones(Shape{101, 2}, DType::f64))});  // long dropped: traced again
  CHECK(cf.stats().traces == 22);
  options.max_plans = 0;  // (was kept as 1)
  CHECK_THROWS_WITH_AS(CompiledFunction([&](const std::vector<Var>& in) { return in[0]; }, options),
                       doctest::Contains("max_plans must be >= 1"), Error);
}

TEST_CASE("a compiled function called inside another being traced runs eagerly there, so the outer plan replays it") {
  Generator gen(4);
  const Var w = Var::parameter(gen.normal(Shape{3, 3}, 0.0, 0.5, DType::f64));
  const auto inner_fn = [&](const std::vector<Var>& in) { return tanh(matmul(in[0], w)); };
  const CompiledFunction inner(inner_fn);
  const auto outer_fn = [&](const std::vector<Var>& in) { return inner({in[0] * 2.0}) + in[0]; };
  const auto eager_fn = [&](const std::vector<Var>& in) { return inner_fn({in[0] * 2.0}) + in[0]; };
  const CompiledFunction outer(outer_fn);
  for (bool gradients : {false, true}) {
    const Var warm(gen.normal(Shape{2, 3}, 0.0, 1.0, DType::f64));
    {
      NoGrad off;
      inner({warm});  // the inner function has a plan for this signature before the outer traces
    }
    for (int call = 0; call < 3; ++call) {  // the first traces, the others replay on new values
      INFO("gradients " << gradients << ", call " << call);
      const Var x = gradients ? Var::parameter(gen.normal(Shape{2, 3}, 0.0, 1.0, DType::f64)) : Var(gen.normal(Shape{2, 3}, 0.0, 1.0, DType::f64));
      std::optional<NoGrad> off;
      if (!gradients) off.emplace();
      const Var yc = outer({x}), ye = eager_fn({x});
      CHECK(max_rel_diff(yc.value(), ye.value()) <= 1e-14);
      if (gradients) {
        const auto gc = grad({sum(square(yc))}, {x, w}), ge = grad({sum(square(ye))}, {x, w});
        for (std::size_t i = 0; i < 2; ++i) CHECK(max_rel_diff(gc[i].value(), ge[i].value()) <= 1e-13);
      }
    }
  }
  CHECK(outer.stats().traces == 2);
  CHECK(outer.stats().calls == 6);
}

TEST_CASE("a compiled function refuses what it cannot trace, naming the reason") {
  const CompiledFunction reads([](const std::vector<Var>& in) { return in[0].item() > 0 ? in[0] : -in[0]; });
  CHECK_THROWS_WITH_AS(reads({Var(Tensor::ones(Shape{1}, DType::f64))}), doctest::Contains("back to the host"), Error);
  CHECK_THROWS_WITH_AS(compile(VarFunction()), doctest::Contains("no function"), Error);
  // A write into a tensor it closes over: tracing runs the function two or three times, so the
  // first call counted 2 or 3 where eager counts 1 (bug hunt); refused, in either grad mode, before
  // the write (the refused calls counted 2, then 3: bug hunt).
  Tensor counter = Tensor::zeros(Shape{1}, DType::f64);
  const CompiledFunction counts([&](const std::vector<Var>& in) {
    Tensor c = counter;
    c.add_(Tensor::ones(Shape{1}, DType::f64));
    return in[0] * Var(counter);
  });
  CHECK_THROWS_WITH_AS(counts({Var::parameter(Tensor::ones(Shape{2}, DType::f64))}),
                       doctest::Contains("writes in place (binary op) into a tensor it closes over (f64[1])"), Error);
  CHECK(counter.item() == 0.0);
  NoGrad off;
  CHECK_THROWS_WITH_AS(counts({Var(Tensor::ones(Shape{2}, DType::f64))}), doctest::Contains("tensor it closes over"), Error);
  CHECK(counter.item() == 0.0);
  // a parameter on another device moved inside: the plan replayed its traced value (bug hunt)
  test::ForwardingDevice dev(true);
  const Var w_device = Var::parameter(Tensor::full(Shape{2}, 2.0, DType::f64).to(Device::cuda()));
  const CompiledFunction moves([&](const std::vector<Var>& in) { return in[0] * Var(w_device.value().to(Device::cpu())); });
  CHECK_THROWS_WITH_AS(moves({Var(Tensor::ones(Shape{2}, DType::f64))}), doctest::Contains("a device transfer cannot be traced"),
                       UntraceableError);
}

TEST_CASE("a compiled function that calls grad() itself (energy-based dynamics) equals the eager one in grad mode") {
  // the probe for the output's shape ran it under NoGrad, where its grad() found nothing recorded (bug hunt)
  Generator gen(3);
  const Var w = Var::parameter(gen.normal(Shape{4, 4}, 0.0, 0.5, DType::f64));
  const VarFunction force = [&](const std::vector<Var>& in) {
    GradOptions opt;
    opt.create_graph = true;
    return grad({sum(tanh(matmul(in[0], w)))}, {in[0]}, {}, opt)[0];
  };
  const CompiledFunction compiled(force);
  for (int round = 0; round < 2; ++round) {
    const Var x = Var::parameter(gen.normal(Shape{3, 4}, 0.0, 1.0, DType::f64));
    const Var want = force({x}), got = compiled({x});
    CHECK(max_rel_diff(got.value(), want.value()) == 0.0);
    const std::vector<Var> gw = grad({sum(square(want))}, {x, w}), gg = grad({sum(square(got))}, {x, w});
    CHECK(max_rel_diff(gg[0].value(), gw[0].value()) <= 1e-13);
    CHECK(max_rel_diff(gg[1].value(), gw[1].value()) <= 1e-13);
  }
  CHECK(compiled.stats().traces == 1);
}

TEST_CASE("a compiled call whose traced backward fails says it came from the trace and what to do") {
  // the traced backward covers every closed-over parameter, where the eager forward and a grad()
  // of x alone never read c, modified in place after c * w saved it (bug hunt: the error named no cause)
  Generator gen(3);
  const Var w = Var::parameter(gen.normal(Shape{4}, 0.0, 1.0, DType::f64));
  const CompiledFunction modifies([&](const std::vector<Var>& in) {
    const Var c = in[1] * 2.0;
    const Var y = in[0] * 3.0 + c * w;
    Tensor cv = c.value();
    cv.add_(Tensor::ones(cv.shape(), DType::f64));
    return y;
  });
  const Var x = Var::parameter(gen.normal(Shape{3, 4}, 0.0, 1.0, DType::f64)), z(gen.normal(Shape{3, 4}, 0.0, 1.0, DType::f64));
  CHECK_THROWS_WITH_AS(modifies({x, z}), doctest::Contains("traces its backward with its forward"), Error);
  CHECK_THROWS_WITH_AS(modifies({x, z}), doctest::Contains("modified in place"), Error);
  NoGrad off;
  CHECK(modifies({x, z}).shape() == Shape{3, 4});
}

TEST_CASE("a compiled function without inputs runs in grad mode and under NoGrad") {
  // under NoGrad it threw "a traced function needs at least one input tensor" (bug hunt)
  const Var w = Var::parameter(Tensor::from_vector({0.5, -1.0}, Shape{2}, DType::f64));
  const CompiledFunction constant([&](const std::vector<Var>&) { return tanh(w); });
  const Var y = constant({});
  CHECK(max_rel_diff(grad(sum(y), w).value(), (1.0 - square(tanh(w))).value()) <= 1e-15);
  NoGrad off;
  CHECK(max_rel_diff(constant({}).value(), tanh(w).value()) == 0.0);
  CHECK(constant.stats().traces == 2);
}

TEST_CASE("a value the function makes on the host and returns is a fresh tensor per call, as eagerly") {
  // it was a view of the one tensor made at the trace: a write into one call's result showed in the next (bug hunt)
  const CompiledFunction made([](const std::vector<Var>&) { return Var(Tensor::from_vector({1, 2, 3}, Shape{3}, DType::f64)); });
  const Var x(Tensor::ones(Shape{2}, DType::f64));
  Tensor first = made({x}).value();
  first.mul_(0.0);
  const Tensor second = made({x}).value();
  CHECK(second.to_vector() == std::vector<double>{1, 2, 3});
  CHECK(!second.shares_storage_with(first));
  // a parameter returned as it is stays a view of the parameter, as eagerly
  const Var w = Var::parameter(Tensor::ones(Shape{2}, DType::f64));
  const CompiledFunction returns_w([&](const std::vector<Var>&) { return w; });
  CHECK(returns_w({x}).value().shares_storage_with(w.value()));
}

TEST_CASE("a compiled function's backward refuses a value it kept that was modified in place since, as eager's rules do") {
  // the forward plan hands back the caller's own tensors as residuals where it can: x for the
  // weight's gradient, the weight for x's, exp's output for its own derivative
  Generator gen(3);
  const Var w = Var::parameter(gen.normal(Shape{3, 3}, 0.0, 0.5, DType::f64));
  const CompiledFunction product([&](const std::vector<Var>& in) { return matmul(in[0], w); });
  const CompiledFunction expf([](const std::vector<Var>& in) { return exp(in[0]); });
  const CompiledFunction scaled([](const std::vector<Var>& in) { return tanh(in[0]) * 2.0; });
  for (bool grad_graph : {false, true}) {
    CAPTURE(grad_graph);
    GradOptions opt;
    opt.create_graph = grad_graph;
    const Var x = Var::parameter(gen.normal(Shape{2, 3}, 0.0, 1.0, DType::f64));
    const Var l1 = sum(product({x}));
    Tensor wv = w.value();
    wv.mul_(3.0);  // an optimizer step before the backward
    CHECK_THROWS_WITH_AS(grad({l1}, {x}, {}, opt), doctest::Contains("modified in place"), Error);
    const Var x2 = Var::parameter(gen.normal(Shape{2, 3}, 0.0, 1.0, DType::f64));
    const Var l2 = sum(product({x2}));
    Tensor xv = x2.value();
    xv.add_(Tensor::ones(Shape{2, 3}, DType::f64));
    CHECK_THROWS_WITH_AS(grad({l2}, {w}, {}, opt), doctest::Contains("input"), Error);
    const Var y = expf({x});
    const Var l3 = sum(y);
    Tensor yv = y.value();
    yv.mul_(5.0);
    CHECK_THROWS_WITH_AS(grad({l3}, {x}, {}, opt), doctest::Contains("output"), Error);
    // an output its backward does not read may change: tanh's derivative was kept in a buffer of its own
    const Var z = scaled({x});
    const Var l4 = sum(z);
    const Tensor want = grad(std::vector<Var>{sum(tanh(x) * 2.0)}, std::vector<Var>{x})[0].value();
    Tensor zv = z.value();
    zv.mul_(7.0);
    CHECK(max_rel_diff(grad({l4}, {x}, {}, opt)[0].value(), want) <= 1e-14);
  }
  // a parameter only the forward reads (exp's backward reads its output): the plan's backward is
  // right after it changes, but the create_graph path, which runs the function again, refuses
  const Var b = Var::parameter(gen.normal(Shape{2, 3}, 0.0, 0.5, DType::f64));
  const CompiledFunction shifted([&](const std::vector<Var>& in) { return exp(in[0] + b); });
  const Var x = Var::parameter(gen.normal(Shape{2, 3}, 0.0, 1.0, DType::f64));
  for (bool grad_graph : {false, true}) {
    CAPTURE(grad_graph);
    GradOptions opt;
    opt.create_graph = grad_graph;
    const Var y = shifted({x});
    const Tensor want = y.value().clone();  // d sum(exp(x + b)) / dx at the call's b
    Tensor bv = b.value();
    bv.add_(Tensor::ones(Shape{2, 3}, DType::f64));
    if (grad_graph) CHECK_THROWS_WITH_AS(grad({sum(y)}, {x}, {}, opt), doctest::Contains("closed-over value"), Error);
    else CHECK(max_rel_diff(grad({sum(y)}, {x}, {}, opt)[0].value(), want) <= 1e-14);
  }
}

TEST_CASE("a compiled function that writes into its input is refused at its trace, naming the input and the call") {
  // eagerly the caller's tensor, and another input sharing its storage, see the write; a replay
  // could only write a copy (the same tensor passed twice gave [1, 2] compiled, [10, 20] eagerly)
  const CompiledFunction writes([](const std::vector<Var>& in) {
    Tensor x = in[0].value();
    x.mul_(10.0);  // into the value, outside the tape
    return in[1] + 0.0;
  });
  const CompiledFunction copies([](const std::vector<Var>& in) {
    Tensor x = in[0].value().clone();
    x.mul_(10.0);  // into its own copy: traceable
    return in[1] + Var(x);
  });
  for (const bool grad_mode : {true, false}) {
    CAPTURE(grad_mode);
    std::optional<NoGrad> off;
    if (!grad_mode) off.emplace();
    const Tensor start = Tensor::from_vector({1.0, 2.0}, Shape{1, 2}, DType::f64);
    const Var x = grad_mode ? Var::parameter(start.clone()) : Var(start.clone());
    for (int call = 0; call < 2; ++call) {  // refused again: nothing of the failed trace is kept
      CAPTURE(call);
      CHECK_THROWS_WITH_AS(writes({x, x}), doctest::Contains("writes in place into its input 0 (f64[1, 2], by a unary mul_scalar call)"), Error);
      CHECK(x.value().to_vector() == start.to_vector());
    }
    CHECK(copies({x, x}).value().to_vector() == std::vector<double>{11.0, 22.0});
  }
  CHECK(writes.stats().traces == 0);
}

TEST_CASE("an output that is a view of a non-contiguous input is a view of the caller's tensor, as eagerly") {
  // (it was a view of the run's contiguous copy of the input: a later write into either was not seen
  // by the other). Eagerly a reshape of a non-contiguous tensor copies, and so do select and unsqueeze
  // (composed from reshape); compiled, each is a view where one can be taken on the caller's layout.
  struct Case {
    const char* name;
    std::function<Var(const Var&)> view;
    bool aliases;
  };
  const std::vector<Case> cases = {{"identity", [](const Var& x) { return x; }, true},
                                   {"slice", [](const Var& x) { return slice(x, 1, 0, 2); }, true},
                                   {"slice step 2", [](const Var& x) { return slice(x, 1, 0, 3, 2); }, true},
                                   {"transpose", [](const Var& x) { return transpose(x, 0, 1); }, true},
                                   {"select (eagerly a copy)", [](const Var& x) { return select(x, 0, 1); }, true},
                                   {"unsqueeze (eagerly a copy)", [](const Var& x) { return unsqueeze(slice(x, 0, 1, 2), 0); }, true},
                                   {"reshape merging axes (a copy)", [](const Var& x) { return reshape(x, Shape{6}); }, false}};
  for (const Case& c : cases) {
    for (const bool grad_mode : {false, true}) {
      const std::string name = c.name;
      CAPTURE(name);
      CAPTURE(grad_mode);
      std::optional<NoGrad> off;
      if (!grad_mode) off.emplace();
      const CompiledFunction cf([&c](const std::vector<Var>& in) { return c.view(in[0]); });
      for (int call = 0; call < 2; ++call) {  // the trace, then a replay
        CAPTURE(call);
        const Tensor base = Tensor::from_vector({1, 2, 3, 4, 5, 6}, Shape{3, 2}, DType::f64);
        // [2, 3] with strides [1, 2]; in grad mode one that requires a gradient (the plan split)
        const Var x = grad_mode ? transpose(Var::parameter(base), 0, 1) : Var(base.transpose(0, 1));
        const Var y = cf({x});
        const std::vector<double> want = c.view(x).value().to_vector();
        CHECK(y.value().to_vector() == want);
        CHECK(y.value().shares_storage_with(x.value()) == c.aliases);
        Tensor(x.value()).fill_(7.0);  // the caller writes its tensor: a view of it sees the write
        CHECK(y.value().to_vector() == (c.aliases ? std::vector<double>(want.size(), 7.0) : want));
      }
    }
  }
}

TEST_CASE("a compiled function's backward can run twice on one output: slices of a gradient added in place start afresh each run") {
  // grad's sweep adds a slice's gradient into zeros it made before the cotangent arrived, which the
  // trace's split hands to the backward plan as a residual; each run must start from those zeros
  Generator gen(4);
  const Var w = Var::parameter(gen.normal(Shape{3, 8}, 0.0, 0.5, DType::f64));
  auto f = [&](const std::vector<Var>& in) {
    const Var g = matmul(in[0], w);
    const std::vector<Var> parts = split(g, {2, 2, 2, 2}, 1);
    return concat({tanh(parts[0]) * sigmoid(parts[1]), parts[2] * parts[3]}, 1);
  };
  const CompiledFunction cf(f);
  const Var x = Var::parameter(gen.normal(Shape{5, 3}, 0.0, 1.0, DType::f64));
  const Var ye = f({x}), yc = cf({x});
  const Var seed(gen.normal(Shape{5, 4}, 0.0, 1.0, DType::f64));
  const auto ge = grad({ye}, {x, w}, {seed});
  for (int run = 0; run < 3; ++run) {
    CAPTURE(run);
    const auto gc = grad({yc}, {x, w}, {seed});
    for (std::size_t i = 0; i < 2; ++i) CHECK(max_rel_diff(gc[i].value(), ge[i].value()) <= 1e-13);
  }
}

TEST_CASE("a compiled step repeated over a sequence adds its parameters' gradients into the sweep's sums, equal to the eager gradients") {
  Generator gen(5);
  const Var w = Var::parameter(gen.normal(Shape{4, 4}, 0.0, 0.5, DType::f64));
  const Var u = Var::parameter(gen.normal(Shape{3, 4}, 0.0, 0.5, DType::f64));
  const Var b = Var::parameter(gen.normal(Shape{4}, 0.0, 0.5, DType::f64));
  const Var h0 = Var::parameter(gen.normal(Shape{5, 4}, 0.0, 1.0, DType::f64));
  std::vector<Var> xs;
  for (int t = 0; t < 6; ++t) xs.emplace_back(gen.normal(Shape{5, 3}, 0.0, 1.0, DType::f64));
  auto step = [&](const std::vector<Var>& in) { return tanh(matmul(in[1], w) + matmul(in[0], u) + b); };
  const CompiledFunction cf(step);
  auto loss = [&](const VarFunction& f) {
    Var h = h0, total = sum(w) * 0.25;  // w is used outside the step too
    for (const Var& x : xs) {
      h = f({x, h});
      total = total + sum(square(h));
    }
    return total;
  };
  const std::vector<Var> wrt{w, u, b, h0};
  const auto ge = grad({loss(step)}, wrt);
  const auto gc = grad({loss(cf)}, wrt);
  for (std::size_t i = 0; i < wrt.size(); ++i) CHECK(max_rel_diff(gc[i].value(), ge[i].value()) <= 1e-13);
  CHECK(cf.stats().backward_calls == 6);
  CHECK(cf.stats().adding_backward == 6);  // the first step swept adds into zeros the sweep made

  // backward() sums into the leaves' gradients across passes as before
  for (Var p : wrt) p.zero_grad();
  backward(loss(cf));
  backward(loss(cf));
  for (std::size_t i = 0; i < wrt.size(); ++i) CHECK(max_rel_diff(wrt[i].grad(), ge[i].value() * 2.0) <= 1e-13);
  CHECK(cf.stats().adding_backward == 18);

  // without the parameters among what is wanted, and under create_graph, the plain backward plan runs
  const Var gh = grad(loss(cf), h0);
  CHECK(max_rel_diff(gh.value(), ge[3].value()) <= 1e-13);
  GradOptions create;
  create.create_graph = true;
  const auto gg = grad({loss(cf)}, {w}, {}, create);
  CHECK(max_rel_diff(gg[0].value(), ge[0].value()) <= 1e-13);
  CHECK(cf.stats().adding_backward == 18);
  // each step's eager re-run is differentiated alone: not again through its state's history
  const auto ge2 = grad({sum(square(grad({loss(step)}, {w}, {}, create)[0]))}, {w, h0});
  const auto gc2 = grad({sum(square(gg[0]))}, {w, h0});
  for (std::size_t i = 0; i < 2; ++i) CHECK(max_rel_diff(gc2[i].value(), ge2[i].value()) <= 1e-12);
}

TEST_CASE("a compiled function's gradients take each path once: a parameter computed from another, an input passed twice") {
  Generator gen(6);
  const Var w = Var::parameter(gen.normal(Shape{3, 3}, 0.0, 0.5, DType::f64));
  const Var w2 = w * 2.0;  // closed over beside w: its own gradient flows on to w through the tape
  const Var x = Var::parameter(gen.normal(Shape{4, 3}, 0.0, 1.0, DType::f64));
  auto f = [&](const std::vector<Var>& in) { return tanh(matmul(in[0], w) + matmul(in[1], w2)) * sin(in[1]); };
  const CompiledFunction cf(f);
  GradOptions create;
  create.create_graph = true;
  for (const bool twice : {false, true}) {
    CAPTURE(twice);
    const Var y = twice ? x : Var(gen.normal(Shape{4, 3}, 0.0, 1.0, DType::f64));
    const auto ge = grad({sum(square(f({x, y})))}, {w, x});
    const auto gc = grad({sum(square(cf({x, y})))}, {w, x});
    const auto gg = grad({sum(square(cf({x, y})))}, {w, x}, {}, create);  // the eager re-run
    for (std::size_t i = 0; i < 2; ++i) {
      CHECK(max_rel_diff(gc[i].value(), ge[i].value()) <= 1e-13);
      CHECK(max_rel_diff(gg[i].value(), ge[i].value()) <= 1e-13);
    }
  }
  CHECK(cf.stats().eager_backward == 2);
}

TEST_CASE("a replay refuses out-of-range indices as eager does: new index inputs, in its forward and its backward") {
  Generator gen(5);
  const Tensor x = gen.normal(Shape{3, 4}, 0.0, 1.0, DType::f64);
  const Tensor good = Tensor::from_indices({0, 1, 2}, Shape{3, 1});
  const TensorFunction fn = [](const std::vector<Tensor>& in) {
    return std::vector<Tensor>{gather(in[0], 1, in[1]), index_select(in[0], 1, in[1].reshape(Shape{3}))};
  };
  const Plan plan(Trace::record(fn, {x, good}));
  for (const std::int64_t k : {std::int64_t{4}, std::int64_t{-5}, std::int64_t{100000000}}) {
    const Tensor bad = Tensor::from_indices({0, k, 2}, Shape{3, 1});
    CHECK_THROWS_WITH(fn({x, bad}), doctest::Contains("out of range [0, 4)"));
    CHECK_THROWS_WITH(plan.run({x, bad}), doctest::Contains("out of range [0, 4)"));
  }
  const Var w = Var::parameter(x);
  CompiledFunction cf([](const std::vector<Var>& v) { return gather(v[0], 1, v[1].value()); });
  (void)cf({w, Var(good)});
  const Tensor bad = Tensor::from_indices({0, 4, 2}, Shape{3, 1});
  CHECK_THROWS_WITH(grad(sum(cf({w, Var(bad)})), w), doctest::Contains("out of range [0, 4)"));
  // index_add and scatter_add write at the indices: refused before any write
  const Tensor src = Tensor::ones(Shape{3, 1}, DType::f64);
  CHECK_THROWS_WITH(scatter_add(src, 1, bad, Shape{3, 4}), doctest::Contains("scatter_add: index 4 at position 1"));
  CHECK_THROWS_WITH(index_add(src.reshape(Shape{3}), 0, Tensor::from_indices({0, 3, 1}, Shape{3}), 3),
                    doctest::Contains("index_add: index 3 at position 1"));
}

TEST_CASE("a compiled function on an empty batch gives the eager (zero) gradients, fused or not") {
  Generator gen(6);
  const Var w = Var::parameter(gen.normal(Shape{3, 3}, 0.0, 1.0, DType::f64));
  for (const bool fuse : {true, false}) {
    CompileOptions o;
    o.fuse = fuse;
    CompiledFunction cf([&w](const std::vector<Var>& v) { return tanh(matmul(v[0], w)); }, o);
    const Var x = Var::parameter(Tensor::zeros(Shape{0, 3}, DType::f64));
    const Var y = cf({x});
    CHECK(y.shape() == Shape{0, 3});
    const auto g = grad({sum(y)}, {x, w});
    CHECK(g[0].shape() == Shape{0, 3});
    CHECK(max_rel_diff(g[1].value(), Tensor::zeros(Shape{3, 3}, DType::f64)) == 0.0);
  }
}

TEST_CASE("an input the output does not use gets a zero gradient made by each backward, not carried from the forward") {
  // It was a forward residual: a write into the returned gradient made a second backward through
  // the same node refuse, naming a value "kept for its backward" (bug hunt).
  const CompiledFunction f([](const std::vector<Var>& in) { return tanh(in[0]); });
  Generator gen(1);
  const Var x = Var::parameter(gen.normal(Shape{2, 3}, 0, 1, DType::f64));
  const Var y = Var::parameter(gen.normal(Shape{2, 3}, 0, 1, DType::f64));
  GradOptions o;
  o.allow_unused = true;
  const Var out = f({x, y});
  const std::vector<Var> first = grad({sum(out)}, {x, y}, {}, o);
  Tensor gy = first[1].value();
  gy.add_(Tensor::ones(gy.shape(), DType::f64));
  const std::vector<Var> second = grad({sum(out)}, {x, y}, {}, o);
  CHECK(second[1].value().to_vector() == std::vector<double>(6, 0.0));
  CHECK(max_rel_diff(second[0].value(), first[0].value()) == 0.0);
}

TEST_CASE("a fused chain in f32 forms a factor outside float's normal range as the eager op does (in double)") {
  // the chain's step used the float factor: (x + 0) * 1e39 of 1e-30 was inf compiled, 1e9 eager
  for (const double c : {1e39, 1e-46, 1.0 / 1e40}) {
    CAPTURE(c);
    const auto f = [c](const std::vector<Var>& in) { return tanh(in[0] * c) + in[0] * c; };
    CompiledFunction cf(f);
    const Var x(Tensor::from_vector({1e-30, -2e-30, 3e30, 0.0}, Shape{4}, DType::f32));
    NoGrad off;
    const std::vector<double> want = f({x}).value().to_vector();
    for (int call = 0; call < 2; ++call) CHECK(cf({x}).value().to_vector() == want);
  }
}
