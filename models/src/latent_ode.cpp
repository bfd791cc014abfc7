// The latent ODE (latent_ode.hpp): the recognition network run backwards over each sequence, the
// generative solve on per-sample grids (or the batch's union of times), and the bound, metrics and
// regularisers of one batch.
#include "tide/models/latent_ode.hpp"
#include "tide/data/irregular.hpp"
#include "tide/models/metrics.hpp"
#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <fmt/ranges.h>

namespace tide::models {

namespace {

constexpr double kLog2Pi = 1.8378770664093453;
std::vector<std::int64_t> widths(std::int64_t in, const std::vector<std::int64_t>& hidden, std::int64_t out) {
  std::vector<std::int64_t> w{in};
  w.insert(w.end(), hidden.begin(), hidden.end());
  w.push_back(out);
  return w;
}

// The encoder's input width per step: values and mask (and the elapsed time for the RNN encoder).
std::int64_t encoder_inputs(const LatentOdeOptions& o) { return 2 * o.variables + (o.encoder == LatentEncoder::rnn ? 1 : 0); }

}  // namespace

LatentOdeModel::LatentOdeModel(const LatentOdeOptions& o, Generator& gen)
    : options_(o),
      dynamics_(o.latent, o.dynamics_hidden, CnfLayer::ignore, CnfActivation::tanh, gen, o.dtype),
      encoder_ode_(widths(o.encoder_state, o.encoder_hidden, o.encoder_state), Activation::tanh, gen, linear_options(o.dtype)),
      update_gate_({2 * o.encoder_state + encoder_inputs(o), o.gru_units, o.encoder_state}, Activation::tanh, gen,
                   linear_options(o.dtype), Activation::sigmoid),
      reset_gate_({2 * o.encoder_state + encoder_inputs(o), o.gru_units, o.encoder_state}, Activation::tanh, gen,
                  linear_options(o.dtype), Activation::sigmoid),
      new_state_({2 * o.encoder_state + encoder_inputs(o), o.gru_units, 2 * o.encoder_state}, Activation::tanh, gen,
                 linear_options(o.dtype)),
      to_z0_({2 * o.encoder_state, 100, 2 * o.latent}, Activation::tanh, gen, linear_options(o.dtype)),
      decoder_(o.latent, o.variables, gen, linear_options(o.dtype)) {
  if (o.variables < 1 || o.latent < 1 || o.encoder_state < 1) fail("latent_ode: variables, latent and encoder_state must be >= 1");
  if (o.samples < 1 || o.eval_samples < 1) fail("latent_ode: samples and eval_samples must be >= 1");
  if (!(o.obs_std > 0)) fail("latent_ode: obs_std must be > 0, got {}", o.obs_std);
  if (!(o.held_out >= 0 && o.held_out < 1)) fail("latent_ode: held_out must be in [0, 1), got {}", o.held_out);
  if (!(o.extrapolate_fraction > 0 && o.extrapolate_fraction < 1))
    fail("latent_ode: extrapolate_fraction must be in (0, 1), got {}", o.extrapolate_fraction);
  if (o.recognition.method == Method::ltc_fused || o.generative.method == Method::ltc_fused)
    fail("latent_ode: ltc_fused solves only the LTC cells");
  if (o.generative_model == LatentGenerative::rnn)
    generative_rnn_ = std::make_shared<GRUCell>(1, o.latent, gen, CellOptions{o.dtype, 1.0});
  if (o.task == LatentTask::classification) {
    if (o.classes < 2) fail("latent_ode: the classification task needs labelled data with >= 2 classes, got {}", o.classes);
    classifier_ = std::make_shared<MLP>(widths(o.latent, o.classifier_hidden, o.classes), Activation::relu, gen, linear_options(o.dtype));
  }
}

namespace {
// The summary's notes of the non-default variants (the defaults' summaries read as before).
std::string encoder_time_note(const LatentOdeOptions& o) {
  return o.encoder_time == LatentEncoderTime::to_next ? ", time to the next observation" : "";
}
std::string kl_note(const LatentOdeOptions& o) { return o.kl == LatentLikelihood::mean ? ", KL averaged over z" : ""; }
}  // namespace

std::string LatentOdeModel::name() const {
  const LatentOdeOptions& o = options_;
  if (o.generative_model == LatentGenerative::rnn)
    return fmt::format("RNN-VAE: {} encoder ({}{}), z {} with a GRU decoder over the elapsed times; {}, {} trajectory sample(s), obs std {:g}{}",
                       o.encoder == LatentEncoder::ode_rnn ? "ODE-RNN" : "RNN", o.encoder_state,
                       o.encoder == LatentEncoder::rnn ? encoder_time_note(o) : "", o.latent,
                       latent_task_names()[static_cast<std::size_t>(o.task)], o.samples, o.obs_std, kl_note(o));
  return fmt::format("latent ODE: {} encoder ({}{}), z {} with f {} (tanh) by {}{}; {}, {} trajectory sample(s), obs std {:g}{}",
                     o.encoder == LatentEncoder::ode_rnn ? "ODE-RNN" : "RNN", o.encoder_state,
                     o.encoder == LatentEncoder::ode_rnn ? ", " + o.recognition.str() : encoder_time_note(o), o.latent,
                     fmt::join(widths(o.latent, o.dynamics_hidden, o.latent), "-"), o.generative.str(),
                     o.grid == LatentGrid::union_of_times ? " on the batch's union of times" : "",
                     latent_task_names()[static_cast<std::size_t>(o.task)], o.samples, o.obs_std, kl_note(o));
}

// ---- recognition ---------------------------------------------------------------------------------

Var LatentOdeModel::encoder_step(const Var& mean, const Var& std, const Var& input, const Var& observed) const {
  const std::int64_t S = options_.encoder_state;
  const Var y = concat({mean, std, input}, 1);
  const Var u = update_gate_(y), r = reset_gate_(y);
  const Var fresh = new_state_(concat({mean * r, std * r, input}, 1));
  const Var new_mean = (1.0 - u) * slice(fresh, 1, 0, S) + u * mean;
  const Var new_std = abs((1.0 - u) * abs(slice(fresh, 1, S, 2 * S)) + u * std);
  // a step observing nothing leaves the state as it was
  return concat({observed * new_mean + (1.0 - observed) * mean, observed * new_std + (1.0 - observed) * std}, 1);
}

namespace {

// z0 is the state at t = 0, where the encoder ends and the generative solve starts: a time before
// it has no place on that line (the encoder would step away from 0 and back).
void check_times(const data::IrregularSet& set) {
  const std::int64_t T = set.steps();
  const std::vector<double> t = set.times.to_vector();
  const std::vector<std::int64_t> len = set.lengths.to_indices();
  for (std::size_t b = 0; b < len.size(); ++b)
    for (std::int64_t k = 0; k < len[b]; ++k)
      if (const double v = t[b * static_cast<std::size_t>(T) + static_cast<std::size_t>(k)]; !(v >= 0))
        fail("latent_ode: observation times must be >= 0 (z0 is the state at t = 0); sequence {}{} of '{}' has t = {} at step {}",
             b, b < set.ids.size() ? fmt::format(" (id {})", set.ids[b]) : "", set.name, v, k);
}

// Per step, backwards: the interval each sequence's state is carried over before step k (0 until
// its first visible step), and whether step k shows the encoder anything.
struct EncoderPlan {
  std::vector<std::vector<double>> dt;        // [T + 1][B]: dt[k] before step k (from k + 1), dt[T] to t = 0 after step 0
  std::vector<std::vector<double>> elapsed;   // [T][B]: the RNN encoder's time input at visible step k (LatentEncoderTime)
  std::vector<std::vector<double>> observed;  // [T][B]
  Tensor seen_values, seen_mask;              // [B, T, D] the values and mask the encoder sees
};

EncoderPlan plan_encoder(const data::IrregularSet& set, const Tensor& seen, LatentEncoderTime time_input) {
  const std::int64_t B = set.size(), T = set.steps(), D = set.dims();
  const std::vector<double> t = set.times.to_vector(), s = seen.to_vector();
  const Tensor mask = mul(set.mask, seen.to(DType::f32).reshape(Shape{B, T, 1}));
  const std::vector<double> m = mask.to_vector();
  EncoderPlan p;
  p.dt.assign(static_cast<std::size_t>(T + 1), std::vector<double>(static_cast<std::size_t>(B), 0.0));
  p.observed.assign(static_cast<std::size_t>(T), std::vector<double>(static_cast<std::size_t>(B), 0.0));
  p.elapsed = p.observed;
  for (std::int64_t b = 0; b < B; ++b) {
    const auto bb = static_cast<std::size_t>(b);
    bool started = false;
    for (std::int64_t k = T - 1; k >= 0; --k) {
      const auto i = static_cast<std::size_t>(b * T + k), kk = static_cast<std::size_t>(k);
      // a hidden step leaves the ODE-RNN state as it was, so its interval joins the next visible one's
      if (started) p.dt[kk][bb] = t[i + 1] - t[i];
      double any = 0;
      for (std::int64_t d = 0; d < D; ++d) any += m[i * static_cast<std::size_t>(D) + static_cast<std::size_t>(d)];
      if (any > 0) p.observed[kk][bb] = 1, started = true;
    }
    if (started) p.dt[static_cast<std::size_t>(T)][bb] = t[static_cast<std::size_t>(b * T)];
    // The RNN encoder's time input: since the previous visible step, the first's since 0 (q(z0) can
    // place the sequence in time, as the ODE-RNN does by its final interval), or to the next one.
    const bool forward = time_input == LatentEncoderTime::since_previous;
    double other = forward ? 0.0 : -1.0;  // the neighbouring visible step's time met so far (-1: none yet)
    for (std::int64_t j = 0; j < T; ++j) {
      const std::int64_t k = forward ? j : T - 1 - j;
      const auto i = static_cast<std::size_t>(b * T + k), kk = static_cast<std::size_t>(k);
      if (p.observed[kk][bb] == 0) continue;
      p.elapsed[kk][bb] = forward ? t[i] - other : (other < 0 ? 0.0 : other - t[i]);
      other = t[i];
    }
  }
  p.seen_values = mul(set.values, mask);
  p.seen_mask = mask;
  return p;
}

bool any_nonzero(const std::vector<double>& v) {
  return std::any_of(v.begin(), v.end(), [](double x) { return x != 0; });
}

}  // namespace

std::pair<Var, Var> LatentOdeModel::encode(const data::IrregularSet& set, const Tensor& seen) const {
  const std::int64_t B = set.size(), T = set.steps(), S = options_.encoder_state;
  const DType dt_type = options_.dtype;
  check_times(set);
  const EncoderPlan plan = plan_encoder(set, seen, options_.encoder_time);
  const bool ode = options_.encoder == LatentEncoder::ode_rnn;
  const MLP* f = &encoder_ode_;
  const IntervalDynamics backwards = [f](const Var& h, const Rows&) { return -(*f)(h); };  // dh/d(-t)
  const auto column = [&](const std::vector<double>& v) { return Var(Tensor::from_vector(v, Shape{B, 1}, dt_type)); };
  Var mean(Tensor::zeros(Shape{B, S}, dt_type)), std(Tensor::zeros(Shape{B, S}, dt_type));
  for (std::int64_t k = T - 1; k >= 0; --k) {
    const std::vector<double>& dt = plan.dt[static_cast<std::size_t>(k)];
    if (ode && any_nonzero(dt)) mean = integrate_interval(backwards, mean, column(dt), options_.recognition);
    std::vector<Var> input{Var(plan.seen_values.select(1, k).to(dt_type)), Var(plan.seen_mask.select(1, k).to(dt_type))};
    if (!ode) input.push_back(column(plan.elapsed[static_cast<std::size_t>(k)]));
    const Var state = encoder_step(mean, std, concat(input, 1), column(plan.observed[static_cast<std::size_t>(k)]));
    mean = slice(state, 1, 0, S), std = slice(state, 1, S, 2 * S);
  }
  if (ode && any_nonzero(plan.dt.back())) mean = integrate_interval(backwards, mean, column(plan.dt.back()), options_.recognition);
  const Var q = to_z0_(concat({mean, std}, 1));
  const std::int64_t L = options_.latent;
  return {slice(q, 1, 0, L), softplus(slice(q, 1, L, 2 * L)) + 1e-6};
}

// ---- generative ----------------------------------------------------------------------------------

namespace {

// The generative solve's grid for K copies of a batch and where each sequence's steps sit in it:
// rows of the solution [K B, Tg] flattened, index kb * Tg + position.
struct LatentGridPlan {
  Tensor times;  // f64 [K B, Tg] (per sample) or [Tg] (union)
  Tensor mask;   // f64 [K B, Tg] (per sample) or undefined
  Tensor index;  // i64 [K B T]
  std::int64_t columns = 0;  // Tg
};

// Per sample: [0, t_0, ..., t_{L-1}] (the 0 dropped when t_0 = 0), padded by repeating the last time.
LatentGridPlan per_sample_grid(const data::IrregularSet& set, int K) {
  const std::int64_t B = set.size(), T = set.steps(), Tg = T + 1;
  const std::vector<double> t = set.times.to_vector();
  const std::vector<std::int64_t> len = set.lengths.to_indices();
  std::vector<double> times(static_cast<std::size_t>(K * B * Tg)), mask(times.size(), 0.0);
  std::vector<std::int64_t> index(static_cast<std::size_t>(K * B * T));
  for (int k = 0; k < K; ++k)
    for (std::int64_t b = 0; b < B; ++b) {
      const std::int64_t row = k * B + b, L = len[static_cast<std::size_t>(b)];
      const std::int64_t off = t[static_cast<std::size_t>(b * T)] > 0 ? 1 : 0, count = L + off;
      for (std::int64_t j = 0; j < Tg; ++j) {
        const std::int64_t src = std::min(j, count - 1) - off;
        times[static_cast<std::size_t>(row * Tg + j)] = src < 0 ? 0.0 : t[static_cast<std::size_t>(b * T + src)];
        mask[static_cast<std::size_t>(row * Tg + j)] = j < count ? 1.0 : 0.0;
      }
      for (std::int64_t j = 0; j < T; ++j) index[static_cast<std::size_t>(row * T + j)] = row * Tg + std::min(j + off, count - 1);
    }
  return {Tensor::from_vector(times, Shape{K * B, Tg}, DType::f64), Tensor::from_vector(mask, Shape{K * B, Tg}, DType::f64),
          Tensor::from_indices(index, Shape{K * B * T}), Tg};
}

// One grid for the batch: 0 and every valid time of every sequence, sorted, duplicates merged.
LatentGridPlan union_grid(const data::IrregularSet& set, int K) {
  const std::int64_t B = set.size(), T = set.steps();
  const std::vector<double> t = set.times.to_vector();
  const std::vector<std::int64_t> len = set.lengths.to_indices();
  std::vector<double> all{0.0};
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t j = 0; j < len[static_cast<std::size_t>(b)]; ++j) all.push_back(t[static_cast<std::size_t>(b * T + j)]);
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  const auto Tg = static_cast<std::int64_t>(all.size());
  std::vector<std::int64_t> index(static_cast<std::size_t>(K * B * T));
  for (int k = 0; k < K; ++k)
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t j = 0; j < T; ++j) {
        const std::int64_t src = std::min(j, len[static_cast<std::size_t>(b)] - 1);
        const auto pos = std::lower_bound(all.begin(), all.end(), t[static_cast<std::size_t>(b * T + src)]) - all.begin();
        index[static_cast<std::size_t>((k * B + b) * T + j)] = (k * B + b) * Tg + pos;
      }
  return {Tensor::from_vector(all, Shape{Tg}, DType::f64), Tensor(), Tensor::from_indices(index, Shape{K * B * T}), Tg};
}

SolveOptions generative_options(const OdeSpec& spec, bool per_sample) {
  SolveOptions o;
  o.method = spec.method;
  o.rtol = spec.rtol;
  o.atol = spec.atol;
  o.gradient = spec.gradient;
  o.unfolds = tableau(spec.method).adaptive() ? 0 : spec.unfolds;
  o.per_sample = per_sample;
  return o;
}

}  // namespace

// The RNN-VAE's generative model: h = z0, then at each step h <- GRU([t_k - t_{k-1}], h) (t_{-1} = 0).
Var LatentOdeModel::decode_rnn(const Var& z0, const data::IrregularSet& set, LatentPass& pass) const {
  const std::int64_t K = z0.size(0), B = set.size(), T = set.steps(), L = options_.latent;
  const std::vector<double> t = set.times.to_vector();
  std::vector<Var> states;
  Var h = reshape(z0, Shape{K * B, L});
  for (std::int64_t k = 0; k < T; ++k) {
    std::vector<double> dt(static_cast<std::size_t>(K * B));
    for (std::int64_t r = 0; r < K * B; ++r) {
      const std::int64_t b = r % B;
      dt[static_cast<std::size_t>(r)] = t[static_cast<std::size_t>(b * T + k)] - (k > 0 ? t[static_cast<std::size_t>(b * T + k - 1)] : 0.0);
    }
    h = generative_rnn_->update(Var(Tensor::from_vector(dt, Shape{K * B, 1}, options_.dtype)), h);
    states.push_back(h);
  }
  pass.stats = std::make_shared<SolveStats>();  // no solve: no evaluations to count
  const Var z = reshape(permute(stack(states, 0), Shape{1, 0, 2}), Shape{K * B * T, L});
  return reshape(decoder_(z), Shape{K, B, T, options_.variables});
}

Var LatentOdeModel::decode(const Var& z0, const data::IrregularSet& set, const Regularisers& reg, const Steer& steer,
                           std::uint64_t seed, LatentPass& pass) const {
  check_times(set);
  if (generative_rnn_) {
    if (reg.any() || steer.enabled) fail("latent_ode: the RNN-VAE baseline (\"generative\": \"rnn\") has no ODE to regularise");
    return decode_rnn(z0, set, pass);
  }
  const std::int64_t K = z0.size(0), B = set.size(), T = set.steps(), L = options_.latent;
  const bool per_sample = options_.grid == LatentGrid::per_sample;
  const LatentGridPlan g = per_sample ? per_sample_grid(set, static_cast<int>(K)) : union_grid(set, static_cast<int>(K));
  SolveOptions o = generative_options(options_.generative, per_sample);
  o.mask = g.mask;
  o.regularisers = reg;
  o.steer = steer;
  o.seed = seed;
  const Solution sol = solve(solver_dynamics_.get(), reshape(z0, Shape{K * B, L}), Var(g.times), o);  // f64 times: no collisions in f32
  const Var rows = reshape(permute(sol.ys, Shape{1, 0, 2}), Shape{K * B * g.columns, L});
  const Var z = index_select(rows, 0, g.index);  // [K B T, L]
  pass.kinetic = sol.kinetic, pass.jacobian = sol.jacobian, pass.taylor = sol.taylor;
  pass.stats = sol.stats;
  return reshape(decoder_(z), Shape{K, B, T, options_.variables});
}

LatentPass LatentOdeModel::reconstruct(const data::IrregularSet& set, const Tensor& seen, int samples, Generator& gen,
                                       const Regularisers& reg, const Steer& steer) const {
  LatentPass p;
  std::tie(p.mean, p.std) = encode(set, seen);
  const std::int64_t B = set.size(), L = options_.latent;
  const Var eps(gen.normal(Shape{samples, B, L}, 0.0, 1.0, options_.dtype));
  p.z0 = unsqueeze(p.mean, 0) + unsqueeze(p.std, 0) * eps;
  const double constant = 0.5 * kLog2Pi * static_cast<double>(L);
  p.log_q = sum(square(eps) * -0.5 - unsqueeze(log(p.std), 0), {2}) - constant;
  p.log_p = sum(square(p.z0), {2}) * -0.5 - constant;
  const std::uint64_t seed = gen.seed() * 0x9E3779B97F4A7C15ULL + gen.stream() + 1;  // STEER's and the estimators' draws
  p.prediction = decode(p.z0, set, reg, steer, seed, p);
  return p;
}

std::pair<Tensor, Tensor> LatentOdeModel::trajectories(const Tensor& z0, double t_end, int points) const {
  if (points < 2 || !(t_end > 0)) fail("latent_ode: trajectories need points >= 2 and t_end > 0");
  NoGrad no_grad;
  std::vector<double> ts(static_cast<std::size_t>(points));
  for (int i = 0; i < points; ++i) ts[static_cast<std::size_t>(i)] = t_end * i / (points - 1);
  if (generative_rnn_) {  // the RNN-VAE stepped over the dense grid: no latent states returned
    const std::int64_t B = z0.size(0), D = options_.variables;
    data::IrregularSet grid;
    grid.variables.assign(static_cast<std::size_t>(D), "");
    std::vector<double> all;
    for (std::int64_t b = 0; b < B; ++b) all.insert(all.end(), ts.begin(), ts.end());
    grid.times = Tensor::from_vector(all, Shape{B, points}, DType::f64);
    LatentPass pass;
    const Var out = decode_rnn(unsqueeze(Var(z0.to(options_.dtype)), 0), grid, pass);  // [1, B, points, D]
    return {Tensor(), permute(select(out, 0, 0), Shape{1, 0, 2}).value().contiguous()};
  }
  const Var ys = solve(solver_dynamics_.get(), Var(z0.to(options_.dtype)), Var(Tensor::from_vector(ts, Shape{points}, options_.dtype)),
                       generative_options(options_.generative, true)).ys;
  return {ys.value(), decoder_(ys).value()};
}

std::pair<Tensor, Tensor> LatentOdeModel::task_masks(const data::IrregularSet& set, Generator* gen) const {
  const std::int64_t B = set.size(), T = set.steps();
  const std::vector<double> t = set.times.to_vector();
  const std::vector<std::int64_t> len = set.lengths.to_indices();
  std::vector<double> seen(static_cast<std::size_t>(B * T), 0.0), scored(seen.size(), 0.0);
  const std::vector<double> u = gen && options_.held_out > 0 ? gen->uniform(Shape{B, T}, 0.0, 1.0, DType::f64).to_vector()
                                                             : std::vector<double>(seen.size(), 1.0);
  for (std::int64_t b = 0; b < B; ++b) {
    const std::int64_t L = len[static_cast<std::size_t>(b)];
    const double cut = options_.extrapolate_fraction * t[static_cast<std::size_t>(b * T + L - 1)];
    bool any = false;
    for (std::int64_t j = 0; j < L; ++j) {
      const auto i = static_cast<std::size_t>(b * T + j);
      if (options_.task == LatentTask::extrapolation) {
        (t[i] <= cut ? seen : scored)[i] = 1;
      } else {
        scored[i] = 1;
        seen[i] = u[i] >= options_.held_out ? 1 : 0;
        any = any || seen[i] > 0;
      }
    }
    if (options_.task != LatentTask::extrapolation && !any) seen[static_cast<std::size_t>(b * T)] = 1;  // the encoder sees something
    // Extrapolation predicts the later part from the earlier one (the latent ODE paper's first
    // half -> second half): a sequence that starts after the cut has no earlier part to encode.
    if (options_.task == LatentTask::extrapolation && t[static_cast<std::size_t>(b * T)] > cut)
      fail("latent_ode: extrapolation encodes each sequence up to extrapolate_fraction ({:g}) x its last time, but sequence "
           "{} of the batch starts at t = {:g}, after its cut {:g}: the encoder would see nothing of it; measure each "
           "sequence's times from its start (t = 0), or raise extrapolate_fraction",
           options_.extrapolate_fraction, b, t[static_cast<std::size_t>(b * T)], cut);
  }
  return {Tensor::from_vector(seen, Shape{B, T}, DType::f64), Tensor::from_vector(scored, Shape{B, T}, DType::f64)};
}

std::vector<std::pair<std::string, Var>> LatentOdeModel::named_parameters() const {
  std::vector<std::pair<std::string, Var>> out;
  // the parts the chosen variant never runs are built (the same draws for the rest) but not listed:
  // not saved, counted or optimised
  if (!generative_rnn_) append_parameters(out, "dynamics", dynamics_);
  if (options_.encoder == LatentEncoder::ode_rnn) append_parameters(out, "encoder.ode", encoder_ode_);
  append_parameters(out, "encoder.update_gate", update_gate_);
  append_parameters(out, "encoder.reset_gate", reset_gate_);
  append_parameters(out, "encoder.new_state", new_state_);
  append_parameters(out, "encoder.to_z0", to_z0_);
  append_parameters(out, "decoder", decoder_);
  if (generative_rnn_) append_parameters(out, "generative_rnn", *generative_rnn_);
  if (classifier_) append_parameters(out, "classifier", *classifier_);
  return out;
}

}  // namespace tide::models
