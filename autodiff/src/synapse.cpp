// The differentiable fused synapse sums (synapse.hpp).
#include "tide/autodiff/synapse.hpp"
#include "tide/autodiff/custom.hpp"
#include "tide/autodiff/ops.hpp"
#include "tide/core/fused.hpp"
#include "tide/core/small_blocks.hpp"

namespace tide {

namespace {

class SynapseBackward final : public CustomBackward {
public:
  explicit SynapseBackward(std::vector<Var> inputs) : inputs_(std::move(inputs)), versions_(values()) {}
  const char* name() const override { return "synapse_sums"; }

  // g is [B, 2N]: the cotangents of num, then of den.
  std::vector<Var> backward(const Var& g) override {
    static constexpr const char* names[] = {"pre", "w", "sigma", "mu", "erev"};
    versions_.check("synapse_sums", values(), names);  // the rule reads the inputs' current values
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
    const auto composite = [](const std::vector<Var>& in) {
      const SynapseSumVars c = synapse_sums_composite(in[0], in[1], in[2], in[3], in[4]);
      return std::vector<Var>{c.num, c.den};
    };
    return composite_vjp(composite, inputs_, {gnum, gden});
  }

  std::array<const Tensor*, 5> values() const {
    return {&inputs_[0].value(), &inputs_[1].value(), &inputs_[2].value(), &inputs_[3].value(), &inputs_[4].value()};
  }

  std::vector<Var> inputs_;
  SavedVersions versions_;
};

}  // namespace

SynapseSumVars synapse_sums(const Var& pre, const Var& w, const Var& sigma, const Var& mu, const Var& erev) {
  const SynapseSums s = synapse_sums(pre.value(), w.value(), sigma.value(), mu.value(), erev.value());
  const std::vector<Var> inputs{pre, w, sigma, mu, erev};
  const Var both = record_custom(concat(std::vector<Tensor>{s.num, s.den}, 1), inputs, make_pooled<SynapseBackward>(inputs));
  const std::int64_t n = w.shape()[1];
  return {slice(both, 1, 0, n), slice(both, 1, n, 2 * n)};
}

SynapseSumVars synapse_sums_composite(const Var& pre, const Var& w, const Var& sigma, const Var& mu, const Var& erev) {
  const Var a = w * sigmoid(sigma * (unsqueeze(pre, 2) - mu));  // [B, P, N]
  return {sum(a * erev, {1}), sum(a, {1})};
}

}  // namespace tide
