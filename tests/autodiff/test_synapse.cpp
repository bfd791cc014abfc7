// The fused, differentiable synapse sums (synapse.hpp) against their composite.
#include "../compare.hpp"
#include "tide/tide.hpp"
#include <doctest/doctest.h>
#include <cmath>

using namespace tide;
using test::max_rel_diff;

namespace {

struct Inputs {
  Var pre, w, sigma, mu, erev;
  std::vector<Var> all() const { return {pre, w, sigma, mu, erev}; }
};

Inputs make(Generator& gen, std::int64_t B, std::int64_t P, std::int64_t N, DType dt) {
  auto p = [](Tensor t) { return Var::parameter(std::move(t)); };
  return {p(gen.uniform(Shape{B, P}, -1.0, 1.0, dt)), p(gen.uniform(Shape{P, N}, 0.1, 1.0, dt)),
          p(gen.uniform(Shape{P, N}, 3.0, 8.0, dt)), p(gen.uniform(Shape{P, N}, 0.3, 0.8, dt)),
          p(gen.uniform(Shape{P, N}, -1.0, 1.0, dt))};
}

}  // namespace

TEST_CASE("fused synapse sums equal the composite in values and in every input's gradient, f64 and f32") {
  Generator gen(7);
  for (DType dt : {DType::f64, DType::f32}) {
    for (auto [B, P, N] : {std::tuple{3, 5, 7}, std::tuple{16, 20, 33}, std::tuple{1, 1, 1}}) {
      INFO(dtype_name(dt) << " B " << B << " P " << P << " N " << N);
      const Inputs in = make(gen, B, P, N, dt);
      const Tensor gn = gen.normal(Shape{B, N}, 0.0, 1.0, dt), gd = gen.normal(Shape{B, N}, 0.0, 1.0, dt);
      const SynapseSumVars f = synapse_sums(in.pre, in.w, in.sigma, in.mu, in.erev);
      const SynapseSumVars c = synapse_sums_composite(in.pre, in.w, in.sigma, in.mu, in.erev);
      const double tol = dt == DType::f64 ? 1e-13 : 2e-5;
      CHECK(max_rel_diff(f.num.value(), c.num.value()) <= tol);
      CHECK(max_rel_diff(f.den.value(), c.den.value()) <= tol);
      const auto gf = grad({f.num, f.den}, in.all(), {Var(gn), Var(gd)});
      const auto gc = grad({c.num, c.den}, in.all(), {Var(gn), Var(gd)});
      for (std::size_t i = 0; i < gf.size(); ++i) {
        INFO("input " << i);
        CHECK(max_rel_diff(gf[i].value(), gc[i].value()) <= (dt == DType::f64 ? 1e-12 : 1e-4));
      }
    }
  }
}

TEST_CASE("fused synapse sums: second derivatives through the create_graph fallback equal the composite's") {
  Generator gen(8);
  const Inputs in = make(gen, 4, 3, 5, DType::f64);
  GradOptions create;
  create.create_graph = true;
  auto second = [&](auto op) {
    const SynapseSumVars s = op(in.pre, in.w, in.sigma, in.mu, in.erev);
    const Var dpre = grad({sum(square(s.num)) + sum(s.den)}, {in.pre}, {}, create)[0];
    return grad({sum(square(dpre))}, {in.w, in.sigma, in.mu, in.erev});
  };
  const auto f = second([](auto&... a) { return synapse_sums(a...); });
  const auto c = second([](auto&... a) { return synapse_sums_composite(a...); });
  for (std::size_t i = 0; i < f.size(); ++i) CHECK(max_rel_diff(f[i].value(), c[i].value()) <= 1e-12);
}

TEST_CASE("synapse_sums_backward validates its operands") {
  const Tensor pre = Tensor::ones(Shape{2, 3}), w = Tensor::ones(Shape{3, 4}), g = Tensor::ones(Shape{2, 4});
  CHECK_THROWS_WITH_AS(synapse_sums_backward(pre, w, w, w, w, g, Tensor::ones(Shape{2, 5})), doctest::Contains("gden has shape [2, 5]"), Error);
  CHECK_THROWS_WITH_AS(synapse_sums_backward(pre, Tensor::ones(Shape{4, 4}), w, w, w, g, g), doctest::Contains("pre must be [B, P]"), Error);
}

TEST_CASE("fused synapse sums: an input modified in place before the backward is reported, naming it") {
  Generator gen(9);
  const Inputs in = make(gen, 2, 3, 4, DType::f64);
  const std::vector<std::pair<const char*, Var>> named = {
      {"saved pre", in.pre}, {"saved w", in.w}, {"saved sigma", in.sigma}, {"saved mu", in.mu}, {"saved erev", in.erev}};
  for (const auto& [name, v] : named) {
    INFO(name);
    const SynapseSumVars s = synapse_sums(in.pre, in.w, in.sigma, in.mu, in.erev);
    const Var loss = sum(s.num * s.den);
    Tensor value = v.value();
    value.mul_(3.0);  // as an optimizer step would, between the forward and the backward
    CHECK_THROWS_WITH_AS(grad(loss, in.w), doctest::Contains(name), Error);
    value.mul_(1.0 / 3.0);
  }
}
