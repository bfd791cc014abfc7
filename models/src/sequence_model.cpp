#include "tide/models/sequence_model.hpp"
#include "tide/models/metrics.hpp"
#include <algorithm>
#include <cmath>
#include <numeric>

namespace tide::models {
namespace {

void check_inputs(const Cell& cell, const Var& x, const Tensor& dt, const Tensor& mask) {
  if (x.rank() != 3 || x.size(2) != cell.input_size())
    fail("{}: input must be [B, T, {}], got {}", cell.name(), cell.input_size(), x.shape().str());
  const Shape bt{x.size(0), x.size(1)};
  if (!dt.defined() || dt.shape() != bt) fail("{}: dt must be [B, T] = {}, got {}", cell.name(), bt.str(), dt.defined() ? dt.shape().str() : "nothing");
  if (!mask.defined() || mask.shape() != bt) fail("{}: mask must be [B, T] = {}, got {}", cell.name(), bt.str(), mask.defined() ? mask.shape().str() : "nothing");
  if (x.size(1) == 0) fail("{}: sequences need at least one step, got x {}", cell.name(), x.shape().str());
  if (x.dtype() != cell.dtype())
    fail("{}: x must be {} (the model's dtype), got {} (convert it with cast/to)", cell.name(), dtype_name(cell.dtype()), x.value().str());
}

// A [B, T] mask's values on the host, each 0 (padding) or 1 (valid): other values were used
// inconsistently (masked_mse weighted by them, the cross-entropy and the state update took 0.5 as 1).
std::vector<double> mask_values(const Tensor& mask, const char* who) {
  const std::int64_t T = mask.size(1);
  std::vector<double> m = mask.to_vector();
  for (std::size_t i = 0; i < m.size(); ++i)
    if (m[i] != 0 && m[i] != 1)
      fail("{}: mask[{}, {}] = {} is not 0 or 1", who, static_cast<std::int64_t>(i) / T, static_cast<std::int64_t>(i) % T, m[i]);
  return m;
}

// Every valid step's elapsed time is finite (a NaN or inf one made the read-outs NaN, silently);
// a padded step's is not read (its state is held).
void check_elapsed(const Tensor& dt, const std::vector<double>& m, const char* who) {
  const std::int64_t T = dt.size(1);
  const std::vector<double> d = dt.to_vector();
  for (std::size_t i = 0; i < d.size(); ++i)
    if (m[i] != 0 && !std::isfinite(d[i]))
      fail("{}: dt[{}, {}] = {} on a valid step: elapsed times must be finite", who, static_cast<std::int64_t>(i) / T,
           static_cast<std::int64_t>(i) % T, d[i]);
}

// Per-row index of the last valid step, for per-sequence targets: a row with none is refused (its
// step 0 was scored, a prediction from padding).
std::vector<std::int64_t> last_steps(const Tensor& mask, const char* who) {
  const std::int64_t B = mask.size(0), T = mask.size(1);
  const std::vector<double> m = mask_values(mask, who);
  std::vector<std::int64_t> last(B, -1);
  for (std::int64_t b = 0; b < B; ++b) {
    for (std::int64_t t = 0; t < T; ++t)
      if (m[b * T + t] != 0) last[b] = t;
    if (last[b] < 0) fail("{}: row {} has no valid step (its mask is all 0)", who, b);
  }
  return last;
}

// Classification's shapes: logits [B, T, C], mask [B, T], labels [B] (per sequence) or [B, T] (per step).
void check_classification(const Shape& logits, const Tensor& labels, const Tensor& mask, const char* who) {
  const bool fits = logits.rank() == 3 && mask.shape() == Shape{logits[0], logits[1]} &&
                    (labels.rank() == 1 ? labels.size(0) == logits[0] : labels.shape() == mask.shape());
  if (!fits)
    fail("{}: logits [B, T, C], mask [B, T] and labels [B] or [B, T] expected, got {}, {}, {}", who, logits.str(),
         mask.shape().str(), labels.shape().str());
}

}  // namespace

SequenceModel::SequenceModel(CellPtr cell, std::int64_t outputs, Generator& gen, data::Task task)
    : cell_(std::move(cell)), readout_(cell_->output_size(), outputs, gen, linear_options(cell_->dtype())), task_(task),
      step_(cell_) {}

namespace {

Tensor in_dtype(const Tensor& t, DType dtype) { return t.dtype() == dtype ? t : t.to(dtype); }

// STEER, per interval (the solver's Steer::relative form, steer_intervals): each elapsed time
// scaled by a seeded U(1 - b, 1 + b) draw per training step, so a resumed run repeats it.
Tensor steered(const Tensor& dt, const Training& training) {
  if (training.steer <= 0) return dt;
  Generator g(training.seed ^ 0x5354454552ULL);
  g.set_stream(static_cast<std::uint64_t>(training.step));
  return steer_intervals(dt, training.steer, g);
}

}  // namespace

namespace {

// Binary per-sequence classification in training: the positive class's probability at the last
// valid step ranks the batch's sequences ("auc"; evaluation computes the split's from predictions).
// Probabilities are formed in f64 here and in the predictions: an f32 one rounds to 1 from a logit
// gap of ~17 on, and confident sequences would tie in the ranking.
void add_auc(BatchLoss& result, const Var& out, const data::SequenceSet& b) {
  const std::vector<double> p1 = select(softmax(cast(last_valid(out.detach(), b.mask), DType::f64), 1), 1, 1).value().to_vector();
  // a diverged model (NaN outputs) has no ranking: its NaN loss is what the trainer reports
  if (!std::all_of(p1.begin(), p1.end(), [](double p) { return std::isfinite(p); })) return;
  const double auc = roc_auc(p1, b.y.to_indices());
  result.metrics.emplace_back("auc", std::isnan(auc) ? MetricSums{0, 0} : MetricSums{auc, 1});
}

// A row per prediction: per-step targets at every valid step, per-sequence ones at the last.
Predictions sequence_predictions(const Var& out, const data::SequenceSet& b, bool classify) {
  const std::int64_t B = out.size(0), T = out.size(1), O = out.size(2);
  const std::vector<double> v = (classify ? softmax(cast(out.detach(), DType::f64), 2) : out.detach()).value().to_vector();
  const std::vector<double> m = b.mask.to_vector();
  const bool per_step = b.y.rank() == (classify ? 2 : 3);
  const std::vector<std::int64_t> last = per_step ? std::vector<std::int64_t>{} : last_steps(b.mask, "predictions");
  const std::vector<std::int64_t> labels = classify ? b.y.to_indices() : std::vector<std::int64_t>{};
  const std::vector<double> y = classify ? std::vector<double>{} : b.y.to_vector();
  Predictions p;
  p.classification = classify, p.width = O;
  for (std::int64_t n = 0; n < B; ++n)
    for (std::int64_t t = 0; t < T; ++t) {
      if (per_step ? m[n * T + t] == 0 : t != last[n]) continue;
      const std::int64_t at = per_step ? n * T + t : n;  // the target's row
      p.example.push_back(n), p.step.push_back(t);
      p.values.insert(p.values.end(), v.begin() + (n * T + t) * O, v.begin() + (n * T + t + 1) * O);
      if (classify) p.labels.push_back(labels[at]);
      else p.targets.insert(p.targets.end(), y.begin() + at * O, y.begin() + (at + 1) * O);
    }
  return p;
}

OdeRegularisation cell_regularisation(const Training& t) {
  return {.kinetic = t.kinetic, .jacobian = t.jacobian, .taylor = t.taylor, .taylor_order = t.taylor_order,
          .seed = t.seed * 0x100000001B3ULL + static_cast<std::uint64_t>(t.step)};
}

// The regularisers' weighted integrals into the loss (their mean over the batch) and, per term,
// into the metrics.
void add_regularisation(BatchLoss& result, const OdeRegulariser& r, const std::string& cell, std::int64_t batch) {
  const OdeRegularisation& w = r.weights();
  if (!r.total().defined())
    fail("regularisers.{}: {} has no ODE part that a solver integrates (CfC's closed form and the discrete cells add "
         "nothing); set the weights to 0, or pick a cell with an ODE part",
         w.kinetic > 0 ? "kinetic" : w.jacobian > 0 ? "jacobian" : "taylor", cell);
  result.loss = result.loss + mean(r.total());
  for (const auto& [term, value] : r.terms())
    result.metrics.emplace_back(term, MetricSums{sum(value).item(), static_cast<double>(batch)});
}

}  // namespace

namespace {
double loss_weight(const data::SequenceSet& b, bool classify, const std::vector<double>& class_weights);
}  // namespace

BatchLoss SequenceModel::loss(const data::Examples& examples, Mode mode, const Training& training) const {
  const data::SequenceSet& b = data::sequences_of(examples, "sequence model");
  const DType dtype = cell_->dtype();
  const bool train = mode == Mode::train;
  if (train && training.steer >= 1)
    fail("regularisers.steer: sequence models scale each elapsed time by U(1 - b, 1 + b), so b must be < 1; got {}", training.steer);
  OdeRegulariser regularisation(train ? cell_regularisation(training) : OdeRegularisation{});
  const Var out = (*this)(Var(in_dtype(b.x, dtype)), train ? steered(b.dt, training) : b.dt, b.mask, &regularisation);
  const bool classify = task_ == data::Task::classification;
  BatchLoss result;
  result.loss = classify ? masked_cross_entropy(out, b.y, b.mask, train ? training.class_weights : std::vector<double>{})
                         : masked_mse(out, in_dtype(b.y, dtype), b.mask);
  if (!classify && train && !training.class_weights.empty())
    fail("class_weights: {} is trained for regression here; class weights are for classification", cell_->name());
  result.weight = loss_weight(b, classify, train ? training.class_weights : std::vector<double>{});
  const Tensor value = out.value();
  result.metrics.emplace_back(metric(), classify ? correct_predictions(value, b.y, b.mask) : squared_error(value, b.y, b.mask));
  if (train && classify && b.y.rank() == 1 && b.classes == 2) add_auc(result, out, b);
  if (!train) result.predictions = sequence_predictions(out, b, classify);
  if (regularisation.weights().any()) add_regularisation(result, regularisation, cell_->name(), b.size());
  if (regularisation.nfe() > 0) result.metrics.emplace_back("nfe", MetricSums{static_cast<double>(regularisation.nfe()), 1.0});
  return result;
}

Var SequenceModel::states(const Var& x, const Tensor& dt, const Tensor& mask, std::vector<Var>* keep,
                          OdeRegulariser* regulariser) const {
  check_inputs(*cell_, x, dt, mask);
  const std::int64_t B = x.size(0), T = x.size(1);
  // Time-major copies made once: a step's inputs x[:, t] and dt[:, t] are then contiguous blocks
  // (slices of [B, T, ..] are strided, and each step would copy them). An x that needs a gradient
  // is sliced as it is, so its gradient flows.
  const Var x_steps = x.requires_grad() ? x : Var(x.value().transpose(0, 1).contiguous());
  const std::vector<double> m = mask_values(mask, cell_->name().c_str());
  check_elapsed(dt, m, cell_->name().c_str());
  const Tensor maskc = mask.to(cell_->dtype()).to(x.device());
  // A padded step's elapsed time is 0: its state is held (below), so the regularisers integrate
  // nothing over it and an adaptive solver spends no steps on it.
  const Tensor dtc = dt.to(cell_->dtype()).to(x.device());
  const Tensor zero = Tensor::scalar(0.0, dtc.dtype(), dtc.device());
  const Tensor dt_steps = tide::where(maskc, dtc, zero).transpose(0, 1).contiguous();  // [T, B]
  const Tensor maskx = in_dtype(maskc, x.dtype());
  const Var zero_x(Tensor::scalar(0.0, x.dtype(), x.device()));
  Var state = cell_->initial_state(B);
  std::vector<Var> all;
  all.reserve(T);
  for (std::int64_t t = 0; t < T; ++t) {
    bool any = false, every = true;
    for (std::int64_t b = 0; b < B; ++b) {
      const bool valid = m[b * T + t] != 0;
      any |= valid, every &= valid;
    }
    if (any) {
      Var x_t = x.requires_grad() ? select(x, 1, t) : select(x_steps, 0, t);
      // A padded row's input is 0: its step's result is discarded below, but the backward multiplies
      // that zero cotangent by the step's partials, and a non-finite padded x made those (and so the
      // parameters' gradients) NaN.
      if (!every) x_t = where(Var(maskx.slice(1, t, t + 1)), x_t, zero_x);
      const Var next = step_(x_t, state, Var(dt_steps.select(0, t).reshape(Shape{B, 1})), regulariser);
      // a selection, not state + m (next - state): that is not next to the bit on valid rows (so
      // they depended on the batch's padding), and a padded row's non-finite next made it NaN
      if (!every) state = where(Var(maskc.slice(1, t, t + 1)), next, state);
      else state = next;
    }
    all.push_back(state);
    if (keep) keep->push_back(state);
  }
  return stack(all, 0);
}

Var SequenceModel::operator()(const Var& x, const Tensor& dt, const Tensor& mask, OdeRegulariser* regulariser) const {
  const Var s = states(x, dt, mask, nullptr, regulariser);              // [T, B, S]
  const std::int64_t T = s.size(0), B = s.size(1);
  const Var features = cell_->output(reshape(s, Shape{T * B, s.size(2)}));  // [T B, H]
  const Var out = reshape(readout_(features), Shape{T, B, readout_.out_features()});
  return permute(out, Shape{1, 0, 2});           // [B, T, O]
}

std::vector<std::pair<std::string, Var>> SequenceModel::named_parameters() const {
  std::vector<std::pair<std::string, Var>> out;
  append_parameters(out, cell_->name(), *cell_);
  append_parameters(out, "readout", readout_);
  return out;
}

namespace {

// last_valid, its errors naming `who` (the loss that asked).
Var last_valid_of(const Var& outputs, const Tensor& mask, const char* who) {
  if (outputs.rank() != 3 || mask.rank() != 2 || mask.size(0) != outputs.size(0) || mask.size(1) != outputs.size(1))
    fail("{}: outputs [B, T, O] and mask [B, T] expected, got {} and {}", who, outputs.shape().str(), mask.shape().str());
  const std::int64_t B = outputs.size(0), O = outputs.size(2);
  std::vector<std::int64_t> index;
  index.reserve(B * O);
  for (std::int64_t t : last_steps(mask, who)) index.insert(index.end(), O, t);
  const Tensor idx = Tensor::from_indices(index, Shape{B, 1, O}, outputs.device());
  return reshape(gather(outputs, 1, idx), Shape{B, O});
}

}  // namespace

Var last_valid(const Var& outputs, const Tensor& mask) { return last_valid_of(outputs, mask, "last_valid"); }

Var weighted_cross_entropy(const Var& logits, const std::vector<std::int64_t>& labels, const std::vector<double>& weights) {
  const std::int64_t N = logits.size(0);
  if (logits.rank() != 2 || static_cast<std::int64_t>(labels.size()) != N || static_cast<std::int64_t>(weights.size()) != N)
    fail("weighted_cross_entropy: logits [N, C] with N labels and weights expected, got {}, {} labels, {} weights",
         logits.shape().str(), labels.size(), weights.size());
  double total = 0;
  for (double w : weights) total += w;
  for (double w : weights)
    if (!(w >= 0) || std::isinf(w)) fail("weighted_cross_entropy: weights must be finite and >= 0, got {}", w);
  // Every example of a class weighted 0: the mean has nothing to average, and the batch adds
  // nothing (a zero loss that still reaches the logits, so backward() runs; its pooling weight is 0).
  if (total == 0) return sum(logits) * 0.0;
  // Rows weighted 0 (masked steps, padding) are left out rather than multiplied by 0: a -inf
  // log-probability there would make the loss 0 * -inf = NaN.
  std::vector<std::int64_t> kept, kept_labels;
  std::vector<double> kept_weights;
  for (std::int64_t i = 0; i < N; ++i)
    if (weights[static_cast<std::size_t>(i)] != 0)
      kept.push_back(i), kept_labels.push_back(labels[static_cast<std::size_t>(i)]),
          kept_weights.push_back(weights[static_cast<std::size_t>(i)]);
  const std::int64_t K = static_cast<std::int64_t>(kept.size());
  const Var rows = K == N ? logits : index_select(logits, 0, Tensor::from_indices(kept, Shape{K}, logits.device()));
  const Var logp = log_softmax(rows, 1);
  const Var picked = gather(logp, 1, Tensor::from_indices(kept_labels, Shape{K, 1}, logits.device()));
  const Tensor w = Tensor::from_vector(kept_weights, Shape{K, 1}, logits.dtype()).to(logits.device());
  return -sum(picked * Var(w)) * (1.0 / total);
}

namespace {

// Each row's weight: its class's (1 without class weights) where the mask is nonzero, else 0.
std::vector<double> row_weights(const std::vector<std::int64_t>& labels, const std::vector<double>& mask, std::int64_t C,
                                const std::vector<double>& class_weights) {
  if (!class_weights.empty() && static_cast<std::int64_t>(class_weights.size()) != C)
    fail("class_weights: {} weights for {} classes", class_weights.size(), C);
  std::vector<double> w(labels.size(), 0.0);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (mask[i] == 0) continue;
    if (labels[i] < 0 || labels[i] >= C) fail("masked_cross_entropy: label {} at position {} is not in 0..{}", labels[i], i, C - 1);
    w[i] = class_weights.empty() ? 1.0 : class_weights[static_cast<std::size_t>(labels[i])];
  }
  return w;
}

// What a batch's masked loss is the mean over (BatchLoss::weight): per-step targets average over
// the valid steps (weighted by class), one target per sequence over the sequences (their class
// weights' sum when given; -1 when unweighted: the batch's size).
double loss_weight(const data::SequenceSet& b, bool classify, const std::vector<double>& class_weights) {
  const bool per_step = classify ? b.y.rank() == 2 : b.y.rank() == 3;
  if (!per_step && class_weights.empty()) return -1.0;
  const std::vector<double> mask = per_step ? b.mask.to_vector() : std::vector<double>(static_cast<std::size_t>(b.size()), 1.0);
  if (!classify) return std::accumulate(mask.begin(), mask.end(), 0.0, [](double acc, double m) { return acc + (m != 0); });
  const std::vector<double> w = row_weights(b.y.to_indices(), mask, b.classes, class_weights);
  return std::accumulate(w.begin(), w.end(), 0.0);
}

}  // namespace

Var masked_cross_entropy(const Var& logits, const Tensor& labels, const Tensor& mask, const std::vector<double>& class_weights) {
  if (labels.dtype() != DType::i64) fail("masked_cross_entropy: labels must be i64, got {}", labels.str());
  check_classification(logits.shape(), labels, mask, "masked_cross_entropy");
  if (labels.rank() == 1) {
    const Var last = last_valid_of(logits, mask, "masked_cross_entropy");
    if (class_weights.empty()) return cross_entropy(last, labels.to(logits.device()));
    const std::vector<std::int64_t> y = labels.to_indices();
    return weighted_cross_entropy(last, y, row_weights(y, std::vector<double>(y.size(), 1.0), last.size(1), class_weights));
  }
  const std::int64_t N = labels.numel(), C = logits.size(2);
  std::vector<std::int64_t> lab = labels.to_indices();
  const std::vector<double> m = mask_values(mask, "masked_cross_entropy");
  if (std::all_of(m.begin(), m.end(), [](double v) { return v == 0; })) fail("masked_cross_entropy: the mask selects no step");
  const std::vector<double> w = row_weights(lab, m, C, class_weights);
  for (std::size_t i = 0; i < lab.size(); ++i)
    if (w[i] == 0) lab[i] = 0;  // padding: any valid index, weighted 0
  return weighted_cross_entropy(reshape(logits, Shape{N, C}), lab, w);
}

Var masked_mse(const Var& prediction, const Tensor& target, const Tensor& mask) {
  const Tensor tgt = target.to(prediction.dtype()).to(prediction.device());
  if (target.rank() == 2 && prediction.rank() == 3 && target.size(1) == prediction.size(2) && mask.rank() == 2 &&
      mask.size(1) == prediction.size(1) && target.size(0) == prediction.size(0))
    return mse_loss(last_valid_of(prediction, mask, "masked_mse"), Var(tgt));
  if (!(target.shape() == prediction.shape()) || prediction.rank() != 3 || mask.rank() != 2 ||
      mask.size(0) != prediction.size(0) || mask.size(1) != prediction.size(1))
    fail("masked_mse: prediction [B, T, O] with target [B, T, O] or [B, O] and mask [B, T] expected, got {}, {}, {}",
         prediction.shape().str(), target.shape().str(), mask.shape().str());
  double count = 0;
  for (double v : mask_values(mask, "masked_mse")) count += v;
  if (count == 0) fail("masked_mse: the mask selects no step");
  // the valid steps selected, not weighted by the mask: a padded step's target may be anything (NaN * 0 is NaN)
  const Tensor valid = mask.to(prediction.dtype()).to(prediction.device()).unsqueeze(2);
  const Var diff = where(Var(valid), prediction - Var(tgt), Var(Tensor::scalar(0.0, prediction.dtype(), prediction.device())));
  return sum(square(diff)) * (1.0 / (count * static_cast<double>(prediction.size(2))));
}

std::vector<double> class_weights_of(const Tensor& labels, const std::vector<double>& class_weights) {
  const std::vector<std::int64_t> y = labels.to_indices();
  std::vector<double> w;
  for (std::size_t i = 0; i < y.size(); ++i) {
    if (y[i] < 0 || y[i] >= static_cast<std::int64_t>(class_weights.size()))
      fail("class_weights: label {} of example {} has no weight ({} given)", y[i], i, class_weights.size());
    w.push_back(class_weights[static_cast<std::size_t>(y[i])]);
  }
  return w;
}

Predictions per_example_predictions(const Var& logits, const Tensor& labels) {
  Predictions p;
  p.classification = true, p.width = logits.size(1);
  p.values = softmax(cast(logits.detach(), DType::f64), 1).value().to_vector();
  p.labels = labels.to_indices();
  for (std::int64_t i = 0; i < logits.size(0); ++i) p.example.push_back(i), p.step.push_back(-1);
  return p;
}

MetricSums correct_predictions(const Tensor& logits, const Tensor& labels, const Tensor& mask) {
  check_classification(logits.shape(), labels, mask, "correct_predictions");
  const std::int64_t B = logits.size(0), T = logits.size(1), C = logits.size(2);
  const std::vector<double> l = logits.to_vector(), m = mask_values(mask, "correct_predictions");
  const std::vector<std::int64_t> y = labels.to_indices();
  const std::vector<std::int64_t> last = labels.rank() == 1 ? last_steps(mask, "correct_predictions") : std::vector<std::int64_t>{};
  auto argmax = [&](std::int64_t b, std::int64_t t) {
    const double* row = l.data() + (b * T + t) * C;
    return static_cast<std::int64_t>(std::max_element(row, row + C) - row);
  };
  MetricSums s;
  for (std::int64_t b = 0; b < B; ++b) {
    if (labels.rank() == 1) {
      s.value += argmax(b, last[b]) == y[b], s.count += 1;
      continue;
    }
    for (std::int64_t t = 0; t < T; ++t)
      if (m[b * T + t] != 0) s.value += argmax(b, t) == y[b * T + t], s.count += 1;
  }
  return s;
}

namespace {

// The squared errors of `squared_error` over host arrays of the prediction's type (reading the
// values in place: converting [B, T, O] predictions and targets to double vectors cost 8% of a
// CfC training step).
template <class T, class U>
MetricSums squared_error_sums(const T* p, const U* y, bool per_sequence, const std::vector<double>& m,
                              const std::vector<std::int64_t>& last, std::int64_t B, std::int64_t T_, std::int64_t O) {
  MetricSums s;
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t t = 0; t < T_; ++t) {
      if (per_sequence ? t != last[b] : m[b * T_ + t] == 0) continue;
      const T* pr = p + (b * T_ + t) * O;
      const U* yr = y + (per_sequence ? b * O : (b * T_ + t) * O);
      double acc = 0;
      for (std::int64_t o = 0; o < O; ++o) {
        const double d = static_cast<double>(pr[o]) - static_cast<double>(yr[o]);
        acc += d * d;
      }
      s.value += acc, s.count += static_cast<double>(O);
    }
  return s;
}

}  // namespace

MetricSums squared_error(const Tensor& prediction, const Tensor& target, const Tensor& mask) {
  const Shape& ps = prediction.shape();
  const bool per_sequence = target.rank() == 2;
  if (ps.rank() != 3 || target.shape() != (per_sequence ? Shape{ps[0], ps[2]} : ps) || mask.shape() != Shape{ps[0], ps[1]})
    fail("squared_error: prediction [B, T, O] with target [B, T, O] or [B, O] and mask [B, T] expected, got {}, {}, {}",
         prediction.shape().str(), target.shape().str(), mask.shape().str());
  const std::int64_t B = ps[0], T = ps[1], O = ps[2];
  // the target in its own dtype when it is the prediction's, else in f64 (an f64 target is never rounded)
  const Tensor p = prediction.to(Device::cpu()).contiguous();
  const Tensor y = (target.dtype() == p.dtype() ? target : target.to(DType::f64)).to(Device::cpu()).contiguous();
  const std::vector<double> m = mask_values(mask, "squared_error");
  const std::vector<std::int64_t> last = per_sequence ? last_steps(mask, "squared_error") : std::vector<std::int64_t>{};
  if (p.dtype() == DType::f32 && y.dtype() == DType::f32)
    return squared_error_sums(p.data<float>(), y.data<float>(), per_sequence, m, last, B, T, O);
  if (p.dtype() == DType::f32) return squared_error_sums(p.data<float>(), y.data<double>(), per_sequence, m, last, B, T, O);
  if (p.dtype() == DType::f64) return squared_error_sums(p.data<double>(), y.data<double>(), per_sequence, m, last, B, T, O);
  fail("squared_error: floating predictions expected, got {}", prediction.str());
}

}  // namespace tide::models
