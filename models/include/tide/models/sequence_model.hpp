// A cell run over padded, irregularly sampled sequences, with a linear read-out per step, and the
// masked losses and metrics of per-step and per-sequence tasks.
#pragma once
#include "tide/models/cell.hpp"

namespace tide::models {

class SequenceModel : public Module {
public:
  // outputs: classes (classification) or target width (regression).
  SequenceModel(CellPtr cell, std::int64_t outputs, Generator& gen);

  // x [B, T, F], dt [B, T], mask [B, T] (1 valid, 0 padding; padding keeps the state) ->
  // read-outs [B, T, O]. dt and mask are converted to the cell's dtype.
  Var operator()(const Var& x, const Tensor& dt, const Tensor& mask) const;
  // The carried states after every step, [T, B, S] (for gradient-norm and trajectory studies);
  // when `keep` is given, each step's state is also appended to it as a separate Var.
  Var states(const Var& x, const Tensor& dt, const Tensor& mask, std::vector<Var>* keep = nullptr) const;

  std::vector<std::pair<std::string, Var>> named_parameters() const override;
  const Cell& cell() const { return *cell_; }
  CellPtr cell_ptr() const { return cell_; }
  std::int64_t outputs() const { return readout_.out_features(); }

private:
  CellPtr cell_;
  Linear readout_;
};

// The read-out at each sequence's last valid step: [B, T, O] -> [B, O].
Var last_valid(const Var& outputs, const Tensor& mask);

// Losses over the valid steps: per-step targets ([B, T] labels / [B, T, O] values) average over
// the valid steps, per-sequence targets ([B] / [B, O]) use the last valid step.
Var masked_cross_entropy(const Var& logits, const Tensor& labels, const Tensor& mask);
Var masked_mse(const Var& prediction, const Tensor& target, const Tensor& mask);

// Counts for metrics (sums, so batches can be accumulated): correct predictions and the number
// of predictions; squared error and the number of values.
struct MetricSums { double value = 0, count = 0; };
MetricSums correct_predictions(const Tensor& logits, const Tensor& labels, const Tensor& mask);
MetricSums squared_error(const Tensor& prediction, const Tensor& target, const Tensor& mask);

}  // namespace tide::models
