// Model: what the generic trainer (`tide train`) and a library user train, whatever the family.
// A model is built from a config for a dataset, holds its parameters (Module), returns a batch's
// loss and named metric sums in train or eval mode, scores a whole split, and saves / loads its
// parameters. Sequence models (sequence_model.hpp), continuous normalising flows (cnf.hpp: NLL,
// bits/dim) and the latent ODE (latent_ode.hpp: the bound over irregular series) implement it; the
// ODE image classifier will too.
#pragma once
#include "tide/autodiff/nn.hpp"
#include "tide/data/examples.hpp"
#include <nlohmann/json_fwd.hpp>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace tide {
struct SolveStats;
}

namespace tide::models {

enum class Mode { train, eval };

// What a training call adds to the batch: the regularisers' weights and STEER's half-width, with
// the seed and step that make the random draws (STEER, Hutchinson noise, dequantisation) repeatable:
// a resumed run draws the same. Advance `step` with every optimizer step (tide train passes its
// global step), or every batch gets the same draws. A model throws naming the key when asked for a
// term it cannot compute.
struct Training {
  double kinetic = 0.0;    // RNODE: weight of the integral of ||dh/dt||^2 of the ODE parts
  double jacobian = 0.0;   // RNODE: weight of the integral of ||e^T df/dz||^2 (Hutchinson)
  int taylor_order = 0;    // TayNODE: R_K with K = taylor_order (1..6); 0 = off
  double taylor = 0.0;     // TayNODE: weight of R_K
  // STEER: sequence models scale each elapsed time by U(1 - b, 1 + b); flows draw their end time
  // from U(T - b, T + b). 0 = off
  double steer = 0.0;
  std::uint64_t seed = 0;
  std::int64_t step = 0;
  double epoch = 0;  // epochs done so far, fractional (schedules such as the latent ODE's KL annealing)
};

// Sums for a metric over batches: the metric is value / count over a split.
struct MetricSums { double value = 0, count = 0; };

struct BatchLoss {
  Var loss;  // the batch's mean loss (recorded in train mode when gradients are enabled)
  // The model's metric first (metric()), then any others; in train mode with the kinetic term on,
  // "kinetic": its weighted value per example, the part of `loss` it contributes.
  std::vector<std::pair<std::string, MetricSums>> metrics;
  // Metrics known only once backward(loss) has run (the backward solves' evaluation counts);
  // empty when there are none. A trainer calls it after the backward pass.
  std::function<std::vector<std::pair<std::string, MetricSums>>()> after_backward;
  // Binary classification: each example's score for the positive class and its label (0 / 1).
  // evaluate() turns them into "auc" (ROC AUC) over the whole split, replacing the per-batch value.
  std::vector<double> scores;
  std::vector<std::int64_t> labels;
};

// after_backward for models whose loss ran solves: "nfe_backward", the dynamics evaluations of
// their backward passes (0 for the discrete gradient, which evaluates nothing again).
std::function<std::vector<std::pair<std::string, MetricSums>>()> backward_nfe(std::vector<std::shared_ptr<SolveStats>> stats);

struct Scores {
  double loss = 0;  // mean over the split's examples (sequences, images, vectors)
  std::vector<std::pair<std::string, double>> metrics;
  std::int64_t examples = 0;
  double metric(const std::string& name) const;  // throws naming the known metrics
};

class Model : public Module {
public:
  virtual std::string name() const = 0;    // one line: the architecture
  virtual std::string metric() const = 0;  // the metric that chooses the best model
  virtual bool higher_is_better() const = 0;
  virtual BatchLoss loss(const data::Examples& batch, Mode mode, const Training& training = {}) const = 0;
  // Eval-mode scores over a split, batch by batch, with nothing recorded.
  virtual Scores evaluate(const data::Examples& split, std::int64_t batch_size) const;

  void save(const std::string& path) const;  // the parameters as a tide archive
  void load(const std::string& path);        // names and shapes must match
};
using ModelPtr = std::shared_ptr<Model>;

// The model a config's "model" section describes ({"type": ...}; models/README.md lists the
// types), shaped for `data` (its features, outputs and task). Errors name `where` and the key.
ModelPtr make_model(const nlohmann::json& spec, const data::Dataset& data, Generator& gen, DType dtype,
                    const std::string& where);

}  // namespace tide::models
