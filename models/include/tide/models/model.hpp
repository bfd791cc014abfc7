// Model: what the generic trainer (`tide train`) and a library user train, whatever the family.
// A model is built from a config for a dataset, holds its parameters (Module), returns a batch's
// loss and named metric sums in train or eval mode, scores a whole split, and saves / loads its
// parameters. Sequence models (sequence_model.hpp), continuous normalising flows (cnf.hpp: NLL,
// bits/dim) and the latent ODE (latent_ode.hpp: the bound over irregular series) implement it; the
// ODE image classifier will too.
#pragma once
#include "tide/autodiff/nn.hpp"
#include "tide/data/examples.hpp"
#include "tide/models/metrics.hpp"
#include <nlohmann/json_fwd.hpp>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace tide {
struct SolveStats;
}

namespace tide::models {

// Whether a parameter file is safetensors (by its .safetensors ending, in any case), else a tide archive.
bool is_safetensors(const std::string& path);

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
  // Classification: each class's weight in the cross-entropy, which becomes sum w_y nll / sum w_y
  // over the batch (PyTorch's CrossEntropyLoss(weight=...)); empty: every class 1.
  std::vector<double> class_weights = {};
  // Eval mode: the batch's first example's index in its split (evaluate() and predict() pass it).
  // A model that draws in eval mode (the latent ODE's z0 samples and held-out steps, a CNF's
  // dequantisation and Hutchinson noise) draws from a fixed seed and the stream this index selects,
  // so batches draw different noise and a split's scores repeat for a given eval batch size.
  std::int64_t first_example = 0;
  // The Generator stream a batch's draws start from: `step`'s in train mode, `first_example`'s in
  // eval mode, 2^20 apart (room for one batch's draws, each of which takes a stream).
  std::uint64_t first_stream(Mode mode) const {
    return static_cast<std::uint64_t>(mode == Mode::train ? step : first_example) << 20;
  }
};

// Sums for a metric over batches: the metric is value / count over a split.
struct MetricSums { double value = 0, count = 0; };

// An eval-mode batch's predictions, one row per prediction its loss scores (a sequence's valid
// step, a sequence, an image): classification gives each class's probability and the true label,
// regression the predicted and the true values. evaluate() computes the split's classification
// report from them; predict() returns them (`tide predict`).
struct Predictions {
  bool classification = false;
  std::int64_t width = 0;                   // classes, or regression outputs
  std::vector<double> values;               // rows x width: class probabilities, or predicted values
  std::vector<double> targets;              // regression: rows x width
  std::vector<std::int64_t> labels;         // classification: one per row
  std::vector<std::int64_t> example, step;  // each row's example (within its batch or split) and step (-1: one per example)
  std::int64_t rows() const { return static_cast<std::int64_t>(example.size()); }
  // Appends another batch's rows, its example numbers shifted by `offset`.
  void append(const Predictions& more, std::int64_t offset);
};

struct BatchLoss {
  Var loss;  // the batch's mean loss (recorded in train mode when gradients are enabled)
  // What `loss` is the mean over, so that a split's or an epoch's loss pools batches of any size:
  // the valid steps of a per-step task, the sum of the class weights where they weight the mean
  // (0 for a batch holding only classes weighted 0: it counts for nothing); negative: the batch's
  // examples.
  double weight = -1;
  // The weight a split or an epoch pools this batch with, for a batch of `examples` examples.
  double pooled_weight(std::int64_t examples) const { return weight >= 0 ? weight : static_cast<double>(examples); }
  // The model's metric first (metric()), then any others; in train mode with the kinetic term on,
  // "kinetic": its weighted value per example, the part of `loss` it contributes.
  std::vector<std::pair<std::string, MetricSums>> metrics;
  // Metrics known only once backward(loss) has run (the backward solves' evaluation counts);
  // empty when there are none. A trainer calls it after the backward pass.
  std::function<std::vector<std::pair<std::string, MetricSums>>()> after_backward;
  // Eval mode: the predictions (empty for models that predict no targets, such as flows).
  Predictions predictions;
};

// after_backward for models whose loss ran solves: "nfe_backward", the dynamics evaluations of
// their backward passes (0 for the discrete gradient, which evaluates nothing again).
std::function<std::vector<std::pair<std::string, MetricSums>>()> backward_nfe(std::vector<std::shared_ptr<SolveStats>> stats);

struct Scores {
  // mean over the split's examples (sequences, images, vectors; valid steps of a per-step task);
  // NaN for an empty split
  double loss = 0;
  // Per-batch metrics, then for classification the split's report as flat metrics (accuracy, f1,
  // auc, ... : report_metrics, replacing a per-batch value of the same name). A metric the split
  // does not define is absent, not 0: one no batch defines, an auc or pr_auc of labels of one
  // class. An empty split has the model's metric(), NaN.
  std::vector<std::pair<std::string, double>> metrics;
  ClassificationReport report;  // classification: the split's (report.classes 0 otherwise)
  std::int64_t examples = 0;
  double metric(const std::string& name) const;  // throws naming the known metrics
};

class Model : public Module {
public:
  virtual std::string name() const = 0;    // one line: the architecture
  virtual std::string metric() const = 0;  // the metric that chooses the best model
  virtual bool higher_is_better() const = 0;
  virtual BatchLoss loss(const data::Examples& batch, Mode mode, const Training& training = {}) const = 0;
  // Whether the parts that can replay compiled plans (autodiff/compile.hpp) do: on by default.
  // Off runs every op eagerly, the same arithmetic (for comparison and debugging).
  virtual void set_compiled(bool on) { (void)on; }
  // Eval-mode scores over a split, batch by batch, with nothing recorded. Each batch's eval draws
  // (Training::first_example) depend on where it starts, so scores that draw noise change with
  // batch_size within the noise's spread, never by repeating one batch's draws. Throws when
  // batch_size < 1 or a classifier's outputs hold a NaN (a diverged model).
  virtual Scores evaluate(const data::Examples& split, std::int64_t batch_size) const;
  // Eval-mode predictions over a split, example numbers counted over the split; throws as evaluate.
  Predictions predict(const data::Examples& split, std::int64_t batch_size) const;

  // The parameters as a tide archive, or as safetensors when the path ends in ".safetensors"
  // (names as named_parameters() gives them; autodiff/archive.hpp describes both formats), with
  // what record_model() writes as the file's metadata (safetensors: its __metadata__ "tide").
  void save(const std::string& path) const;
  // Either format, by the extension; names and shapes must match, and a spec the file records must
  // be this model's (check_model_meta): parameters of a model built otherwise (another wiring seed,
  // solver, mode) are refused, not loaded into a model they were not trained in.
  void load(const std::string& path);

  // The normalised spec the model was built from: make_model and the families' make_* functions
  // set it (every key the builder read, defaults filled in, so two configs that build the same
  // model agree). Null for a model constructed directly in C++: its files record only its name(),
  // and loading into it checks the parameters' names, shapes and dtypes alone.
  const nlohmann::json* spec() const { return spec_.get(); }
  void set_spec(const nlohmann::json& spec);

private:
  std::shared_ptr<const nlohmann::json> spec_;
};
using ModelPtr = std::shared_ptr<Model>;

// What a model file records about its model, added to the metadata object `meta`: "model_name"
// (name()) and, for a model with a spec, "model_type" (its "type") and "model_spec" (spec()).
// Model::save writes this; a tool that writes its own files of a model's parameters (a trainer's
// checkpoints, an export) can add it to their metadata, and check_model_file() then covers them.
void record_model(nlohmann::json& meta, const Model& model);
// Refuses metadata that records a "model_spec" other than `model`'s spec, naming `path`, the first
// key that differs ("model.wiring_seed") and both values. Metadata recording none (a file from
// older tide or another tool, of a model built without a spec; metadata that is not JSON) passes,
// as does any file for a model without a spec.
void check_model_meta(const std::string& meta_json, const Model& model, const std::string& path);
// check_model_meta on the metadata of the file at `path` (either format, by the extension): the
// check Model::load makes, for a caller that wants it before loading.
void check_model_file(const std::string& path, const Model& model);

// Every model type make_model builds, in one table: the cells (registry.hpp's cell_types(), run by
// the sequence model), then cnf, latent_ode and ode_classifier; `kind` names the data each takes
// (`tide data models` groups by it).
struct ModelType {
  std::string name, summary, kind;
};
const std::vector<ModelType>& model_types();

// The model a config's "model" section describes ({"type": ...}; models/README.md lists the
// types), shaped for `data` (its features, outputs and task). Errors name `where` and the key; a
// "type" that is not a string or not in model_types() is refused listing them all.
ModelPtr make_model(const nlohmann::json& spec, const data::Dataset& data, Generator& gen, DType dtype,
                    const std::string& where);

}  // namespace tide::models
