// `tide bench models --peers`: issue 14's recurrent workloads on tide and on PyTorch + ncps
// (bench/peers/model_peers.py), same weights and data (written to safetensors files the peer
// reads), sampled round-robin in one run. f32 on both sides, one thread.
#include "bench_models.hpp"
#include "peer_table.hpp"
#include "tide/tide.hpp"
#include <fmt/format.h>
#include <memory>

namespace tide::cli {
namespace {

using models::CellPtr;
using models::CompiledStep;

// The training workloads' shapes: the humanoid data's 53 features, 64 units, batch 32, 32 steps.
constexpr std::int64_t kFeatures = 53, kUnits = 64, kBatch = 32, kSteps = 32;

void add_parameters(Archive& a, const std::string& prefix, const Module& m) {
  for (const auto& [name, p] : m.named_parameters()) a.add(prefix + name, p.value());
}

// Random inputs, targets and elapsed times (1 unless `random_dt`: U(0.5, 1.5)), and an all-valid mask.
struct SequenceData {
  Tensor x, y, dt, mask;
};
SequenceData sequence_data(bool random_dt) {
  Generator gen(7);
  SequenceData d;
  d.x = gen.normal(Shape{kBatch, kSteps, kFeatures}, 0, 1);
  d.y = gen.normal(Shape{kBatch, kSteps, kFeatures}, 0, 1);
  d.dt = random_dt ? gen.uniform(Shape{kBatch, kSteps}, 0.5, 1.5) : Tensor::ones(Shape{kBatch, kSteps});
  d.mask = Tensor::ones(Shape{kBatch, kSteps});
  return d;
}

// One optimizer step per call (zero_grad, forward, MSE, backward, Adam at 5e-3), from the model's
// current weights; the check is the loss before the step.
TideSide train_side(const std::string& label, std::shared_ptr<Module> model, std::function<Var()> forward, Tensor y) {
  auto adam = std::make_shared<Adam>(model->parameters(), AdamOptions{.lr = 5e-3});
  const auto call = [=] {
    adam->zero_grad();
    const Var loss = mean(square(forward() - Var(y)));
    backward(loss);
    adam->step();
    return loss.value().item();
  };
  return {label, call, {}};
}

// A sequence model (the cell + a linear read-out) trained on the data, compiled steps unless
// `eager`. Every call of `make` builds the same initial weights (fixed seeds).
std::shared_ptr<models::SequenceModel> sequence_model(const std::string& type) {
  Generator gen(3);
  const CellPtr cell = models::make_cell({{"type", type}, {"hidden", kUnits}}, kFeatures, gen, DType::f32, "bench");
  return std::make_shared<models::SequenceModel>(cell, kFeatures, gen, data::Task::regression);
}

TideSide sequence_side(const std::string& label, const std::string& type, const SequenceData& d, bool eager) {
  const auto model = sequence_model(type);
  model->set_compiled(!eager);
  return train_side(label, model, [model, d] { return (*model)(Var(d.x), d.dt, d.mask); }, d.y);
}

// CfC against ncps, mmRNN against the ODE-LSTM in PyTorch: the cell `type` with a read-out.
Comparison sequence_train(Peer& peer, PeerFiles& files, const std::string& name, const std::string& type,
                          const std::string& description, const std::string& peer_label, bool random_dt, double target,
                          const TimingPlan& plan) {
  const SequenceData d = sequence_data(random_dt);
  Archive a;
  add_parameters(a, "", *sequence_model(type));
  a.add("x", d.x);
  a.add("y", d.y);
  a.add("dt", d.dt);
  const std::string file = files.write(name, a);
  ComparisonRun run(fmt::format("{} ({})", name, description), {{peer_label, target}});
  run.add(sequence_side("tide", type, d, false));
  run.add(sequence_side("tide eager", type, d, true));
  run.add(peer, peer_label, {{"case", name}, {"file", file}});
  return run.run(plan);
}

// ncps' LTC(53, FullyConnected(64, 53)): the cell's first 53 units are the outputs (no read-out).
Comparison ltc_train(Peer& peer, PeerFiles& files, const TimingPlan& plan) {
  const SequenceData d = sequence_data(false);
  Generator gen(1);
  const auto cell = std::make_shared<models::BiophysicalLTCCell>(models::fully_connected(kFeatures, kUnits, kFeatures, 1), gen);
  Archive a;
  add_parameters(a, "ltc.", *cell);
  a.add("x", d.x);
  a.add("y", d.y);
  const std::string file = files.write("ltc_train_step", a);
  const auto side = [&](const std::string& label, bool eager) {
    Generator g(1);
    auto c = std::make_shared<models::BiophysicalLTCCell>(models::fully_connected(kFeatures, kUnits, kFeatures, 1), g);
    auto step = std::make_shared<CompiledStep>(c, !eager);
    const auto forward = [c, step, d] {
      Var state = c->initial_state(kBatch);
      std::vector<Var> outputs;
      for (std::int64_t t = 0; t < kSteps; ++t) {
        state = (*step)(select(Var(d.x), 1, t), state, Var(d.dt.slice(1, t, t + 1)));
        outputs.push_back(c->output(state));
      }
      return stack(outputs, 1);
    };
    return train_side(label, c, forward, d.y);
  };
  ComparisonRun run("ltc_train_step (ncps LTC(53, FullyConnected(64, 53), ode_unfolds=6), batch 32, 32 steps, MSE, Adam)",
                    {{"ncps", 5.0}});
  run.add(side("tide", false));
  run.add(side("tide eager", true));
  run.add(peer, "ncps", {{"case", "ltc_train_step"}, {"file", file}});
  return run.run(plan);
}

// One input step of the LTC cell (fully connected, 64 units, 16 inputs, batch 64, 6 unfolds):
// forward + backward of the outputs' sum.
Comparison ltc_cell(Peer& peer, PeerFiles& files, const TimingPlan& plan) {
  Generator gen(1);
  const auto cell = std::make_shared<models::BiophysicalLTCCell>(models::fully_connected(16, 64, 64, 1), gen);
  const Var x(gen.normal(Shape{64, 16}, 0, 1)), v0(gen.uniform(Shape{64, 64}, -0.5, 0.5));
  const Var dt(Tensor::ones(Shape{64, 1}));
  Archive a;
  add_parameters(a, "ltc.", *cell);
  a.add("x", x.value());
  a.add("v0", v0.value());
  const std::string file = files.write("ltc_cell", a);
  const auto side = [&](const std::string& label, bool eager) {
    auto step = std::make_shared<CompiledStep>(cell, !eager);
    const auto call = [=] {
      cell->zero_grad();
      const Var out = sum(cell->output((*step)(x, v0, dt)));
      backward(out);
      return out.value().item();
    };
    return TideSide{label, call, {}};
  };
  ComparisonRun run("ltc_cell_fwd_bwd (ncps LTCCell, FullyConnected(64), 16 inputs, batch 64, 6 unfolds, one step: "
                    "forward + backward of sum(outputs); torch.compile's first s: a cold compile, empty inductor cache)",
                    {{"ncps", 3.0}});
  run.add(side("tide", false));
  run.add(side("tide eager", true));
  for (const char* v : {"ncps", "ncps_compiled"})
    run.add(peer, v == std::string("ncps") ? "ncps" : "ncps torch.compile", {{"case", "ltc_cell_fwd_bwd"}, {"variant", v}, {"file", file}});
  return run.run(plan);
}

}  // namespace

int run_bench_model_peers(const BenchModelsOptions& options) {
  TimingPlan plan;
  plan.repeats = options.repeats;
  plan.min_sample_seconds = 0.1;
  PeerFiles files;
  Peer peer(options.peers, "model_peers.py", {});
  std::vector<Comparison> all;
  all.push_back(ltc_cell(peer, files, plan));
  all.push_back(ltc_train(peer, files, plan));
  all.push_back(sequence_train(peer, files, "cfc_train_step", "cfc", "ncps CfC(53, 64, proj_size=53), batch 32, 32 steps, MSE, Adam",
                               "ncps", false, 5.0, plan));
  all.push_back(sequence_train(peer, files, "mmrnn_train_step", "mmrnn",
                               "ODE-LSTM in PyTorch, 64 units, Euler x4 over U(0.5, 1.5) elapsed times, batch 32, 32 steps, MSE, Adam",
                               "torch", true, 3.0, plan));
  print_peer_report("models", "f32", all, peer_status({&peer}), plan, options.json);
  return 0;
}

}  // namespace tide::cli
