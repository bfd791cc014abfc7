// The CUDA column of the all-ops harness: every case's value, gradient, second derivative and
// Taylor coefficients computed on the GPU agree with the CPU backend (f64), and the forward values
// in f32 too. Skipped, with the reason, where no GPU can be used.
#include "../autodiff/harness.hpp"
#include "cuda_test_util.hpp"

namespace tide::testing {
namespace {

using tide::test::relative_gap;

struct Results {
  Tensor y;
  std::vector<Tensor> g, hv, taylor;
};

// Everything one case produces, on the device of its inputs (the DeviceGuard covers tensors the
// case's function creates itself, such as index tensors).
Results evaluate(const OpCase& c, const std::vector<Tensor>& x, const Tensor& w, const std::vector<Tensor>& v,
                 const std::vector<std::vector<Tensor>>& series, Device device) {
  DeviceGuard guard(device);
  Results r;
  std::vector<Var> vars, params;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const bool d = c.has_gradient && (c.differentiable.empty() || c.differentiable[i]) && is_floating(x[i].dtype());
    vars.push_back(d ? Var::parameter(x[i].to(device)) : Var(x[i].to(device)));
    if (d) params.push_back(vars.back());
  }
  const Var y = c.fn(vars);
  r.y = y.value();
  if (!params.empty() && y.requires_grad()) {
    GradOptions o;
    o.create_graph = true;
    o.allow_unused = true;
    const Var l = sum(y * Var(w.to(device)));
    const auto g = grad({l}, params, {}, o);
    Var m;
    for (std::size_t k = 0; k < g.size(); ++k) {
      r.g.push_back(g[k].value());
      const Var term = sum(g[k] * Var(v[k].to(device)));
      m = m.defined() ? m + term : term;
    }
    if (m.requires_grad()) {
      GradOptions o2;
      o2.allow_unused = true;
      for (const Var& h : grad({m}, params, {}, o2)) r.hv.push_back(h.defined() ? h.value() : Tensor());
    }
  }
  // Taylor: inputs as order-3 jets with the given coefficients.
  std::vector<Jet> jets;
  std::size_t k = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const bool d = (c.differentiable.empty() || c.differentiable[i]) && is_floating(x[i].dtype());
    if (!d) { jets.push_back(Jet(x[i].to(device))); continue; }
    std::vector<Var> parts{Var(x[i].to(device))};
    for (const Tensor& t : series[k]) parts.push_back(Var(t.to(device)));
    ++k;
    jets.push_back(Jet::from_coefficients(stack(parts, 0)));
  }
  const Jet yj = c.fn(jets);
  for (int q = 0; q <= 3; ++q) r.taylor.push_back(yj.coefficient(q).primal().value());
  return r;
}

void compare_case(const OpCase& c, std::uint64_t seed) {
  INFO("case: " << c.label);
  Generator gen(seed);
  const std::vector<Tensor> x = c.inputs(gen);
  Tensor y0;
  {
    NoGrad ng;
    std::vector<Var> vars(x.begin(), x.end());
    y0 = c.fn(vars).value();
  }
  const Tensor w = gen.uniform(y0.shape(), -1, 1, DType::f64);
  std::vector<Tensor> v;
  std::vector<std::vector<Tensor>> series;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (!((c.differentiable.empty() || c.differentiable[i]) && is_floating(x[i].dtype()))) continue;
    v.push_back(gen.uniform(x[i].shape(), -1, 1, DType::f64));
    std::vector<Tensor> s;
    for (int q = 1; q <= 3; ++q) s.push_back(gen.uniform(x[i].shape(), -0.5, 0.5, DType::f64));
    series.push_back(s);
  }
  const Results cpu = evaluate(c, x, w, v, series, Device::cpu());
  const Results gpu = evaluate(c, x, w, v, series, Device::cuda());
  CHECK(gpu.y.device() == Device::cuda());
  // A cast through f32 rounds there: the devices' f32 arithmetic (FMA contraction) differs in the last bits.
  const double tol = c.op == Op::cast ? 1e-6 : 1e-10;
  CHECK(relative_gap(gpu.y, cpu.y) <= tol);
  REQUIRE(gpu.g.size() == cpu.g.size());
  for (std::size_t i = 0; i < cpu.g.size(); ++i) CHECK(relative_gap(gpu.g[i], cpu.g[i]) <= tol);
  REQUIRE(gpu.hv.size() == cpu.hv.size());
  for (std::size_t i = 0; i < cpu.hv.size(); ++i)
    if (cpu.hv[i].defined()) CHECK(relative_gap(gpu.hv[i], cpu.hv[i]) <= tol);
  for (std::size_t q = 0; q < cpu.taylor.size(); ++q) CHECK(relative_gap(gpu.taylor[q], cpu.taylor[q]) <= tol);

  // f32 forward values on both devices.
  std::vector<Var> x32_cpu, x32_gpu;
  for (const Tensor& t : x) {
    x32_cpu.push_back(Var(is_floating(t.dtype()) ? t.to(DType::f32) : t));
    x32_gpu.push_back(Var(x32_cpu.back().value().to(Device::cuda())));
  }
  NoGrad ng;
  Tensor y_cpu;
  try {
    y_cpu = c.fn(x32_cpu).value();
  } catch (const Error&) {
    return;  // the case builds f64 constants of its own: it has no f32 form
  }
  DeviceGuard guard(Device::cuda());
  const Tensor y_gpu = c.fn(x32_gpu).value();
  CHECK(relative_gap(y_gpu, y_cpu) <= 2e-5);
}

}  // namespace

TEST_CASE("cuda harness column: every op's value, gradient, second derivative and Taylor coefficients match the CPU") {
  if (tide::test::no_gpu()) return;
  std::uint64_t seed = 900;
  for (const OpCase& c : op_cases()) {
    SUBCASE(c.label.c_str()) { compare_case(c, seed); }
    ++seed;
  }
}

TEST_CASE("cuda harness column: composite functions match the CPU") {
  if (tide::test::no_gpu()) return;
  std::uint64_t seed = 1900;
  for (const OpCase& c : composite_cases()) {
    SUBCASE(c.label.c_str()) { compare_case(c, seed); }
    ++seed;
  }
}

}  // namespace tide::testing
