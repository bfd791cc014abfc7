// The synapse sums of a conductance-based layer (the biophysical LTC) as one differentiable op:
//   a[b, j, i] = w[j, i] sigmoid(sigma[j, i] (pre[b, j] - mu[j, i]))
//   num[b, i] = sum_j a[b, j, i] erev[j, i],   den[b, i] = sum_j a[b, j, i]
// The forward is core's fused synapse_sums and the backward core's synapse_sums_backward: one pass
// each, and the tape keeps the five inputs instead of [B, P, N] values. Under create_graph the
// backward is the composite below, recorded, so second derivatives work (ENGINE rule 1).
#pragma once
#include "tide/autodiff/var.hpp"

namespace tide {

struct SynapseSumVars {
  Var num, den;
};

// pre [B, P]; w, sigma, mu, erev [P, N].
SynapseSumVars synapse_sums(const Var& pre, const Var& w, const Var& sigma, const Var& mu, const Var& erev);

// The same from primitives, [B, P, N] temporaries and all: the reference the fused op is tested
// against, and its create_graph backward.
SynapseSumVars synapse_sums_composite(const Var& pre, const Var& w, const Var& sigma, const Var& mu, const Var& erev);

}  // namespace tide
