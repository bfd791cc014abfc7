// Hessian-vector product of a tanh MLP with respect to its input, by reverse over reverse, checked
// against a finite difference of the gradient. Build: part of the tide build (target hessian_vector).
#include <tide/tide.hpp>
#include <cstdio>

int main() {
  using namespace tide;
  Generator gen(42);
  MLP f({2, 64, 2}, Activation::tanh, gen, {.dtype = DType::f64});
  const Tensor x0 = gen.normal(Shape{256, 2}, 0, 1, DType::f64);
  const Tensor v = gen.normal(Shape{256, 2}, 0, 1, DType::f64);

  auto gradient = [&](const Tensor& at, bool create_graph, Var* leaf) {
    Var x = Var::parameter(at);
    if (leaf) *leaf = x;
    return grad(sum(square(f(x))), x, {.create_graph = create_graph});
  };
  Var x;
  const Var g = gradient(x0, true, &x);
  const Var hv = grad(sum(g * Var(v)), x);

  const double h = 1e-5;
  const Tensor fd = mul_scalar(sub(gradient(add(x0, mul_scalar(v, h)), false, nullptr).value(),
                                   gradient(sub(x0, mul_scalar(v, h)), false, nullptr).value()), 0.5 / h);
  const double err = max(abs(sub(hv.value(), fd))).item() / max(abs(fd)).item();
  std::printf("Hessian-vector product: max relative difference to finite differences %.2e\n", err);
  return err < 1e-6 ? 0 : 1;
}
