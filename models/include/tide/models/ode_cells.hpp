// Continuous-time recurrent cells whose hidden state is an ODE solved between observations with
// any method of the solver library (OdeSpec):
//   CT-RNN          dh/dt = -h / tau + tanh([x, h] W + b)                    (LTC paper's baseline)
//   neural ODE RNN  dh/dt = tanh([x, h] W1 + b1) W2 + b2                    (LTC paper, RK4)
//   ODE-RNN         h <- ODESolve(f, h, dt), then a GRU update with x        (Rubanova et al. 2019)
//   mmRNN/ODE-LSTM  (h, c) <- LSTM(x, h, c), then h <- ODESolve(f, h, dt)   (mmRNN algorithm 1)
// tide's mmRNN is its own variant of the paper's: f(h) = tanh(h W + b), one layer, by explicit
// Euler x 4 (the steps of the TensorFlow code, whose f is a CT-RNN, -h + tanh(u K + h R + b)). The
// paper's PyTorch code uses f(h) = tanh(h W1 + b1) W2 + b2 with 3 fixed steps and nn.LSTMCell (no
// added forget bias); bench/peers/rnn_peers.py times tide's variant. The options are named
// explicitly: forget_bias (added to the LSTM's forget gate; the TensorFlow code adds 3.0),
// ode_input (whether f also sees the observation x) and the solver.
#pragma once
#include "tide/models/rnn_cells.hpp"

namespace tide::models {

class CTRNNCell : public WidthCell {
public:
  CTRNNCell(std::int64_t input, std::int64_t hidden, Generator& gen, OdeSpec ode = {},
            CellOptions options = {}, double tau = 1.0);
  std::string name() const override { return "ctrnn"; }
  const OdeSpec* ode() const override { return &ode_; }
  Var advance(const Var& x, const Var& state, const Var& dt, OdeRegulariser* regulariser) const override;
  std::vector<std::pair<std::string, Var>> named_parameters() const override;
  template <class T> T derivative(const Var& x, const T& h) const;  // dh/dt at (x, h), on Vars or Jets

private:
  OdeSpec ode_;
  Linear layer_;
  Var log_tau_;  // [H], tau = exp(log_tau) > 0
};

class NeuralODERNNCell : public WidthCell {
public:
  NeuralODERNNCell(std::int64_t input, std::int64_t hidden, Generator& gen, OdeSpec ode = {},
                   CellOptions options = {});
  std::string name() const override { return "node_rnn"; }
  const OdeSpec* ode() const override { return &ode_; }
  Var advance(const Var& x, const Var& state, const Var& dt, OdeRegulariser* regulariser) const override;
  std::vector<std::pair<std::string, Var>> named_parameters() const override;

private:
  OdeSpec ode_;
  MLP f_;  // [x, h] -> hidden (tanh) -> h'
};

class ODERNNCell : public Cell {
public:
  ODERNNCell(std::int64_t input, std::int64_t hidden, Generator& gen, OdeSpec ode = {},
             CellOptions options = {});
  std::string name() const override { return "ode_rnn"; }
  const OdeSpec* ode() const override { return &ode_; }
  std::int64_t input_size() const override { return gru_.input_size(); }
  std::int64_t state_size() const override { return gru_.state_size(); }
  std::int64_t output_size() const override { return gru_.output_size(); }
  DType dtype() const override { return gru_.dtype(); }
  Var advance(const Var& x, const Var& state, const Var& dt, OdeRegulariser* regulariser) const override;
  std::vector<std::pair<std::string, Var>> named_parameters() const override;

private:
  OdeSpec ode_;
  MLP f_;  // h -> hidden (tanh) -> h'
  GRUCell gru_;
};

struct MMRNNVariant {
  double forget_bias = 1.0;
  bool ode_input = false;  // f(h) (as the paper's code) or f([h, x])
  OdeSpec ode = {Method::euler, 4};  // the paper's experiments: explicit Euler, 4 unfolds
  std::string str() const;
};

class MMRNNCell : public Cell {
public:
  MMRNNCell(std::int64_t input, std::int64_t hidden, Generator& gen, MMRNNVariant variant = {},
            DType dtype = DType::f32);
  std::string name() const override { return "mmrnn"; }
  const OdeSpec* ode() const override { return &variant_.ode; }
  std::int64_t input_size() const override { return lstm_.input_size(); }
  std::int64_t state_size() const override { return lstm_.state_size(); }  // [h, c]
  std::int64_t output_size() const override { return lstm_.output_size(); }
  DType dtype() const override { return lstm_.dtype(); }
  Var advance(const Var& x, const Var& state, const Var& dt, OdeRegulariser* regulariser) const override;
  std::vector<std::pair<std::string, Var>> named_parameters() const override;
  const MMRNNVariant& variant() const { return variant_; }

private:
  MMRNNVariant variant_;
  LSTMCell lstm_;
  Linear f_;  // h (or [h, x]) -> h', tanh
};

}  // namespace tide::models
