// Shared by the gradient tests of solves: an f64 problem whose loss depends on every parameter
// and the times, and central differences of a loss in one parameter entry.
#pragma once
#include "tide/tide.hpp"
#include <functional>

namespace tide::test {

inline Tensor f64t(const std::vector<double>& v, Shape s) { return Tensor::from_vector(v, s, DType::f64); }

struct Problem {
  Var W = Var::parameter(f64t({-0.4, 0.9, -0.7, -0.3}, Shape{2, 2}));
  Var b = Var::parameter(f64t({0.1, -0.2}, Shape{2}));
  Var y0 = Var::parameter(f64t({0.5, -0.3, 1.1, 0.4}, Shape{2, 2}));
  Var times = Var::parameter(f64t({0.0, 0.6, 1.5}, Shape{3}));
  // dynamics closing over W and b; run on Vars and Jets
  std::function<Var(const Var&, const Var&)> f() const {
    return [this](const Var& z, const Var& t) { return tanh(matmul(z, W) + b) * (1.0 + 0.3 * sin(t)) - 0.1 * z; };
  }
  Var loss(const SolveOptions& o) const {
    const Solution s = solve(f(), y0, times, o);
    const Var w = Var(f64t({1.0, -2.0, 0.5, 1.5}, Shape{1, 2, 2}));
    return sum(square(s.ys) * w) + sum(s.ys);
  }
  std::vector<Var> params() const { return {W, b, y0, times}; }
};

// (loss(x_i + eps) - loss(x_i - eps)) / 2 eps for entry i of the parameter `data`, restored after
inline double central_difference(const Tensor& data, std::int64_t i, double eps, const std::function<double()>& loss) {
  Tensor flat = data.reshape(Shape{data.numel()});
  const double x = flat.slice(0, i, i + 1).item();
  flat.slice(0, i, i + 1).fill_(x + eps);
  const double up = loss();
  flat.slice(0, i, i + 1).fill_(x - eps);
  const double down = loss();
  flat.slice(0, i, i + 1).fill_(x);
  return (up - down) / (2 * eps);
}

}  // namespace tide::test
