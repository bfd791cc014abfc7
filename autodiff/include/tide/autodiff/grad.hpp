// Reverse-mode differentiation. grad() takes the nodes the outputs depend on and sweeps them once
// in reverse recording order (no recursive graph walk), summing gradients that arrive at a value
// from several uses. With create_graph the backward rules (written in Var ops) are recorded, so the
// result can be differentiated again.
#pragma once
#include "tide/autodiff/var.hpp"
#include <vector>

namespace tide {

struct GradOptions {
  bool create_graph = false;  // record the backward pass for higher derivatives
  bool allow_unused = false;  // inputs the outputs do not depend on get zeros instead of an error
  // Nonzero (a number from node_sequence_barrier(), custom.hpp): differentiate through the nodes
  // recorded from it on only, and stop at the inputs. A node recorded earlier is reached only as
  // one of the inputs, and no input's own history is followed: each input gets the gradient along
  // the paths that reach it without passing through another input. A function re-run on the tape
  // (a custom backward under create_graph) is so differentiated alone, its inputs taken as
  // independent of each other, as its node's gradient must be even where one was computed from
  // another.
  std::uint64_t recorded_from = 0;
};

// d(sum_i <grad_outputs[i], outputs[i]>) / d inputs. grad_outputs may be empty when every output
// is a single element (then it is taken as 1). Without create_graph each result is a tensor of its
// own that the caller may update in place; with create_graph the results are recorded values and
// may be shared (a pass-through rule, add's, hands one cotangent, or the caller's grad_output, to
// several inputs): update them out of place, as any recorded value.
std::vector<Var> grad(const std::vector<Var>& outputs, const std::vector<Var>& inputs,
                      const std::vector<Var>& grad_outputs = {}, GradOptions options = {});
Var grad(const Var& output, const Var& input, GradOptions options = {});

// Accumulates d loss / d leaf into leaf.grad() for every leaf the loss depends on.
void backward(const Var& loss, const Var& grad_output = {});

}  // namespace tide
