// `tide bench models`: see bench_models.hpp. Single-threaded BLAS (the engine's default), f32.
#include "bench_models.hpp"
#include "machine.hpp"
#include "timing.hpp"
#include "tide/data/xor.hpp"
#include "tide/tide.hpp"
#include "train/trainer.hpp"
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <chrono>
#include <cmath>
#include <iostream>

namespace tide::cli {
namespace {

constexpr std::int64_t ltc_units = 64, ltc_inputs = 16, ltc_batch = 64;
constexpr int ltc_unfolds = 6;

// The same biophysical fused step written as plain loops over floats: the reference a user
// would hand-write in C (positive parameters already through softplus, masks folded into w).
struct HandLTC {
  std::int64_t N, I;
  std::vector<float> gleak, vleak, cm, w, mu, sigma, erev, sw, smu, ssigma, serev, in_w, in_b;
  explicit HandLTC(const models::BiophysicalLTCCell& cell) : N(cell.state_size()), I(cell.input_size()) {
    const auto& p = cell.params();
    auto vec = [](const Tensor& t) {
      std::vector<double> d = t.to_vector();
      return std::vector<float>(d.begin(), d.end());
    };
    gleak = vec(softplus(p.gleak.value())), vleak = vec(p.vleak.value()), cm = vec(softplus(p.cm.value()));
    w = vec(tide::mul(softplus(p.w.value()), tide::abs(cell.wiring().adjacency).to(DType::f32)));
    mu = vec(p.mu.value()), sigma = vec(p.sigma.value()), erev = vec(p.erev.value());
    sw = vec(tide::mul(softplus(p.sensory_w.value()), tide::abs(cell.wiring().sensory_adjacency).to(DType::f32)));
    smu = vec(p.sensory_mu.value()), ssigma = vec(p.sensory_sigma.value()), serev = vec(p.sensory_erev.value());
    in_w = vec(p.input_w.value()), in_b = vec(p.input_b.value());
  }
  void step(const float* x, float* v, float dt, std::int64_t B) const {
    std::vector<float> num(N), den(N), next(N);
    const float cm_t = static_cast<float>(ltc_unfolds) / dt;
    for (std::int64_t b = 0; b < B; ++b) {
      float* vb = v + b * N;
      std::vector<float> snum(N, 0.f), sden(N, 0.f);
      for (std::int64_t j = 0; j < I; ++j) {
        const float xj = x[b * I + j] * in_w[j] + in_b[j];
        for (std::int64_t i = 0; i < N; ++i) {
          const std::int64_t k = j * N + i;
          const float a = sw[k] / (1.f + std::exp(-ssigma[k] * (xj - smu[k])));
          snum[i] += a * serev[k], sden[i] += a;
        }
      }
      for (int u = 0; u < ltc_unfolds; ++u) {
        for (std::int64_t i = 0; i < N; ++i) num[i] = snum[i], den[i] = sden[i];
        for (std::int64_t j = 0; j < N; ++j) {
          const float vj = vb[j];
          const float* wr = &w[j * N];
          const float* sr = &sigma[j * N];
          const float* mr = &mu[j * N];
          const float* er = &erev[j * N];
          for (std::int64_t i = 0; i < N; ++i) {
            const float a = wr[i] / (1.f + std::exp(-sr[i] * (vj - mr[i])));
            num[i] += a * er[i], den[i] += a;
          }
        }
        for (std::int64_t i = 0; i < N; ++i)
          next[i] = (cm[i] * cm_t * vb[i] + gleak[i] * vleak[i] + num[i]) / (cm[i] * cm_t + gleak[i] + den[i]);
        std::copy(next.begin(), next.end(), vb);
      }
    }
  }
};

struct Figures {
  double ltc_step_ms = NAN, hand_ltc_step_ms = NAN, ltc_grad_ms = NAN, ltc_max_diff = NAN;
  double cfc_step_us = NAN, xor_epoch_s = NAN;
  std::int64_t xor_steps = 0;
};

void measure_ltc(Figures& f, const TimingPlan& plan) {
  Generator gen(1);
  models::BiophysicalLTCCell cell(models::fully_connected(ltc_inputs, ltc_units, ltc_units, 1), gen);
  const HandLTC hand(cell);
  const Var x(gen.normal(Shape{ltc_batch, ltc_inputs}, 0, 1));
  const Var v0(gen.uniform(Shape{ltc_batch, ltc_units}, -0.5, 0.5));
  const Var dt(Tensor::ones(Shape{ltc_batch, 1}));
  std::vector<float> xs, vs;
  for (double d : x.value().to_vector()) xs.push_back(static_cast<float>(d));
  for (double d : v0.value().to_vector()) vs.push_back(static_cast<float>(d));
  {  // the two implementations agree
    NoGrad ng;
    const std::vector<double> engine = cell.step(x, v0, dt).value().to_vector();
    std::vector<float> v = vs;
    hand.step(xs.data(), v.data(), 1.f, ltc_batch);
    f.ltc_max_diff = 0;
    for (std::size_t i = 0; i < v.size(); ++i) f.ltc_max_diff = std::max(f.ltc_max_diff, std::abs(engine[i] - v[i]));
  }
  TimedCase engine([&](std::int64_t n) {
    NoGrad ng;
    for (std::int64_t i = 0; i < n; ++i) do_not_optimize(cell.step(x, v0, dt));
  });
  std::vector<float> scratch = vs;
  TimedCase handwritten([&](std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i) {
      std::copy(vs.begin(), vs.end(), scratch.begin());
      hand.step(xs.data(), scratch.data(), 1.f, ltc_batch);
      do_not_optimize(scratch);
    }
  });
  TimedCase with_grad = repeated([&] { backward(sum(cell.step(x, v0, dt))); });
  run_interleaved({&engine, &handwritten, &with_grad}, plan);
  f.ltc_step_ms = engine.median_seconds() * 1e3;
  f.hand_ltc_step_ms = handwritten.median_seconds() * 1e3;
  f.ltc_grad_ms = with_grad.median_seconds() * 1e3;
}

void measure_cfc(Figures& f, const TimingPlan& plan) {
  Generator gen(2);
  models::CfCCell cell(ltc_inputs, ltc_units, gen);
  const Var x(gen.normal(Shape{ltc_batch, ltc_inputs}, 0, 1));
  const Var h(gen.uniform(Shape{ltc_batch, ltc_units}, -0.5, 0.5));
  const Var dt(Tensor::ones(Shape{ltc_batch, 1}));
  TimedCase step([&](std::int64_t n) {
    NoGrad ng;
    for (std::int64_t i = 0; i < n; ++i) do_not_optimize(cell.step(x, h, dt));
  });
  run_interleaved({&step}, plan);
  f.cfc_step_us = step.median_seconds() * 1e6;
}

void measure_xor_epoch(Figures& f, int repeats) {
  const data::SequenceSet set = data::xor_bitstream(100000, 1, data::XorEncoding::event);
  Generator gen(3);
  models::SequenceModel model(std::make_shared<models::MMRNNCell>(1, 64, gen), 2, gen);
  RMSprop opt(model.parameters(), RMSpropOptions{.lr = 5e-3});
  const std::int64_t batch = 256;
  std::vector<double> samples;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    std::int64_t steps = 0;
    for (std::int64_t b = 0; b < set.size(); b += batch, ++steps) {
      opt.zero_grad();
      backward(model.loss(data::SequenceExamples(set.slice(b, std::min(set.size(), b + batch))), models::Mode::train).loss);
      opt.step();
    }
    samples.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    f.xor_steps = steps;
  }
  f.xor_epoch_s = median(samples);
}

}  // namespace

int run_bench_models(const BenchModelsOptions& options) {
  TimingPlan plan;
  plan.repeats = options.repeats;
  plan.min_sample_seconds = 0.05;
  const CpuInfo cpu = read_cpu_info();
  Figures f;
  measure_ltc(f, plan);
  measure_cfc(f, plan);
  if (options.epoch) measure_xor_epoch(f, std::max(1, std::min(3, options.repeats)));
  const BlasInfo blas = blas_info();
  if (options.json) {
    nlohmann::json r;
    r["suite"] = "models";
    r["ltc_step_ms"] = f.ltc_step_ms;
    r["hand_ltc_step_ms"] = f.hand_ltc_step_ms;
    r["ltc_over_hand"] = f.ltc_step_ms / f.hand_ltc_step_ms;
    r["ltc_grad_ms"] = f.ltc_grad_ms;
    r["ltc_engine_vs_hand_max_diff"] = f.ltc_max_diff;
    r["cfc_step_us"] = f.cfc_step_us;
    if (options.epoch) r["xor_epoch_s"] = f.xor_epoch_s, r["xor_epoch_steps"] = f.xor_steps;
    r["targets"]["ltc_step_ms"] = {{"at_most", 0.7}, {"met", f.ltc_step_ms <= 0.7}};
    r["blas"] = {{"library", blas.library}, {"core_type", blas.core_type}, {"coretype_env", blas.coretype_env}, {"threads", blas.threads}};
    r["cpu"] = {{"model", cpu.model}, {"avx512f", cpu.avx512f}, {"avx2", cpu.avx2}, {"elementwise_clone", cpu.elementwise_clone}};
    r["dtype"] = "f32";
    r["repeats"] = plan.repeats;
    std::cout << r.dump(2) << std::endl;
    return 0;
  }
  fmt::print("tide bench models: f32, median of {} samples (each >= {:.0f} ms)\n", plan.repeats, 1e3 * plan.min_sample_seconds);
  fmt::print("cpu   {}  (elementwise clone: {})\n", cpu.model, cpu.elementwise_clone);
  fmt::print("blas  {}\n      core type: {}, OPENBLAS_CORETYPE: {}, threads: {}\n\n", blas.library, blas.core_type,
             blas.coretype_env.empty() ? "(unset)" : blas.coretype_env, blas.threads);
  fmt::print("ltc     biophysical, fully connected N = 64, 16 inputs, batch 64, 6 fused unfolds, one input step\n");
  fmt::print("cfc     default mode, backbone 128, 64 units, 16 inputs, batch 64, one input step\n");
  fmt::print("xor     mmRNN 64 units (Euler x4), event XOR 100,000 sequences, batch 256, RMSprop: one epoch\n\n");
  fmt::print("{:<22} {:>10} {:<4} {}\n", "figure", "value", "unit", "target");
  fmt::print("{:<22} {:>10.3f} {:<4} <= 0.7 {}\n", "ltc_step_ms", f.ltc_step_ms, "ms", f.ltc_step_ms <= 0.7 ? "met" : "NOT met");
  fmt::print("{:<22} {:>10.3f} {:<4} (same step, hand-fused scalar loop; engine/hand {:.2f}, max diff {:.1e})\n",
             "hand_ltc_step_ms", f.hand_ltc_step_ms, "ms", f.ltc_step_ms / f.hand_ltc_step_ms, f.ltc_max_diff);
  fmt::print("{:<22} {:>10.3f} {:<4}\n", "ltc_grad_ms", f.ltc_grad_ms, "ms");
  fmt::print("{:<22} {:>10.1f} {:<4}\n", "cfc_step_us", f.cfc_step_us, "us");
  if (options.epoch) fmt::print("{:<22} {:>10.2f} {:<4} ({} steps)\n", "xor_epoch_s", f.xor_epoch_s, "s", f.xor_steps);
  return 0;
}

}  // namespace tide::cli
