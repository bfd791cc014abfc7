// A cell run over padded, irregularly sampled sequences, with a linear read-out per step, and the
// masked losses and metrics of per-step and per-sequence tasks.
#pragma once
#include "tide/models/cell.hpp"
#include "tide/models/model.hpp"

namespace tide::models {

// A cell over sequences with a linear read-out; as a Model it trains on SequenceExamples with the
// masked cross-entropy (metric: accuracy) or the masked MSE (metric: mse) of its task.
class SequenceModel : public Model {
public:
  // outputs: classes (classification) or target width (regression).
  SequenceModel(CellPtr cell, std::int64_t outputs, Generator& gen, data::Task task = data::Task::classification);

  std::string name() const override { return cell_->name(); }
  std::string metric() const override { return task_ == data::Task::classification ? "accuracy" : "mse"; }
  bool higher_is_better() const override { return task_ == data::Task::classification; }
  // train mode: STEER's draw scales the elapsed times, and the kinetic term (when weighted) is
  // added to the loss
  BatchLoss loss(const data::Examples& batch, Mode mode, const Training& training = {}) const override;

  // x [B, T, F] (T >= 1), dt [B, T], mask [B, T] (1 valid, 0 padding; any other value is refused)
  // -> read-outs [B, T, O]. dt and mask are converted to the cell's dtype. A padded step keeps the
  // state, and its x and dt count as 0 (a non-finite padded x reaches no gradient; nothing is
  // integrated over it, so regularisers charge nothing and adaptive solvers spend no steps on it). Padding between valid steps (a gap) is accepted:
  // the state is held across the gap and the gap's dts are not integrated, so the next valid
  // step's dt must span the gap (the time since the previous valid step).
  // With a regulariser, the cells' ODE parts add their regularisation integrals to it.
  Var operator()(const Var& x, const Tensor& dt, const Tensor& mask, OdeRegulariser* regulariser = nullptr) const;
  // The carried states after every step, [T, B, S] (for gradient-norm and trajectory studies);
  // when `keep` is given, each step's state is also appended to it as a separate Var.
  Var states(const Var& x, const Tensor& dt, const Tensor& mask, std::vector<Var>* keep = nullptr,
             OdeRegulariser* regulariser = nullptr) const;

  std::vector<std::pair<std::string, Var>> named_parameters() const override;
  // The cell's steps run compiled (CompiledStep) unless turned off. Its plans are shared state: a
  // model called from several threads at once needs set_compiled(false) (or a model per thread).
  void set_compiled(bool on) override { step_.set_enabled(on); }
  const CompiledStep& compiled_step() const { return step_; }
  const Cell& cell() const { return *cell_; }
  CellPtr cell_ptr() const { return cell_; }
  std::int64_t outputs() const { return readout_.out_features(); }

private:
  CellPtr cell_;
  Linear readout_;
  data::Task task_;
  CompiledStep step_;
};

// The read-out at each sequence's last valid step: [B, T, O] -> [B, O]; a row with no valid
// step (its mask all 0) is refused.
Var last_valid(const Var& outputs, const Tensor& mask);

// Losses over the valid steps: per-step targets ([B, T] labels / [B, T, O] values) average over
// the valid steps (a mask that selects none is refused), per-sequence targets ([B] / [B, O]) use
// the last valid step (a row with none is refused). Masks hold 0 or 1, anything else is refused.
// class_weights (one per class; empty: all 1) weight each step's term: sum w_y nll / sum w_y.
Var masked_cross_entropy(const Var& logits, const Tensor& labels, const Tensor& mask, const std::vector<double>& class_weights = {});
// -sum_i weights_i log softmax(logits)[i, labels_i] / sum_i weights_i: logits [N, C], N labels and
// weights (finite, >= 0); 0 when the weights sum to 0 (a batch of classes weighted 0).
Var weighted_cross_entropy(const Var& logits, const std::vector<std::int64_t>& labels, const std::vector<double>& weights);
Var masked_mse(const Var& prediction, const Tensor& target, const Tensor& mask);

// Each example's weight: its label's class weight (labels i64 [N]); throws on a label outside them.
std::vector<double> class_weights_of(const Tensor& labels, const std::vector<double>& class_weights);
// Eval-mode predictions of per-example classifiers: softmax(logits [N, C]) in f64 and the labels, step -1.
Predictions per_example_predictions(const Var& logits, const Tensor& labels);

// Counts for metrics (sums, so batches can be accumulated): correct predictions and the number
// of predictions; squared error and the number of values. The targets' shapes are the losses':
// logits [B, T, C] with labels [B, T] count every valid step, with labels [B] each sequence's last
// valid step (`value / count` is the accuracy). Shapes and masks are checked as by the losses.
MetricSums correct_predictions(const Tensor& logits, const Tensor& labels, const Tensor& mask);
MetricSums squared_error(const Tensor& prediction, const Tensor& target, const Tensor& mask);

}  // namespace tide::models
