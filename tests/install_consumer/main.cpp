// Uses the installed library through the umbrella header: d/dx sum(tanh(x @ W)) at a known point.
#include <tide/tide.hpp>
#include <cmath>
#include <cstdio>

int main() {
  using namespace tide;
  const Var x = Var::parameter(Tensor::from_vector({0.5, -1.0}, Shape{1, 2}, DType::f64));
  const Var w(Tensor::from_vector({1.0, 2.0}, Shape{2, 1}, DType::f64));
  const Var g = grad(sum(tanh(matmul(x, w))), x);
  const double s = 1.0 - std::pow(std::tanh(0.5 - 2.0), 2.0);
  const auto v = g.value().to_vector();
  const bool ok = std::abs(v[0] - s) < 1e-14 && std::abs(v[1] - 2 * s) < 1e-14;
  std::printf("consumer: grad = [%.15f, %.15f] %s\n", v[0], v[1], ok ? "ok" : "WRONG");
  return ok ? 0 : 1;
}
