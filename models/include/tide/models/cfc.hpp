// Closed-form continuous-time cells (CfC; Hasani et al. 2022, the LTC authors' follow-up): the
// hidden state at elapsed time t is a time-gated mix of two heads of a shared backbone,
//   z = backbone([x, h]),  f1 = tanh(z Wf1), f2 = tanh(z Wf2),  s = sigmoid((z Wa) t + z Wb)
//   default:  h' = f1 (1 - s) + s f2        no_gate:  h' = f1 + s f2
//   minimal:  h' = -A exp(-t (|w_tau| + |f1|)) f1 + A       (the closed form of the LTC ODE)
// with a backbone of `backbone_layers` layers of `backbone_units` (LeCun tanh 1.7159 tanh(0.666 x));
// the paper writes the gate as sigmoid(-f t); the learned Wa carries the sign. backbone_layers = 0
// feeds [x, h] to the heads directly.
#pragma once
#include "tide/models/rnn_cells.hpp"

namespace tide::models {

struct CfCOptions {
  DType dtype = DType::f32;
  std::string mode = "default";  // default, no_gate, minimal
  std::int64_t backbone_units = 128;
  int backbone_layers = 1;
};

class CfCCell : public WidthCell {
public:
  CfCCell(std::int64_t input, std::int64_t hidden, Generator& gen, CfCOptions options = {});
  std::string name() const override { return "cfc"; }
  Var advance(const Var& x, const Var& state, const Var& dt, OdeRegulariser* regulariser) const override;
  std::vector<std::pair<std::string, Var>> named_parameters() const override;

private:
  CfCOptions options_;
  std::vector<Linear> backbone_;
  Linear ff1_, ff2_, time_a_, time_b_;
  Var w_tau_, a_;  // minimal mode
};

}  // namespace tide::models
