#include "tide/taylor/estimators.hpp"
#include "tide/autodiff/grad.hpp"

namespace tide {

const char* noise_name(Noise noise) { return noise == Noise::gaussian ? "gaussian" : "rademacher"; }

Tensor sample_noise(Generator& generator, const Shape& shape, DType dtype, Noise noise) {
  return noise == Noise::gaussian ? generator.normal(shape, 0.0, 1.0, dtype) : generator.rademacher(shape, dtype);
}

namespace {
// sum over every axis but the batch axis 0
Var per_sample(const Var& x) {
  std::vector<std::int64_t> axes;
  for (int i = 1; i < x.rank(); ++i) axes.push_back(i);
  return axes.empty() ? x : sum(x, axes);
}
void check_noise(const Var& z, const Tensor& e, const char* what) {
  if (!z.defined() || z.rank() < 1) fail("{}: the state must be [batch, ...], got a 0-d value", what);
  if (!(e.shape() == z.shape())) fail("{}: noise has shape {} but the state has shape {}", what, e.shape().str(), z.shape().str());
  if (e.dtype() != z.dtype()) fail("{}: noise is {} but the state is {}", what, dtype_name(e.dtype()), dtype_name(z.dtype()));
}
Var checked(const Jet& y, const Var& z, const char* what) {
  if (!(y.shape() == z.shape())) fail("{}: f returned shape {} for a state of shape {}", what, y.shape().str(), z.shape().str());
  if (y.dtype() != z.dtype()) fail("{}: f returned {} for a state of {}", what, dtype_name(y.dtype()), dtype_name(z.dtype()));
  return y.primal();
}
// exact_trace's f sees the [B, D] state repeated D times, [D*B, D]: its errors name both shapes.
Var checked_rows(const Jet& y, const Var& rows, const Var& z) {
  if (!(y.shape() == rows.shape()))
    fail("exact_trace: f returned shape {} for its input of shape {} (the state {} repeated D = {} times along the batch); "
         "f must return its input's shape", y.shape().str(), rows.shape().str(), z.shape().str(), z.size(1));
  return checked(y, rows, "exact_trace");
}
}  // namespace

DivergenceEstimate hutchinson_jvp(const JetFn& f, const Var& z, const Tensor& e) {
  check_noise(z, e, "hutchinson_jvp");
  const auto [y, je] = jvp(f, Jet(z), Jet(e));
  const Var jv = checked(je, z, "hutchinson_jvp");
  return {checked(y, z, "hutchinson_jvp"), per_sample(jv * Var(e)), per_sample(square(jv))};
}

DivergenceEstimate hutchinson_vjp(const JetFn& f, const Var& z, const Tensor& e) {
  check_noise(z, e, "hutchinson_vjp");
  // the VJP needs a tape even when the caller records nothing (then the result is a constant)
  const bool record = grad_enabled();
  EnableGrad enable;
  const Var input = z.requires_grad() ? z : Var::parameter(z.value());
  const Var y = checked(f(Jet(input)), z, "hutchinson_vjp");
  GradOptions o;
  o.create_graph = record;
  o.allow_unused = true;
  const Var ej = grad({y}, {input}, {Var(e)}, o)[0];  // e^T J
  const Var trace = per_sample(ej * Var(e)), frobenius = per_sample(square(ej));
  return record ? DivergenceEstimate{y, trace, frobenius} : DivergenceEstimate{y.detach(), trace.detach(), frobenius.detach()};
}

DivergenceEstimate exact_trace(const JetFn& f, const Var& z) {
  if (!z.defined() || z.rank() != 2) fail("exact_trace: the state must be [batch, D], got {}", z.defined() ? z.shape().str() : "undefined");
  const std::int64_t B = z.size(0), D = z.size(1);
  // one JVP over D copies of the batch, copy i with the unit tangent e_i: fewer, larger calls
  // than D separate JVPs, and the same arithmetic
  const Var stacked = reshape(broadcast_to(unsqueeze(z, 0), Shape{D, B, D}), Shape{D * B, D});
  std::vector<double> eye(static_cast<std::size_t>(D * D), 0.0);
  for (std::int64_t i = 0; i < D; ++i) eye[static_cast<std::size_t>(i * D + i)] = 1.0;
  const Tensor e = Tensor::from_vector(eye, Shape{D, 1, D}, z.dtype(), z.device()).broadcast_to(Shape{D, B, D}).contiguous().reshape(Shape{D * B, D});
  const auto [y, je] = jvp(f, Jet(stacked), Jet(e));
  DivergenceEstimate out;
  out.f = slice(checked_rows(y, stacked, z), 0, 0, B);
  out.trace = sum(reshape(checked_rows(je, stacked, z), Shape{D, B, D}) * Var(e.reshape(Shape{D, B, D})), {0, 2});
  return out;
}

}  // namespace tide
