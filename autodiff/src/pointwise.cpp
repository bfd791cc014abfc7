// Fused pointwise ops (pointwise.hpp).
#include "tide/autodiff/pointwise.hpp"
#include "tide/autodiff/custom.hpp"
#include "tide/autodiff/ops.hpp"
#include "tide/core/ops.hpp"
#include <algorithm>

namespace tide {
namespace {

Shape broadcast_shape(const PointwiseOp& op, const std::vector<Var>& inputs) {
  if (static_cast<int>(inputs.size()) != op.forward.n_inputs)
    fail("{}: {} inputs expected, got {}", op.name, op.forward.n_inputs, inputs.size());
  Shape out;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const Var& x = inputs[i];
    if (!x.defined()) fail("{}: input {} is undefined", op.name, i);
    if (x.dtype() != inputs[0].dtype() || x.device() != inputs[0].device())
      fail("{}: input {} is {} on {}, input 0 {} on {}", op.name, i, dtype_name(x.dtype()), x.device().str(),
           dtype_name(inputs[0].dtype()), inputs[0].device().str());
    if (!is_floating(x.dtype())) fail("{}: input {} is {}; floating inputs expected", op.name, i, dtype_name(x.dtype()));
    if (i == 0) out = x.shape();
    else out = broadcast_shapes(out, x.shape(), fmt::format("{} (input {})", op.name, i).c_str());
  }
  return out;
}

std::vector<Tensor> views(const std::vector<Var>& inputs, const Shape& shape) {
  std::vector<Tensor> v;
  v.reserve(inputs.size() + 1);
  for (const Var& x : inputs) v.push_back(x.value().broadcast_to(shape));
  return v;
}

class PointwiseBackward final : public CustomBackward {
public:
  PointwiseBackward(std::shared_ptr<const PointwiseOp> op, std::vector<Var> inputs, Shape shape)
      : op_(std::move(op)), inputs_(std::move(inputs)), shape_(std::move(shape)), versions_(values()) {}
  const char* name() const override { return op_->name.c_str(); }

  std::vector<Var> backward(const Var& g) override {
    versions_.check(name(), values());
    if (grad_enabled()) return composite_vjp([this](const std::vector<Var>& in) { return std::vector<Var>{op_->composite(in)}; }, inputs_, {g});
    ElementwiseProgram program = op_->backward;
    std::vector<Tensor> full;  // one per distinct gradient value asked for
    std::vector<int> slot(inputs_.size(), -1);
    for (std::size_t i = 0; i < inputs_.size(); ++i) {
      const int v = op_->gradient[i];
      if (v < 0 || !inputs_[i].requires_grad()) continue;
      const auto seen = std::find(program.outputs.begin(), program.outputs.end(), v);
      slot[i] = static_cast<int>(seen - program.outputs.begin());
      if (seen != program.outputs.end()) continue;
      program.outputs.push_back(v);
      full.push_back(Tensor::empty(shape_, g.dtype(), g.device()));
    }
    std::vector<Var> out(inputs_.size());
    if (full.empty()) return out;
    std::vector<Tensor> in = views(inputs_, shape_);
    in.push_back(g.value().broadcast_to(shape_));
    g.value().backend().elementwise(without_dead_steps(program), in, full);
    for (std::size_t i = 0; i < inputs_.size(); ++i)
      if (slot[i] >= 0) out[i] = Var(sum_to(full[static_cast<std::size_t>(slot[i])], inputs_[i].shape()));
    return out;
  }

private:
  std::vector<Tensor> values() const {
    std::vector<Tensor> v;
    for (const Var& x : inputs_) v.push_back(x.value());
    return v;
  }

  std::shared_ptr<const PointwiseOp> op_;
  std::vector<Var> inputs_;
  Shape shape_;
  SavedVersions versions_;
};

}  // namespace

Var pointwise(const std::shared_ptr<const PointwiseOp>& op_ptr, const std::vector<Var>& inputs) {
  if (!op_ptr) fail("pointwise: no op");
  const PointwiseOp& op = *op_ptr;
  const Shape shape = broadcast_shape(op, inputs);
  if (op.gradient.size() != inputs.size()) fail("{}: the op has {} gradients for {} inputs", op.name, op.gradient.size(), inputs.size());
  Tensor out = Tensor::empty(shape, inputs[0].dtype(), inputs[0].device());
  const std::vector<Tensor> in = views(inputs, shape);
  out.backend().elementwise(op.forward, in, std::span<const Tensor>(&out, 1));
  bool record = false;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!grad_enabled() || !inputs[i].requires_grad()) continue;
    if (op.gradient[i] < 0)
      fail("{}: input {} requires a gradient, but the op is not differentiable in it (its vjp gives Sym{{}})", op.name, i);
    record = true;
  }
  if (!record) return Var(std::move(out));
  return record_custom(std::move(out), inputs, std::make_shared<PointwiseBackward>(op_ptr, inputs, shape));
}

}  // namespace tide
