// The latent ODE's objective and metrics for one batch (latent_ode.hpp): the masked Gaussian
// likelihood, the KL to the prior with its annealing, the IWAE-style bound over trajectory
// samples, the classifier's cross-entropy and the generative solve's regularisers.
#include "tide/data/irregular.hpp"
#include "tide/models/latent_ode.hpp"
#include "tide/models/metrics.hpp"
#include "tide/models/sequence_model.hpp"
#include <cmath>
#include <numeric>

namespace tide::models {

namespace {

constexpr double kLog2Pi = 1.8378770664093453;

double sum_of(const Var& v) { return sum(v.detach()).item(); }

// The KL weight at `epoch` (from 0): 0 before `wait`, then 1 - rate^(whole epochs past wait), which
// is still 0 at epoch = wait: the reference code's schedule, so the first positive weight is at wait + 1
// (a fractional wait too: floor(epoch) - wait would give a fractional power before then).
double kl_weight(const LatentOdeOptions& o, double epoch) {
  const double past = std::floor(epoch - o.kl_wait);
  return past < 0 ? 0.0 : 1.0 - std::pow(o.kl_rate, past);
}

Regularisers training_regularisers(const Training& t) {
  Regularisers r;
  r.taylor_order = t.taylor > 0 ? t.taylor_order : 0;
  r.kinetic = t.kinetic > 0;
  r.jacobian = t.jacobian > 0;
  r.error_control = false;  // as TayNODE's code: the integrands stay out of step control
  return r;
}

// STEER on the generative solve's intervals: "steer" r in (0, 1) scales each by U(1 - r, 1 + r);
// 1 is the paper's b_i = |dt_i| - eps.
Steer training_steer(double steer, double eps) {
  Steer s;
  if (steer <= 0) return s;
  if (steer > 1)
    fail("regularisers.steer: the latent ODE takes r in (0, 1) (each interval scaled by U(1 - r, 1 + r)) or 1 (the paper's "
         "b_i = |dt_i| - eps, eps from model.steer_eps); got {}", steer);
  s.enabled = true;
  s.per_interval = true;
  s.relative = steer >= 1 ? 0.0 : steer;
  s.eps = eps;
  return s;
}

// The terms of the bound per trajectory sample and sequence.
struct Likelihood {
  Var per_sequence;  // [K, B] log-likelihood of the scored values
  double squared_error = 0, scored = 0;  // pooled over the scored values (averaged over K)
  double mse_ref = 0;                    // sum over sequences of the reference code's per-variable MSE
};

Likelihood likelihood(const LatentPass& p, const data::IrregularSet& set, const Tensor& scored, const LatentOdeOptions& o) {
  const std::int64_t B = set.size(), T = set.steps(), K = p.prediction.size(0);
  const Tensor m = mul(set.mask, scored.to(DType::f32).reshape(Shape{B, T, 1})).to(o.dtype);
  const Var err = p.prediction - unsqueeze(Var(set.values.to(o.dtype)), 0);
  const Var masked_sq = square(err) * Var(m);
  const double log_norm = std::log(o.obs_std) + 0.5 * kLog2Pi;
  const Var ll = masked_sq * (-0.5 / (o.obs_std * o.obs_std)) - Var(m) * log_norm;  // [K, B, T, D]
  const Var counts(maximum(sum(m, {1}), Tensor::scalar(1.0, o.dtype)));             // [B, D]
  Likelihood out;
  out.per_sequence = o.likelihood == LatentLikelihood::sum ? sum(ll, {2, 3}) : mean(sum(ll, {2}) / counts, {2});
  out.squared_error = sum_of(masked_sq) / static_cast<double>(K);
  out.scored = sum(m).item();
  out.mse_ref = sum_of(mean(sum(masked_sq, {2}) / counts, {2})) / static_cast<double>(K);
  return out;
}

// KL(N(mean, std) || N(0, I)) per sequence [B].
Var kl_divergence(const Var& mean, const Var& std) {
  return sum((square(std) + square(mean)) * 0.5 - log(std) - 0.5, {1});
}

// log (1/K) sum_k exp(v[k, b]) per sequence [B].
Var log_mean_exp(const Var& v) { return logsumexp(v, {0}) - std::log(static_cast<double>(v.size(0))); }

// The training regularisers' weighted means, added to the loss and reported per example.
void add_regularisers(BatchLoss& out, std::vector<std::pair<std::string, MetricSums>>& metrics, const LatentPass& p,
                      const Training& training, double n) {
  const std::pair<const Var*, double> terms[] = {{&p.kinetic, training.kinetic}, {&p.jacobian, training.jacobian}, {&p.taylor, training.taylor}};
  const char* names[] = {"kinetic", "jacobian", "taylor"};
  for (std::size_t i = 0; i < 3; ++i) {
    if (!terms[i].first->defined() || terms[i].second <= 0) continue;
    const Var weighted = mean(*terms[i].first) * terms[i].second;
    out.loss = out.loss + weighted;
    metrics.emplace_back(names[i], MetricSums{weighted.item() * n, n});
  }
}

}  // namespace

// The classifier on every z0 sample: its weighted cross-entropy joins the loss; the positive
// class's probability, averaged over the samples, ranks the sequences (auc).
void LatentOdeModel::add_classification(BatchLoss& out, std::vector<std::pair<std::string, MetricSums>>& metrics,
                                        const LatentPass& p, const data::IrregularSet& set, bool train,
                                        const std::vector<double>& class_weights) const {
  const std::int64_t K = p.z0.size(0), B = set.size();
  const Var logits = (*classifier_)(reshape(p.z0, Shape{K * B, options_.latent}));
  const std::vector<std::int64_t> labels = set.labels.to_indices();
  std::vector<std::int64_t> repeated;
  for (std::int64_t k = 0; k < K; ++k) repeated.insert(repeated.end(), labels.begin(), labels.end());
  const Tensor repeated_labels = Tensor::from_indices(repeated, Shape{K * B});
  const bool weighted = train && !class_weights.empty();
  const std::vector<double> w = weighted ? class_weights_of(repeated_labels, class_weights) : std::vector<double>{};
  const Var ce = weighted ? weighted_cross_entropy(logits, repeated, w) : cross_entropy(logits, repeated_labels);
  // what ce is the mean over, per sequence (each sample weighs its sequence's class weight): an
  // epoch pools the batches' ce by it, as its weighted mean asks (0: a batch that counts for nothing)
  const double pooled = weighted ? std::accumulate(w.begin(), w.end(), 0.0) / static_cast<double>(K) : static_cast<double>(B);
  out.loss = out.loss + ce * options_.ce_weight;
  // each sequence's class probabilities, averaged over the z0 samples (in f64: no f32 ties at 1)
  const std::int64_t C = logits.size(1);
  const Var probabilities = mean(reshape(softmax(cast(logits.detach(), DType::f64), 1), Shape{K, B, C}), {0});
  if (C == 2) {
    const double auc = roc_auc(select(probabilities, 1, 1).value().to_vector(), labels);
    metrics.emplace_back("auc", std::isnan(auc) ? MetricSums{0, 0} : MetricSums{auc, 1});
  }
  metrics.emplace_back("ce", MetricSums{ce.item() * pooled, pooled});
  if (!train) {
    out.predictions.classification = true, out.predictions.width = C;
    out.predictions.values = probabilities.value().to_vector();
    out.predictions.labels = labels;
    for (std::int64_t i = 0; i < B; ++i) out.predictions.example.push_back(i), out.predictions.step.push_back(-1);
  }
}

BatchLoss LatentOdeModel::loss(const data::Examples& examples, Mode mode, const Training& training) const {
  const data::IrregularSet& set = data::irregular_of(examples, "latent_ode");
  if (set.dims() != options_.variables) fail("latent_ode: built for {} variables, the batch has {}", options_.variables, set.dims());
  const bool classify = options_.task == LatentTask::classification;
  if (classify && !set.labelled()) fail("latent_ode: the classification task needs labels; set '{}' has none", set.name);
  const bool train = mode == Mode::train;
  // the draws (held-out steps, z0 samples, STEER, Hutchinson noise) repeat for a (seed, step); eval
  // draws are fixed per batch start, so batches of a split do not repeat each other's noise
  Generator gen(train ? training.seed ^ 0x4c4f4445ULL : eval_seed);
  gen.set_stream(training.first_stream(mode));
  const auto [seen, scored] = task_masks(set, &gen);
  const Regularisers reg = train ? training_regularisers(training) : Regularisers{};
  const int K = train ? options_.samples : options_.eval_samples;
  const LatentPass p = reconstruct(set, seen, K, gen, reg, train ? training_steer(training.steer, options_.steer_eps) : Steer{});
  const Likelihood lik = likelihood(p, set, scored, options_);
  const Var kl = kl_divergence(p.mean, p.std);
  const double kl_scale = options_.kl == LatentLikelihood::mean ? 1.0 / static_cast<double>(options_.latent) : 1.0;
  const double kl_coef = train ? kl_weight(options_, training.epoch) : 1.0;
  const double n = static_cast<double>(set.size());

  BatchLoss out;
  out.loss = mean(log_mean_exp(lik.per_sequence - unsqueeze(kl, 0) * (kl_coef * kl_scale))) * -1.0;
  std::vector<std::pair<std::string, MetricSums>> metrics;
  if (classify) add_classification(out, metrics, p, set, train, training.class_weights);
  else if (train && !training.class_weights.empty()) fail("class_weights: this latent ODE is not a classifier (task: classification)");
  metrics.emplace_back("mse", MetricSums{lik.squared_error, lik.scored});
  metrics.emplace_back("mse_ref", MetricSums{lik.mse_ref, n});
  metrics.emplace_back("elbo", MetricSums{sum_of(mean(lik.per_sequence, {0}) - kl), n});
  metrics.emplace_back("iwae", MetricSums{sum_of(log_mean_exp(lik.per_sequence + p.log_p - p.log_q)), n});
  metrics.emplace_back("kl", MetricSums{sum_of(kl), n});
  metrics.emplace_back("nfe", MetricSums{static_cast<double>(p.stats->calls), 1.0});
  double per_sample = 0;  // each trajectory's own evaluations (per-sample step control: fewer than the batch's calls)
  for (std::int64_t e : p.stats->nfe) per_sample += static_cast<double>(e);
  metrics.emplace_back("nfe_mean", MetricSums{per_sample / static_cast<double>(std::max<std::size_t>(1, p.stats->nfe.size())), 1.0});
  if (train) {
    metrics.emplace_back("kl_weight", MetricSums{kl_coef, 1.0});
    add_regularisers(out, metrics, p, training, n);
    out.after_backward = backward_nfe({p.stats});
  }
  out.metrics = std::move(metrics);
  return out;
}

}  // namespace tide::models
