// Internal: the per-op backward rules used by grad().
#pragma once
#include "tide/autodiff/node.hpp"
#include <vector>

namespace tide {

// Writes into gx[i] the gradient for input i given the output gradient g (left undefined where no
// gradient flows). Uses Var ops, so it records when grad mode is on.
void backward_rule(const NodePtr& node, const Var& g, std::vector<Var>& gx);

}  // namespace tide
