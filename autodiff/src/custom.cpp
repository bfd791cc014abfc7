// Custom-backward nodes and the discovery of closed-over values (custom.hpp).
#include "tide/autodiff/custom.hpp"
#include "tide/autodiff/grad.hpp"
#include "tide/autodiff/node.hpp"
#include "tide/core/small_blocks.hpp"
#include <unordered_set>

namespace tide {

Var record_custom(Tensor out, const std::vector<Var>& inputs, std::shared_ptr<CustomBackward> fn) {
  bool any = false;
  if (grad_enabled())
    for (const Var& v : inputs) any = any || v.requires_grad();
  if (!fn) fail("record_custom: no backward function given (a null CustomBackward)");
  if (!any) return Var(std::move(out));
  auto node = make_pooled<Node>();
  node->custom = std::move(fn);
  std::uint64_t after = 0;
  for (const Var& v : inputs)
    if (v.node()) after = std::max(after, v.node()->sequence);
  node->sequence = std::max(take_node_sequence(), after + 1);
  node->inputs.resize(inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) node->inputs[i] = {inputs[i].node(), inputs[i].shape(), inputs[i].dtype()};
  return Var(std::move(out), std::move(node));
}

SavedVersions::SavedVersions(std::span<const Tensor> values) {
  take(values.size(), [&](std::size_t i) { return &values[i]; });
}
SavedVersions::SavedVersions(std::span<const Tensor* const> values) {
  take(values.size(), [&](std::size_t i) { return values[i]; });
}

void SavedVersions::fail_modified(const char* op, const std::string& what, const Tensor& t, std::uint64_t then) {
  throw SavedValueModifiedError(fmt::format("backward of {}: its saved {} ({}) was modified in place after it was saved (version "
                                            "{} then, {} now); clone the value before modifying it, or modify a copy",
                                            op, what, t.str(), then, t.version()));
}
namespace {
std::string name_of(std::span<const char* const> names, std::size_t i) {
  return i < names.size() ? std::string(names[i]) : "input " + std::to_string(i);
}
}  // namespace
void SavedVersions::check(const char* op, std::span<const Tensor> values, std::span<const char* const> names) const {
  check_each(op, values.size(), [&](std::size_t i) { return &values[i]; }, [&](std::size_t i) { return name_of(names, i); });
}
void SavedVersions::check(const char* op, std::span<const Tensor* const> values, std::span<const char* const> names) const {
  check_each(op, values.size(), [&](std::size_t i) { return values[i]; }, [&](std::size_t i) { return name_of(names, i); });
}

void drop_repeats(const std::vector<Var>& wrt, std::vector<Var>& d) {
  for (std::size_t k = 0; k < wrt.size(); ++k)
    for (std::size_t j = 0; j < k; ++j)
      if (wrt[k].node() && wrt[k].node() == wrt[j].node()) {
        d[k] = Var();
        break;
      }
}

std::vector<Var> composite_vjp(const std::function<std::vector<Var>(const std::vector<Var>&)>& composite,
                               const std::vector<Var>& inputs, const std::vector<Var>& cotangents) {
  std::vector<Var> wrt;
  std::vector<std::size_t> at;
  for (std::size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].requires_grad()) wrt.push_back(inputs[i]), at.push_back(i);
  std::vector<Var> out(inputs.size());
  if (wrt.empty()) return out;
  GradOptions opt;
  opt.create_graph = true;
  opt.allow_unused = true;
  opt.recorded_from = node_sequence_barrier();  // the inputs as independent, even where one was computed from another
  std::vector<Var> d = grad(composite(inputs), wrt, cotangents, opt);
  drop_repeats(wrt, d);
  for (std::size_t k = 0; k < at.size(); ++k) out[at[k]] = d[k];
  return out;
}

std::vector<Var> closed_over(const Var& output, std::uint64_t since) {
  std::vector<Var> found;
  if (!output.node()) return found;
  std::unordered_set<const Node*> seen{output.node().get()};
  std::vector<const Node*> stack;
  auto visit = [&](const NodeInput& in) {
    if (!in.node || !seen.insert(in.node.get()).second) return;
    if (in.node->sequence < since) found.emplace_back(Tensor::zeros(in.shape, in.dtype, output.device()), in.node);
    else stack.push_back(in.node.get());
  };
  if (output.node()->sequence < since) return {Var(Tensor::zeros(output.shape(), output.dtype(), output.device()), output.node())};
  stack.push_back(output.node().get());
  while (!stack.empty()) {
    const Node* n = stack.back();
    stack.pop_back();
    for (const auto& in : n->inputs) visit(in);
  }
  return found;
}

}  // namespace tide
