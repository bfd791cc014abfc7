// Uses the installed library through the umbrella header: d/dx sum(tanh(x @ W)) at a known point,
// and checks at compile time that the umbrella brings in the API and not the internals. With
// --ask-cuda it asks for the GPU instead and prints the device or why there is none (the install
// test checks that message when the CUDA plugin is missing or elsewhere).
#include <tide/tide.hpp>
#include <cmath>
#include <cstdio>
#include <string>

// The umbrella header shows the API only: the tape's nodes, the backend interface and tensor
// storage stay incomplete unless a program includes autodiff/node.hpp or core/backend.hpp itself.
template <class T> concept complete_type = requires { sizeof(T); };
static_assert(!complete_type<tide::Node>, "tide.hpp pulls in tide/autodiff/node.hpp");
static_assert(!complete_type<tide::Backend>, "tide.hpp pulls in tide/core/backend.hpp");
static_assert(!complete_type<tide::detail::Storage>, "tide.hpp defines tensor storage");

namespace {
int ask_cuda() {
  try {
    const tide::Tensor x = tide::Tensor::ones(tide::Shape{2}).to(tide::Device::cuda());
    std::printf("consumer: cuda sum = %g\n", tide::sum(x).item());
  } catch (const tide::Error& e) {
    std::printf("consumer: %s\n", e.what());
  }
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  using namespace tide;
  if (argc > 1 && std::string(argv[1]) == "--ask-cuda") return ask_cuda();
  const Var x = Var::parameter(Tensor::from_vector({0.5, -1.0}, Shape{1, 2}, DType::f64));
  const Var w(Tensor::from_vector({1.0, 2.0}, Shape{2, 1}, DType::f64));
  const Var g = grad(sum(tanh(matmul(x, w))), x);
  const double s = 1.0 - std::pow(std::tanh(0.5 - 2.0), 2.0);
  const auto v = g.value().to_vector();
  const bool ok = std::abs(v[0] - s) < 1e-14 && std::abs(v[1] - 2 * s) < 1e-14;
  std::printf("consumer: grad = [%.15f, %.15f] %s\n", v[0], v[1], ok ? "ok" : "WRONG");
  return ok ? 0 : 1;
}
