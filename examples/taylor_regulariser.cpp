// TayNODE's R_K integrand for a small neural ODE: d^3 z/dt^3 by incremental Taylor mode, its
// gradient with respect to a weight (reverse over Taylor), checked against a finite difference;
// and the Hutchinson divergence estimate of the same dynamics from one jvp.
#include <tide/tide.hpp>
#include <cstdio>
#include <type_traits>

using namespace tide;

int main() {
  Generator gen(3);
  const Var W1 = Var::parameter(gen.uniform(Shape{2, 16}, -0.6, 0.6, DType::f64));
  const Var wt = Var::parameter(gen.uniform(Shape{16}, -0.6, 0.6, DType::f64));
  const Var b1 = Var::parameter(gen.uniform(Shape{16}, -0.2, 0.2, DType::f64));
  const Var W2 = Var::parameter(gen.uniform(Shape{16, 2}, -0.6, 0.6, DType::f64));
  const Var z(gen.normal(Shape{8, 2}, 0, 1, DType::f64));
  const Var t(Tensor::scalar(0.5, DType::f64));

  auto f = [&](const auto& y, const auto& time) {  // z' = f(z, t), for Vars and Jets alike
    using T = std::decay_t<decltype(y)>;
    return matmul(tanh(matmul(y, T(W1)) + time * T(wt) + T(b1)), T(W2));
  };
  const Var r3 = sum(square(ode_derivative(f, z, t, 3)));
  const Var g = grad(r3, W2);

  // finite difference on one entry of W2
  auto r3_at = [&](double delta) {
    auto w = W2.value().to_vector();
    w[0] += delta;
    const Var W2d(Tensor::from_vector(w, W2.shape(), DType::f64));
    auto fd = [&](const auto& y, const auto& time) {
      using T = std::decay_t<decltype(y)>;
      return matmul(tanh(matmul(y, T(W1)) + time * T(wt) + T(b1)), T(W2d));
    };
    NoGrad ng;
    return sum(square(ode_derivative(fd, z, t, 3))).item();
  };
  const double fd = (r3_at(1e-6) - r3_at(-1e-6)) / 2e-6;
  const double err = std::abs(g.value().to_vector()[0] - fd) / std::max(1.0, std::abs(fd));
  std::printf("R_3 integrand %.6f; dR/dW2[0,0] = %.8f, finite difference %.8f (rel. diff %.1e)\n", r3.item(),
              g.value().to_vector()[0], fd, err);

  const Tensor e = sample_noise(gen, z.shape(), DType::f64, Noise::rademacher);
  const auto est = hutchinson_jvp([&](const Jet& y) { return f(y, Jet(t)); }, z, e);
  std::printf("Hutchinson e^T J e per sample: %s\n", est.trace.value().format().c_str());
  return err < 1e-6 ? 0 : 1;
}
