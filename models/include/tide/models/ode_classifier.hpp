// The ODE image classifier of TayNODE (section 5.1): a flattened image is the initial state of
// dz/dt = f(z, t), integrated from 0 to T, and a linear layer classifies z(T). f is the reference
// code's MLP with the time concatenated to every layer's input ([t, z] -> 100, sigmoid, [t, h] ->
// dims), built from the CNF's layers (cnf.hpp) so it runs on Jets: R_K, RNODE's kinetic and
// Jacobian terms are the solver's integrands and STEER draws the end time. The augmented variant
// (Dupont et al. 2019) appends `augment` zeros to the state.
#pragma once
#include "tide/models/cnf.hpp"

namespace tide::models {

struct OdeClassifierOptions {
  std::int64_t dims = 784;       // input features (pixels)
  std::int64_t classes = 10;
  std::int64_t augment = 0;      // extra zero dimensions of the state
  std::vector<std::int64_t> hidden{100};
  CnfLayer layer = CnfLayer::concat;
  CnfActivation activation = CnfActivation::sigmoid;
  double end_time = 1.0;
  double input_scale = 1.0 / 255;  // images: bytes to [0, 1]; 1 for other vectors
  CnfSolve train, test;            // no trace; test defaults to train
  DType dtype = DType::f32;
};

class OdeClassifier : public Model {
public:
  OdeClassifier(const OdeClassifierOptions& options, Generator& gen);
  std::string name() const override;
  std::string metric() const override { return "accuracy"; }
  bool higher_is_better() const override { return true; }
  // Metrics: accuracy, ce (the cross-entropy), nfe (forward, per batch); in training the
  // regularisers' values K, B, R_K (unweighted; their weighted means are in the loss) and, after
  // backward, nfe_backward; in evaluation K, B and R_2 with `report_regularisers`.
  BatchLoss loss(const data::Examples& batch, Mode mode, const Training& training = {}) const override;
  // x [B, dims] as the data holds it -> z(T) [B, dims + augment] with what `reg` asks for; STEER
  // (steer > 0) draws T from U(T - b, T + b) with `gen`.
  FlowPass pass(const Var& x, const CnfSolve& how, const Regularisers& reg, double steer = 0.0, Generator* gen = nullptr) const;
  Var logits(const Var& x) const;  // with the test settings
  std::vector<std::pair<std::string, Var>> named_parameters() const override;
  const OdeClassifierOptions& options() const { return options_; }
  void set_compiled(bool on) override { solver_dynamics_.set_compiled(on); }
  const SolverDynamics& solver_dynamics() const { return solver_dynamics_; }
  bool report_regularisers = false;

private:
  OdeClassifierOptions options_;
  CnfDynamics dynamics_;
  SolverDynamics solver_dynamics_{dynamics_};
  Linear classifier_;
};

// {"type": "ode_classifier", ...} for labelled vectors of `dims` features (models/README.md lists
// the keys); images are scaled from bytes to [0, 1]. Errors name `where` and the key.
std::shared_ptr<OdeClassifier> make_ode_classifier(const nlohmann::json& spec, std::int64_t dims, std::int64_t classes,
                                                   bool image, Generator& gen, DType dtype, const std::string& where);

}  // namespace tide::models
