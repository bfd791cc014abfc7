// Discrete-time baselines of the papers' tables: LSTM, GRU, the augmented LSTM (elapsed time as an
// extra input), GRU-D (hidden state decayed by exp(-max(0, w dt + b)) between observations) and the
// vanilla tanh RNN. Gate layouts follow PyTorch's (i, f, g, o) and (r, z, n) so weights can be
// compared with it.
#pragma once
#include "tide/models/cell.hpp"

namespace tide::models {

struct CellOptions {
  DType dtype = DType::f32;
  double forget_bias = 1.0;  // LSTM-type cells: added to the forget gate's pre-activation
};

class LSTMCell : public WidthCell {
public:
  // time_input: the augmented LSTM of the mmRNN paper, which sees [x, dt] at every step.
  LSTMCell(std::int64_t input, std::int64_t hidden, Generator& gen, CellOptions options = {},
           bool time_input = false);
  std::string name() const override { return time_input_ ? "augmented_lstm" : "lstm"; }
  std::int64_t state_size() const override { return 2 * hidden_; }  // [h, c]
  Var advance(const Var& x, const Var& state, const Var& dt, OdeRegulariser* regulariser) const override;
  std::vector<std::pair<std::string, Var>> named_parameters() const override;
  // The LSTM update alone: (h, c) from x (already augmented) and the previous (h, c).
  std::pair<Var, Var> update(const Var& x, const Var& h, const Var& c) const;

private:
  CellOptions options_;
  bool time_input_;
  Linear gates_;  // [x, h] -> 4H
};

class GRUCell : public WidthCell {
public:
  GRUCell(std::int64_t input, std::int64_t hidden, Generator& gen, CellOptions options = {});
  std::string name() const override { return "gru"; }
  Var advance(const Var& x, const Var& state, const Var& dt, OdeRegulariser* regulariser) const override;
  std::vector<std::pair<std::string, Var>> named_parameters() const override;
  Var update(const Var& x, const Var& h) const;  // the GRU update alone

private:
  Linear input_gates_, hidden_gates_;  // x -> 3H, h -> 3H (PyTorch's split: n = tanh(xWn + r*(hUn + bn)))
};

// GRU-D (Che et al. 2018) as the mmRNN paper's table 1 uses it: between observations the hidden
// state decays, h <- h * exp(-max(0, dt w + b)) per unit, then a GRU update. Inputs are taken as
// observed (the sequence mask marks padding, not missing features), so the input-decay half of
// GRU-D reduces to the identity here.
class GRUDCell : public Cell {
public:
  GRUDCell(std::int64_t input, std::int64_t hidden, Generator& gen, CellOptions options = {});
  std::string name() const override { return "gru_d"; }
  std::int64_t input_size() const override { return gru_.input_size(); }
  std::int64_t state_size() const override { return gru_.state_size(); }
  std::int64_t output_size() const override { return gru_.output_size(); }
  DType dtype() const override { return gru_.dtype(); }
  Var advance(const Var& x, const Var& state, const Var& dt, OdeRegulariser* regulariser) const override;
  std::vector<std::pair<std::string, Var>> named_parameters() const override;

private:
  GRUCell gru_;
  Var decay_w_, decay_b_;  // [H]
};

class VanillaRNNCell : public WidthCell {
public:
  VanillaRNNCell(std::int64_t input, std::int64_t hidden, Generator& gen, CellOptions options = {});
  std::string name() const override { return "rnn"; }
  Var advance(const Var& x, const Var& state, const Var& dt, OdeRegulariser* regulariser) const override;
  std::vector<std::pair<std::string, Var>> named_parameters() const override;

private:
  Linear layer_;
};

}  // namespace tide::models
