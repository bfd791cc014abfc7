// The differentiable fused synapse sums (synapse.hpp).
#include "tide/autodiff/synapse.hpp"
#include "tide/autodiff/custom.hpp"
#include "tide/autodiff/grad.hpp"
#include "tide/autodiff/ops.hpp"
#include "tide/core/fused.hpp"

namespace tide {

namespace {

class SynapseBackward final : public CustomBackward {
public:
  explicit SynapseBackward(std::vector<Var> inputs) : inputs_(std::move(inputs)) {}
  const char* name() const override { return "synapse_sums"; }

  // g is [B, 2N]: the cotangents of num, then of den.
  std::vector<Var> backward(const Var& g) override {
    const std::int64_t n = inputs_[1].shape()[1];
    const Var gnum = slice(g, 1, 0, n), gden = slice(g, 1, n, 2 * n);
    if (grad_enabled()) return recorded(gnum, gden);
    const SynapseGrads d = synapse_sums_backward(inputs_[0].value(), inputs_[1].value(), inputs_[2].value(), inputs_[3].value(),
                                                 inputs_[4].value(), gnum.value().contiguous(), gden.value().contiguous());
    return {Var(d.pre), Var(d.w), Var(d.sigma), Var(d.mu), Var(d.erev)};
  }

private:
  // create_graph: the composite on the saved inputs, differentiated with recording on.
  std::vector<Var> recorded(const Var& gnum, const Var& gden) {
    std::vector<Var> wrt;
    std::vector<std::size_t> at;
    for (std::size_t i = 0; i < inputs_.size(); ++i)
      if (inputs_[i].requires_grad()) wrt.push_back(inputs_[i]), at.push_back(i);
    std::vector<Var> out(inputs_.size());
    if (wrt.empty()) return out;
    const SynapseSumVars c = synapse_sums_composite(inputs_[0], inputs_[1], inputs_[2], inputs_[3], inputs_[4]);
    GradOptions opt;
    opt.create_graph = true;
    opt.allow_unused = true;
    const std::vector<Var> d = grad({c.num, c.den}, wrt, {gnum, gden}, opt);
    for (std::size_t k = 0; k < at.size(); ++k) out[at[k]] = d[k];
    return out;
  }

  std::vector<Var> inputs_;
};

}  // namespace

SynapseSumVars synapse_sums(const Var& pre, const Var& w, const Var& sigma, const Var& mu, const Var& erev) {
  const SynapseSums s = synapse_sums(pre.value(), w.value(), sigma.value(), mu.value(), erev.value());
  const std::vector<Var> inputs{pre, w, sigma, mu, erev};
  const Var both = record_custom(concat(std::vector<Tensor>{s.num, s.den}, 1), inputs, std::make_shared<SynapseBackward>(inputs));
  const std::int64_t n = w.shape()[1];
  return {slice(both, 1, 0, n), slice(both, 1, n, 2 * n)};
}

SynapseSumVars synapse_sums_composite(const Var& pre, const Var& w, const Var& sigma, const Var& mu, const Var& erev) {
  const Var a = w * sigmoid(sigma * (unsqueeze(pre, 2) - mu));  // [B, P, N]
  return {sum(a * erev, {1}), sum(a, {1})};
}

}  // namespace tide
