// One case of the all-ops harness run eagerly and through a compiled function on one device, twice
// (the second round replays the plans on new values): values and gradients must agree. Used by the
// CPU suite, the forwarding "cuda" device (tests/autodiff/test_compile.cpp) and the real GPU
// (tests/cuda/test_cuda_compile.cpp).
#pragma once
#include "../compare.hpp"
#include "harness.hpp"
#include <doctest/doctest.h>

namespace tide::testing {

struct CompileCheckResult {
  Tensor y;
  std::vector<Tensor> grads;
};

// y = f(x) and d<g, y>/dx for the differentiable inputs, on the device (the guard covers tensors
// the case's function makes itself, such as index tensors).
inline CompileCheckResult evaluate_on(const std::function<Var(const std::vector<Var>&)>& f, const OpCase& c,
                                      const std::vector<Tensor>& xs, Generator& noise, Device device) {
  DeviceGuard guard(device);
  std::vector<Var> vars, wrt;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const bool diff = c.differentiable.empty() || c.differentiable[i];
    const Tensor x = xs[i].to(device);
    vars.push_back(diff ? Var::parameter(x) : Var(x));
    if (diff) wrt.push_back(vars.back());
  }
  const Var y = f(vars);
  CompileCheckResult r{y.value(), {}};
  if (!c.has_gradient || !y.requires_grad()) return r;
  const Tensor g = noise.normal(y.shape(), 0.0, 1.0, DType::f64).to(device);
  GradOptions opt;
  opt.allow_unused = true;
  for (const Var& d : grad({y}, wrt, {Var(g)}, opt)) r.grads.push_back(d.value());
  return r;
}

// Compiled against eager on `device`, both computed there; `tol` relative (test::max_rel_diff).
inline void check_compiled_case(const OpCase& c, Device device, double tol) {
  INFO("case: " << c.label << " on " << device.str());
  const CompiledFunction compiled(c.fn.var);
  for (int round = 0; round < 2; ++round) {
    Generator gen(17 + static_cast<std::uint64_t>(round));
    const std::vector<Tensor> xs = c.inputs(gen);
    Generator n1(5), n2(5);
    const CompileCheckResult want = evaluate_on(c.fn.var, c, xs, n1, device);
    const CompileCheckResult got =
        evaluate_on([&](const std::vector<Var>& v) { return compiled(v); }, c, xs, n2, device);
    CHECK(got.y.device() == device);
    CHECK(test::max_rel_diff(got.y.to(Device::cpu()), want.y.to(Device::cpu())) <= tol);
    REQUIRE(got.grads.size() == want.grads.size());
    for (std::size_t i = 0; i < got.grads.size(); ++i) {
      INFO("gradient " << i);
      CHECK(test::max_rel_diff(got.grads[i].to(Device::cpu()), want.grads[i].to(Device::cpu())) <= tol);
    }
  }
  CHECK(compiled.stats().traces == 1);
}

}  // namespace tide::testing
