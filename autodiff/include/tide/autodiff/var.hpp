// Var: a tensor value plus, when it depends on something that requires a gradient, the tape node
// that produced it. Constants have no node; parameters are leaves with a node that also holds the
// gradient accumulated by backward(). Recording happens when grad mode is on (the default; see
// NoGrad / EnableGrad) and an input requires a gradient.
#pragma once
#include "tide/core/tensor.hpp"
#include <memory>

namespace tide {

struct Node;
using NodePtr = std::shared_ptr<Node>;

class Var {
public:
  Var() noexcept {}  // user-provided, as Tensor's: no zeroing of the whole object before the members
  Var(Tensor value) : value_(std::move(value)) {}  // a constant: implicit so Tensors mix with Vars
  Var(Tensor value, NodePtr node) : value_(std::move(value)), node_(std::move(node)) {}

  // A leaf that requires a gradient: trainable parameters and inputs to differentiate by.
  static Var parameter(Tensor value);

  bool defined() const { return value_.defined(); }
  const Tensor& value() const { return value_; }
  const NodePtr& node() const { return node_; }
  bool requires_grad() const { return node_ != nullptr; }
  bool is_leaf() const;

  const Shape& shape() const { return value_.shape(); }
  int rank() const { return value_.rank(); }
  std::int64_t numel() const { return value_.numel(); }
  std::int64_t size(std::int64_t axis) const { return value_.size(axis); }
  DType dtype() const { return value_.dtype(); }
  Device device() const { return value_.device(); }
  double item() const { return value_.item(); }
  std::string str() const { return value_.str(); }

  // The same value without a node: gradients stop here.
  Var detach() const { return Var(value_); }

  // Leaves only: the gradient accumulated by backward() (undefined before the first backward).
  // zero_grad and set_grad change the leaf's gradient, which every copy of this Var shares.
  const Tensor& grad() const;
  void zero_grad();
  void set_grad(const Tensor& g);

private:
  Tensor value_;
  NodePtr node_;
};

// The order-0 value, for code written over Var and Jet alike (composite.hpp).
inline const Tensor& value_of(const Var& v) { return v.value(); }

// Grad mode: when off, ops record nothing (their results are constants). Thread-local.
bool grad_enabled();
class GradModeScope {
public:
  explicit GradModeScope(bool enabled);
  ~GradModeScope();
  GradModeScope(const GradModeScope&) = delete;
  GradModeScope& operator=(const GradModeScope&) = delete;
private:
  bool previous_;
};
// Scope in which nothing is recorded (evaluation, optimizer updates).
struct NoGrad : GradModeScope { NoGrad() : GradModeScope(false) {} };
// Scope that records again inside a NoGrad scope.
struct EnableGrad : GradModeScope { EnableGrad() : GradModeScope(true) {} };

}  // namespace tide
