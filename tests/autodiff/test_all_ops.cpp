// The all-ops harness: first and second derivatives of every op against central finite
// differences in f64, first derivatives the same with and without create_graph, and the coverage
// test that fails when an op has no case.
#include "harness.hpp"
#include <doctest/doctest.h>
#include <cmath>
#include <set>

namespace tide::testing {
namespace {

struct Evaluation {
  std::vector<Tensor> x;            // inputs
  Tensor w;                         // weights of the scalar loss L = sum(w * f(x))
  std::vector<Tensor> v;            // direction for the second-order check
  const OpCase* c;
  std::vector<int> diff;            // indices of differentiable inputs
};

// L(x) with nothing recorded.
double loss(const Evaluation& e, const std::vector<Tensor>& x) {
  NoGrad ng;
  std::vector<Var> vars(x.begin(), x.end());
  return sum(e.c->fn(vars) * Var(e.w)).item();
}

// Analytic dL/dx for the differentiable inputs; with create_graph, also returns the Vars.
std::vector<Var> gradients(const Evaluation& e, const std::vector<Tensor>& x, bool create_graph,
                           std::vector<Var>* params_out = nullptr) {
  std::vector<Var> vars, params;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const bool d = std::find(e.diff.begin(), e.diff.end(), static_cast<int>(i)) != e.diff.end();
    vars.push_back(d ? Var::parameter(x[i]) : Var(x[i]));
    if (d) params.push_back(vars.back());
  }
  const Var l = sum(e.c->fn(vars) * Var(e.w));
  GradOptions o;
  o.create_graph = create_graph;
  o.allow_unused = true;
  auto g = grad({l}, params, {}, o);
  if (params_out) *params_out = params;
  return g;
}

// M(x) = sum_i <v_i, dL/dx_i>, from first-order gradients only.
double directional(const Evaluation& e, const std::vector<Tensor>& x) {
  const auto g = gradients(e, x, false);
  double m = 0;
  for (std::size_t k = 0; k < g.size(); ++k) m += sum(mul(g[k].value(), e.v[k])).item();
  return m;
}

std::vector<Tensor> perturbed(const std::vector<Tensor>& x, int input, std::int64_t j, double h) {
  std::vector<Tensor> y = x;
  auto values = x[input].to_vector();
  values[j] += h;
  y[input] = Tensor::from_vector(values, x[input].shape(), DType::f64);
  return y;
}

void check_close(double analytic, double reference, double tol, const std::string& what) {
  INFO(what << ": analytic " << analytic << " finite difference " << reference);
  CHECK(std::abs(analytic - reference) <= tol * std::max(1.0, std::abs(reference)));
}

void run_case(const OpCase& c, std::uint64_t seed) {
  INFO("case: " << c.label);
  Generator gen(seed);
  Evaluation e;
  e.c = &c;
  e.x = c.inputs(gen);
  for (std::size_t i = 0; i < e.x.size(); ++i)
    if (c.differentiable.empty() || c.differentiable[i]) e.diff.push_back(static_cast<int>(i));
  {
    NoGrad ng;
    std::vector<Var> vars(e.x.begin(), e.x.end());
    const Var y = c.fn(vars);
    e.w = gen.uniform(y.shape(), -1.0, 1.0, DType::f64);
  }
  for (int i : e.diff) e.v.push_back(gen.uniform(e.x[i].shape(), -1.0, 1.0, DType::f64));

  if (!c.has_gradient) {
    std::vector<Var> params;
    for (const Tensor& t : e.x) params.push_back(Var::parameter(t));
    const Var y = c.fn(params);
    if (!y.requires_grad()) return;  // a mask: nothing is recorded
    GradOptions o;
    o.allow_unused = true;
    for (const Var& g : grad({sum(y * Var(e.w))}, params, {}, o)) CHECK(max(abs(g.value())).item() == 0.0);
    return;
  }

  // First derivatives. Without create_graph some rules run as one elementwise pass instead of
  // their Var ops (backward.cpp, pointwise_rule): the same kernels, so the same values to the bit.
  std::vector<Var> params;
  const auto g = gradients(e, e.x, true, &params);
  const auto unrecorded = gradients(e, e.x, false);
  for (std::size_t k = 0; k < g.size(); ++k) CHECK(g[k].value().to_vector() == unrecorded[k].value().to_vector());
  for (std::size_t k = 0; k < e.diff.size(); ++k) {
    const int i = e.diff[k];
    const auto analytic = g[k].value().to_vector();
    for (std::int64_t j = 0; j < e.x[i].numel(); ++j) {
      const double fd = (loss(e, perturbed(e.x, i, j, c.step)) - loss(e, perturbed(e.x, i, j, -c.step))) / (2 * c.step);
      check_close(analytic[j], fd, c.tolerance, "dL/dx" + std::to_string(i) + "[" + std::to_string(j) + "]");
    }
  }

  // Second derivatives: grad of M = sum_k <v_k, dL/dx_k> through create_graph.
  Var m;
  for (std::size_t k = 0; k < g.size(); ++k) {
    const Var term = sum(g[k] * Var(e.v[k]));
    m = m.defined() ? m + term : term;
  }
  std::vector<Var> hv;
  if (m.requires_grad()) {
    GradOptions o;
    o.allow_unused = true;
    hv = grad({m}, params, {}, o);
  }
  const double h2 = c.step * 10;
  for (std::size_t k = 0; k < e.diff.size(); ++k) {
    const int i = e.diff[k];
    const auto analytic = hv.empty() ? std::vector<double>(static_cast<std::size_t>(e.x[i].numel()), 0.0) : hv[k].value().to_vector();
    for (std::int64_t j = 0; j < e.x[i].numel(); ++j) {
      const double fd = (directional(e, perturbed(e.x, i, j, h2)) - directional(e, perturbed(e.x, i, j, -h2))) / (2 * h2);
      check_close(analytic[j], fd, c.tolerance * 10, "d2L/dx" + std::to_string(i) + "[" + std::to_string(j) + "] . v");
    }
  }
}

}  // namespace

TEST_CASE("all-ops harness: every op's gradient and second derivative match finite differences") {
  std::uint64_t seed = 100;
  for (const OpCase& c : op_cases()) {
    SUBCASE(c.label.c_str()) { run_case(c, seed); }
    ++seed;
  }
}

TEST_CASE("all-ops harness: composite functions match finite differences to second order") {
  std::uint64_t seed = 500;
  for (const OpCase& c : composite_cases()) {
    SUBCASE(c.label.c_str()) { run_case(c, seed); }
    ++seed;
  }
}

TEST_CASE("unary rules run in one pass without create_graph give the Var ops' values to the bit, f32 and f64, across blocks") {
  // 37 x 29 values: more than one block of the CPU's elementwise chains, and a tail.
  const std::vector<std::pair<Op, double>> ops = {
      {Op::expm1, 0.0}, {Op::log1p, 0.0}, {Op::sqrt, 0.0},    {Op::rsqrt, 0.0},      {Op::square, 0.0},
      {Op::reciprocal, 0.0}, {Op::tanh, 0.0}, {Op::sigmoid, 0.0}, {Op::softplus, 0.0}, {Op::silu, 0.0},
      {Op::gelu, 0.0},  {Op::erf, 0.0},   {Op::sin, 0.0},     {Op::cos, 0.0},        {Op::pow_scalar, 2.5},
      {Op::pow_scalar, 3.0}, {Op::pow_scalar, -1.5}};
  std::uint64_t seed = 900;
  for (const DType dtype : {DType::f32, DType::f64})
    for (const auto& [op, p] : ops) {
      INFO(op_name(op) << " " << p << " " << dtype_name(dtype));
      Generator gen(seed++);
      const Tensor x = positive(gen, Shape{37, 29}, 0.2, 3.0).to(dtype);  // every op's domain
      const Tensor w = gen.uniform(Shape{37, 29}, -1.0, 1.0, dtype);
      auto input_gradient = [&](bool create_graph) {
        const Var v = Var::parameter(x);
        GradOptions o;
        o.create_graph = create_graph;
        return grad({sum(unary(op, v, p) * Var(w))}, {v}, {}, o)[0].value().to_vector();
      };
      CHECK(input_gradient(false) == input_gradient(true));
    }
}

TEST_CASE("all-ops harness covers every op in the op table") {
  std::set<int> covered;
  for (const OpCase& c : op_cases()) covered.insert(static_cast<int>(c.op));
  for (int i = 0; i < op_count; ++i) {
    INFO("op without a harness case: " << op_name(static_cast<Op>(i)));
    CHECK(covered.count(i) == 1);
  }
}

}  // namespace tide::testing
