// Uses the installed library through the umbrella header: d/dx sum(tanh(x @ W)) at a known point,
// and checks at compile time that the umbrella brings in the API and not the internals.
#include <tide/tide.hpp>
#include <cmath>
#include <cstdio>

// The umbrella header shows the API only: the tape's nodes, the backend interface and tensor
// storage stay incomplete unless a program includes autodiff/node.hpp or core/backend.hpp itself.
template <class T> concept complete_type = requires { sizeof(T); };
static_assert(!complete_type<tide::Node>, "tide.hpp pulls in tide/autodiff/node.hpp");
static_assert(!complete_type<tide::Backend>, "tide.hpp pulls in tide/core/backend.hpp");
static_assert(!complete_type<tide::detail::Storage>, "tide.hpp defines tensor storage");

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
