// The latent ODE (Rubanova, Chen and Duvenaud 2019) for irregularly sampled time series with
// per-variable masks (data/irregular.hpp), a variational autoencoder whose latent state follows
// an ODE:
//   recognition  an ODE-RNN run backwards over each sequence's observations (between them the
//                encoder state's own ODE, at them a GRU-style update of mean and std from
//                [mean, std, values, mask]; a step observing nothing leaves the state as it is),
//                or a plain RNN encoder with a time input ("RNN enc.", LatentEncoderTime),
//                down to t = 0, then q(z0) = N(mean, std) by a small network;
//   generative   z0 ~ q(z0) (several trajectory samples per sequence), dz/dt = f(z) solved from
//                t = 0 on each sequence's own time grid (no union of the batch's times), a
//                linear decoder, and a Gaussian likelihood with a fixed observation std;
//   objective    the IWAE-style bound over trajectory samples with the KL to N(0, I) annealed,
//                optionally plus a weighted cross-entropy of a per-sequence classifier on z0.
// With "generative": "rnn" the generative ODE is replaced by a GRU (the paper's RNN-VAE baseline).
// Tasks: interpolation (reconstruct the observed points; with held_out > 0 the encoder sees only
// part of each sequence), extrapolation (encode each sequence up to a fraction of its last time,
// predict the rest) and classification (interpolation plus the classifier; metric: ROC AUC).
// Observation times must be >= 0 (z0 is the state at t = 0); the model refuses others.
#pragma once
#include "tide/models/cell.hpp"
#include "tide/models/cnf.hpp"
#include "tide/models/model.hpp"
#include "tide/models/rnn_cells.hpp"

namespace tide::data {
struct IrregularSet;
}

namespace tide::models {

enum class LatentTask { interpolation, extrapolation, classification };
// The generative model: the latent ODE, or the paper's RNN-VAE baseline (a GRU from z0 stepped
// over each sequence's times with the elapsed time as its input).
enum class LatentGenerative { ode, rnn };
enum class LatentEncoder { ode_rnn, rnn };
// The RNN encoder's time input at a visible step: the time since the previous visible one (the
// first: since t = 0, so that q(z0) knows when the sequence starts), or, as the reference code, the
// time to the next one (the last: 0; a sequence and its shift in time then get one q(z0)).
enum class LatentEncoderTime { since_previous, to_next };
// How the reconstruction log-likelihood of one sequence is summed:
//   mean  per variable the mean over its observed times, then the mean over all variables (the
//         latent ODE code's choice, so that long records do not dominate; unobserved variables
//         count 0)
//   sum   the sum over every observed value: the true Gaussian log-likelihood
enum class LatentLikelihood { mean, sum };
// Where the generative ODE is solved: on each sequence's own times (per_sample), or on the union
// of the batch's times with one step size for the batch, as the reference code does (for
// measuring what per-sample grids save).
enum class LatentGrid { per_sample, union_of_times };

std::vector<std::string> latent_task_names();
std::vector<std::string> latent_encoder_names();

struct LatentOdeOptions {
  std::int64_t variables = 1;               // D
  std::int64_t latent = 20;                 // z dimensions
  std::int64_t encoder_state = 40;          // the recognition state (mean and std each)
  std::vector<std::int64_t> dynamics_hidden{50, 50, 50};  // f: latent -> ... -> latent (tanh)
  std::vector<std::int64_t> encoder_hidden{50, 50, 50};   // the encoder's ODE
  std::int64_t gru_units = 50;              // the GRU update's networks
  LatentEncoder encoder = LatentEncoder::ode_rnn;
  LatentEncoderTime encoder_time = LatentEncoderTime::since_previous;  // the RNN encoder's
  LatentGenerative generative_model = LatentGenerative::ode;
  OdeSpec generative{Method::dopri5, 1, 1e-3, 1e-4, GradientKind::discrete};  // the paper's defaults
  OdeSpec recognition{Method::rk4, 1, 1e-3, 1e-4, GradientKind::discrete};    // per interval
  LatentGrid grid = LatentGrid::per_sample;
  double obs_std = 0.01;                    // the likelihood's fixed observation std
  LatentLikelihood likelihood = LatentLikelihood::mean;
  // The KL term of the loss over the latent dimensions: sum (the true KL) or mean (the reference
  // code's, which beside its mean likelihood makes its objective).
  LatentLikelihood kl = LatentLikelihood::sum;
  int samples = 3;                          // trajectory samples per sequence in training
  int eval_samples = 1;                     // and in evaluation (drawn with a fixed seed)
  LatentTask task = LatentTask::interpolation;
  double held_out = 0.0;                    // interpolation: chance that a step is hidden from the encoder
  double extrapolate_fraction = 0.5;        // extrapolation: encode t <= fraction x the sequence's last time
  std::int64_t classes = 0;                 // classification: the labels' classes
  double ce_weight = 100.0;                 // the cross-entropy's weight (the reference code's 100)
  std::vector<std::int64_t> classifier_hidden{300, 300};  // relu
  double kl_wait = 10, kl_rate = 0.99;      // KL weight 0 before epoch kl_wait, then 1 - kl_rate^floor(epoch - kl_wait)
  double steer_eps = 1e-3;                  // STEER's eps when "steer" is 1 (b_i = |dt_i| - eps)
  DType dtype = DType::f32;
};

// One pass's reconstruction of a batch.
struct LatentPass {
  Var prediction;          // [K, B, T, D] the decoded means at each sequence's steps
  Var z0;                  // [K, B, L] the trajectory samples' initial states
  Var mean, std;           // [B, L] q(z0)
  Var log_q, log_p;        // [K, B] log q(z0 | x) and log N(z0; 0, I) of the samples
  Var kinetic, jacobian, taylor;  // [K B] the generative solve's regularisers (when asked)
  std::shared_ptr<SolveStats> stats;  // the generative solve's
};

class LatentOdeModel : public Model {
public:
  LatentOdeModel(const LatentOdeOptions& options, Generator& gen);

  std::string name() const override;
  std::string metric() const override { return options_.task == LatentTask::classification ? "auc" : "mse"; }
  bool higher_is_better() const override { return options_.task == LatentTask::classification; }
  // Metrics: mse (on the scored values: interpolation all observed, extrapolation the later
  // part), mse_ref (the reference code's per-variable average), elbo, iwae, kl, nfe (batched
  // generative evaluations, forward), nfe_mean (a trajectory's own evaluations, mean), in training kl_weight and the weighted regularisers, after
  // backward nfe_backward; classification adds auc (over a split in evaluation, the mean of
  // per-batch AUCs in training) and ce.
  BatchLoss loss(const data::Examples& batch, Mode mode, const Training& training = {}) const override;

  // The encoder over the steps `seen` [B, T] (1 = visible to it) of `set`: q(z0)'s mean and std [B, L].
  std::pair<Var, Var> encode(const data::IrregularSet& set, const Tensor& seen) const;
  // z0 [K, B, L] -> predictions [K, B, T, D] at each sequence's steps; `reg` and `steer` for training.
  Var decode(const Var& z0, const data::IrregularSet& set, const Regularisers& reg, const Steer& steer,
             std::uint64_t seed, LatentPass& pass) const;
  // Encode, sample K trajectories (gen draws the noise) and decode.
  LatentPass reconstruct(const data::IrregularSet& set, const Tensor& seen, int samples, Generator& gen,
                         const Regularisers& reg = {}, const Steer& steer = {}) const;
  // The latent states along a dense grid of `points` times in [0, t_end] for z0 [B, L]: [points, B, L],
  // and the decoded values there [points, B, D] (for figures; the RNN-VAE returns no latent states).
  std::pair<Tensor, Tensor> trajectories(const Tensor& z0, double t_end, int points) const;

  std::vector<std::pair<std::string, Var>> named_parameters() const override;
  const LatentOdeOptions& options() const { return options_; }
  // The generative solves replay compiled dynamics (SolverDynamics) unless turned off.
  void set_compiled(bool on) override { solver_dynamics_.set_compiled(on); }
  const SolverDynamics& solver_dynamics() const { return solver_dynamics_; }
  // loss() in eval mode draws from Generator(eval_seed), the batch's stream (Training::first_stream: its
  // first example's index in the split, so no two batches repeat a draw): first task_masks, then reconstruct.
  static constexpr std::uint64_t eval_seed = 0x4556414cULL;

  // Which steps the encoder sees [B, T] and which are scored [B, T], for the task (held-out draws from gen).
  std::pair<Tensor, Tensor> task_masks(const data::IrregularSet& set, Generator* gen) const;

private:
  void add_classification(BatchLoss& out, std::vector<std::pair<std::string, MetricSums>>& metrics, const LatentPass& p,
                          const data::IrregularSet& set, bool train, const std::vector<double>& class_weights) const;
  Var encoder_step(const Var& mean, const Var& std, const Var& input, const Var& observed) const;
  LatentOdeOptions options_;
  CnfDynamics dynamics_;                      // the generative f(z), autonomous (runs on Jets)
  SolverDynamics solver_dynamics_{dynamics_};  // dynamics_ as the solvers take it
  MLP encoder_ode_;                           // the recognition ODE on the mean
  MLP update_gate_, reset_gate_, new_state_;  // the GRU-style update
  MLP to_z0_;                                 // [mean, std] -> (mean, std) of q(z0)
  Linear decoder_;
  std::shared_ptr<MLP> classifier_;
  std::shared_ptr<GRUCell> generative_rnn_;  // the RNN-VAE baseline's
  Var decode_rnn(const Var& z0, const data::IrregularSet& set, LatentPass& pass) const;
};

// The model a config's "model" section describes ({"type": "latent_ode", ...}; models/README.md
// lists the keys) for `variables` variables (and `classes` when classifying). Errors name `where`.
std::shared_ptr<LatentOdeModel> make_latent_ode(const nlohmann::json& spec, std::int64_t variables, std::int64_t classes,
                                                Generator& gen, DType dtype, const std::string& where);

}  // namespace tide::models
