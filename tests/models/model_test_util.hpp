// Shared helpers of the model tests: random padded batches and f64 finite differences of a scalar
// loss with respect to parameter entries.
#pragma once
#include "tide/tide.hpp"
#include <doctest/doctest.h>
#include <cmath>
#include <functional>

namespace tide::models::testing {

struct Batch {
  Tensor x, dt, mask;
};

// x ~ N(0, 1), dt ~ U(0.1, 1), rows with lengths T, T-1, ... (at least 1) padded at the end.
inline Batch random_batch(std::int64_t B, std::int64_t T, std::int64_t F, std::uint64_t seed, DType dtype = DType::f64) {
  Generator gen(seed);
  Batch b{gen.normal(Shape{B, T, F}, 0, 1, dtype), gen.uniform(Shape{B, T}, 0.1, 1.0, dtype), Tensor()};
  std::vector<double> m(B * T, 0.0);
  for (std::int64_t i = 0; i < B; ++i)
    for (std::int64_t t = 0; t < std::max<std::int64_t>(1, T - i); ++t) m[i * T + t] = 1;
  b.mask = Tensor::from_vector(m, Shape{B, T}, dtype);
  return b;
}

// The largest relative error between the tape's gradient of loss() and central differences, over
// up to `per_param` entries of every parameter.
inline double worst_gradient_error(const Module& module, const std::function<Var()>& loss, int per_param = 3,
                                   double eps = 1e-6) {
  for (Var& p : module.parameters()) p.zero_grad();
  Var l = loss();
  const std::vector<Var> params = module.parameters();
  std::vector<Var> grads = grad({l}, params, {}, {.allow_unused = true});
  double worst = 0;
  NoGrad ng;
  for (std::size_t k = 0; k < params.size(); ++k) {
    Tensor v = params[k].value();  // a handle onto the parameter's storage, to perturb it
    const std::int64_t n = v.numel();
    for (int j = 0; j < per_param && j < n; ++j) {
      const std::int64_t i = (j * 7919) % n;
      double* data = v.data<double>();
      const double old = data[i];
      data[i] = old + eps;
      const double up = loss().item();
      data[i] = old - eps;
      const double down = loss().item();
      data[i] = old;
      const double fd = (up - down) / (2 * eps);
      const double g = grads[k].defined() ? grads[k].value().to_vector()[i] : 0.0;
      worst = std::max(worst, std::abs(g - fd) / std::max(1.0, std::abs(fd)));
    }
  }
  return worst;
}

// The loss and its parameter gradients with the model's compiled parts on (the default) and off:
// the largest difference relative to max(1, |eager value|). Leaves them on.
inline double compiled_against_eager(Model& model, const std::function<Var()>& loss) {
  const auto values = [&](bool compiled) {
    model.set_compiled(compiled);
    const Var l = loss();
    const std::vector<Var> params = model.parameters();
    const std::vector<Var> grads = grad({l}, params, {}, {.allow_unused = true});
    std::vector<double> out{l.item()};
    for (std::size_t k = 0; k < params.size(); ++k) {
      const std::vector<double> g = grads[k].defined() ? grads[k].value().to_vector() : std::vector<double>(params[k].numel(), 0.0);
      out.insert(out.end(), g.begin(), g.end());
    }
    return out;
  };
  const std::vector<double> compiled = values(true), eager = values(false);
  model.set_compiled(true);
  REQUIRE(compiled.size() == eager.size());
  double worst = 0;
  for (std::size_t i = 0; i < eager.size(); ++i)
    worst = std::max(worst, std::abs(compiled[i] - eager[i]) / std::max(1.0, std::abs(eager[i])));
  return worst;
}

// The forward calls compiled plans served for a compiled dynamics, its variants included.
inline std::int64_t plan_calls(const CompiledDynamicsStats& s) {
  std::int64_t n = s.all_rows.calls + s.subset_rows.calls;
  for (const CompiledVariantStats& v : s.variants) n += v.all_rows.calls + v.subset_rows.calls;
  return n;
}

}  // namespace tide::models::testing
