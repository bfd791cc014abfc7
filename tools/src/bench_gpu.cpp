// `tide bench gpu`: see bench_gpu.hpp. Host clock around n calls followed by one device
// synchronisation, median over --repeats samples, cases interleaved (timing.hpp); f32 throughout.
#include "bench_gpu.hpp"
#include "peers.hpp"
#include "timing.hpp"
#include "tide/tide.hpp"
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>

namespace tide::cli {
namespace {

constexpr std::int64_t width = 64;
constexpr double step_h = 0.01;

struct Workload {
  std::int64_t batch;
  double step_eager_us = NAN, step_graph_us = NAN, f_us = NAN;
  std::int64_t graph_nodes = 0;
};

// Times n calls of `call` plus one synchronisation, per call.
TimedCase device_case(std::function<void()> call) {
  return TimedCase([call = std::move(call)](std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i) call();
    cuda::synchronize();
  });
}

void measure(Workload& w, const MLP& mlp, const TimingPlan& plan) {
  NoGrad no_grad;
  Generator g(2);
  const Dynamics f = [&mlp](const Var& z, const Var&) { return mlp(z); };
  const Var y(g.normal(Shape{w.batch, width}, 0, 1, DType::f32, Device::cuda()));
  Tensor state = y.value().clone();
  cuda::Graph graph;
  graph.capture([&] { state.copy_(explicit_step(f, Var(state), 0.0, step_h, Method::rk4).value()); });
  w.graph_nodes = graph.nodes();
  TimedCase eager = device_case([&] { do_not_optimize(explicit_step(f, y, 0.0, step_h, Method::rk4)); });
  TimedCase replay = device_case([&] { graph.replay(); });
  TimedCase eval = device_case([&] { do_not_optimize(mlp(y)); });
  run_interleaved({&eager, &replay, &eval}, plan);
  w.step_eager_us = eager.median_seconds() * 1e6;
  w.step_graph_us = replay.median_seconds() * 1e6;
  w.f_us = eval.median_seconds() * 1e6;
}

// Achieved device-to-device bandwidth of a large copy (bytes read + written), the practical ceiling.
double copy_gbs(const TimingPlan& plan) {
  const Tensor src = Tensor::zeros(Shape{std::int64_t(1) << 28}, DType::f32, Device::cuda());  // 1 GiB
  Tensor dst = Tensor::empty(src.shape(), DType::f32, Device::cuda());
  TimedCase c = device_case([&] { dst.copy_(src); });
  run_interleaved({&c}, plan);
  return 2.0 * static_cast<double>(src.numel()) * 4.0 / c.median_seconds() / 1e9;
}

// A sequence model's training step on the GPU: the registry's cell of `type` with a linear
// read-out, on the shapes of `tide bench models --peers` (53 features, 64 units, batch 32, 32
// steps, MSE, Adam; its LTC side has no read-out, so that figure differs), eager cell steps against
// compiled ones (a plan replays the same kernels without the per-op host work). No peer here.
struct TrainStep {
  std::string type;
  double eager_ms = NAN, compiled_ms = NAN;
  std::string error;  // set when the step failed on the device
};

TrainStep train_step(const std::string& type, const TimingPlan& plan) {
  constexpr std::int64_t features = 53, units = 64, batch = 32, steps = 32;
  TrainStep r;
  r.type = type;
  Generator data(7);
  const Tensor x = data.normal(Shape{batch, steps, features}, 0, 1, DType::f32, Device::cuda());
  const Tensor y = data.normal(Shape{batch, steps, features}, 0, 1, DType::f32, Device::cuda());
  const Tensor dt = Tensor::ones(Shape{batch, steps}, DType::f32, Device::cuda());
  const Tensor mask = Tensor::ones(Shape{batch, steps}, DType::f32, Device::cuda());
  const auto side = [&](bool compiled) {
    Generator gen(3);
    const auto cell = models::make_cell({{"type", type}, {"hidden", units}}, features, gen, DType::f32, "bench");
    auto model = std::make_shared<models::SequenceModel>(cell, features, gen, data::Task::regression);
    model->set_compiled(compiled);
    auto adam = std::make_shared<Adam>(model->parameters(), AdamOptions{.lr = 5e-3});
    return device_case([=] {
      adam->zero_grad();
      backward(mean(square((*model)(Var(x), dt, mask) - Var(y))));
      adam->step();
    });
  };
  try {
    TimedCase eager = side(false), compiled = side(true);
    for (TimedCase* c : {&eager, &compiled}) c->loop(3);  // the compiled side traces here, not in a sample
    run_interleaved({&eager, &compiled}, plan);
    r.eager_ms = eager.median_seconds() * 1e3;
    r.compiled_ms = compiled.median_seconds() * 1e3;
  } catch (const std::exception& e) {
    r.error = e.what();
  }
  return r;
}

void add_training(nlohmann::json& out, const std::vector<TrainStep>& training) {
  for (const TrainStep& t : training) {
    out["train_step_" + t.type + "_eager_ms"] = t.eager_ms;
    out["train_step_" + t.type + "_compiled_ms"] = t.compiled_ms;
    if (!t.error.empty()) out["train_step_" + t.type + "_error"] = t.error;
  }
}

void print_training(const std::vector<TrainStep>& training) {
  fmt::print("\n  {:<34} {:>12} {:>12}\n", "training step, batch 32 x 32 steps", "eager", "compiled");
  for (const TrainStep& t : training) {
    if (!t.error.empty()) fmt::print("  {:<34} failed: {}\n", t.type, t.error);
    else fmt::print("  {:<34} {:>10.2f}ms {:>10.2f}ms\n", t.type, t.eager_ms, t.compiled_ms);
  }
}

nlohmann::json run_torch(const BenchGpuOptions& o, std::string& why) {
  if (o.torch_script.empty()) { why = "not requested"; return {}; }
  if (!std::filesystem::exists(o.torch_script)) { why = o.torch_script + " not found (run from the repository root)"; return {}; }
  // --python read as the --peers suites read it (peers.hpp): a wrapper's words, or one path
  std::vector<std::string> words = python_command(o.python);
  words.insert(words.end(), {o.torch_script, std::to_string(o.repeats)});
  const std::string command = shell_line(words) + " 2>&1";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  if (!pipe) { why = "could not start " + o.python; return {}; }
  std::string text;
  char buffer[4096];
  while (std::fgets(buffer, sizeof buffer, pipe.get())) text += buffer;
  const auto start = text.rfind("\n{");
  const std::string last = start == std::string::npos ? text : text.substr(start + 1);
  try {
    return nlohmann::json::parse(last);
  } catch (const std::exception&) {
    why = "the script failed: " + text.substr(0, 300);
    return {};
  }
}

}  // namespace

int run_bench_gpu(const BenchGpuOptions& options) {
  if (!cuda::available()) {
    fmt::print(stderr, "tide bench gpu: no CUDA device: {}\n", cuda::unavailable_reason());
    return 1;
  }
  const cuda::DeviceInfo dev = cuda::device_info();
  TimingPlan plan;
  plan.repeats = options.repeats;
  plan.min_sample_seconds = 0.05;
  Generator g(1);
  // nn's MLP with PyTorch's Linear initialisation; without recording each layer is one fused
  // dense() call (one kernel on the GPU for widths up to 64).
  DeviceGuard on_device(Device::cuda());
  const MLP mlp({width, width, width}, Activation::tanh, g);
  Workload small{256}, large{65536};
  measure(small, mlp, plan);
  measure(large, mlp, plan);
  const double ceiling_gbs = copy_gbs(plan);
  std::vector<TrainStep> training;
  for (const char* type : {"cfc", "mmrnn", "ltc_biophysical"}) training.push_back(train_step(type, plan));

  // The floor of the step at batch 65,536: each of the 4 evaluations reads its stage input and
  // writes its k (hidden layer kept on chip); the 3 stage inputs read y and one k and write z; the
  // update reads y and 4 k's and writes y: 23 arrays of B x 64 f32. FLOPs: 2 GEMMs per evaluation.
  const double array_bytes = static_cast<double>(large.batch) * width * 4.0;
  const double step_bytes = 23.0 * array_bytes, step_flops = 4.0 * 2.0 * 2.0 * large.batch * width * width;
  const double floor_us = std::max(step_bytes / (ceiling_gbs * 1e9), step_flops / (dev.fp32_tflops * 1e12)) * 1e6;
  const double f_bytes = 2.0 * array_bytes, f_flops = 2.0 * 2.0 * large.batch * width * width;
  const double f_gbs = f_bytes / (large.f_us * 1e-6) / 1e9, f_gflops = f_flops / (large.f_us * 1e-6) / 1e9;

  std::string torch_why;
  const nlohmann::json torch = run_torch(options, torch_why);
  auto torch_figure = [&](const char* key) { return torch.contains(key) ? torch[key].get<double>() : NAN; };
  const double torch_b256 = torch_figure("rk4_b256_eager_us");

  nlohmann::json out;
  out["device"] = dev.name;
  out["compute_capability"] = fmt::format("{}.{}", dev.major, dev.minor);
  out["multiprocessors"] = dev.multiprocessors;
  out["peak_memory_gbs"] = dev.memory_gbs;
  out["copy_gbs"] = ceiling_gbs;
  out["peak_fp32_tflops"] = dev.fp32_tflops;
  out["rk4_b256_eager_us"] = small.step_eager_us;
  out["rk4_b256_graph_us"] = small.step_graph_us;
  out["rk4_b256_graph_nodes"] = small.graph_nodes;
  out["f_b256_us"] = small.f_us;
  out["rk4_b65536_eager_us"] = large.step_eager_us;
  out["rk4_b65536_graph_us"] = large.step_graph_us;
  out["rk4_b65536_floor_us"] = floor_us;
  out["rk4_b65536_over_floor"] = std::min(large.step_eager_us, large.step_graph_us) / floor_us;
  out["f_b65536_us"] = large.f_us;
  out["f_b65536_gbs"] = f_gbs;
  out["f_b65536_gflops"] = f_gflops;
  add_training(out, training);
  out["torch"] = torch.is_null() ? nlohmann::json(torch_why) : torch;
  out["torch_eager_over_tide_graph_b256"] = torch_b256 / small.step_graph_us;
  if (options.json) {
    std::cout << out.dump() << "\n";
    return 0;
  }
  fmt::print("tide bench gpu: {} (sm_{}{}, {} SMs), f32, median of {}\n", dev.name, dev.major, dev.minor, dev.multiprocessors, options.repeats);
  fmt::print("  memory: {:.0f} GB/s peak, {:.0f} GB/s measured copy; FP32 {:.1f} TFLOP/s peak (CUDA cores)\n\n", dev.memory_gbs, ceiling_gbs, dev.fp32_tflops);
  fmt::print("  {:<34} {:>12} {:>12}\n", "RK4 step, MLP 64-64-64 (tanh)", "tide", "torch eager");
  fmt::print("  {:<34} {:>10.1f}us {:>10.1f}us\n", "batch 256, eager", small.step_eager_us, torch_b256);
  fmt::print("  {:<34} {:>10.1f}us {:>10.1f}us   target <= 30 us; {} graph nodes\n", "batch 256, graph replay", small.step_graph_us,
             torch_figure("rk4_b256_graph_us"), small.graph_nodes);
  fmt::print("  {:<34} {:>10.1f}us {:>10.1f}us\n", "batch 65536, eager", large.step_eager_us, torch_figure("rk4_b65536_eager_us"));
  fmt::print("  {:<34} {:>10.1f}us {:>10.1f}us\n", "batch 65536, graph replay", large.step_graph_us, torch_figure("rk4_b65536_graph_us"));
  fmt::print("  {:<34} {:>10.1f}us               23 arrays at the copy rate\n", "batch 65536, floor", floor_us);
  fmt::print("  {:<34} {:>12.2f}               target <= 2\n", "batch 65536 over floor", out["rk4_b65536_over_floor"].get<double>());
  fmt::print("  {:<34} {:>10.1f}us   {:.0f} GB/s, {:.0f} GFLOP/s (in + out only)\n", "dynamics eval, batch 65536", large.f_us, f_gbs, f_gflops);
  fmt::print("  {:<34} {:>12.2f}               target >= 3\n", "torch eager b256 / tide graph b256", out["torch_eager_over_tide_graph_b256"].get<double>());
  print_training(training);
  if (torch.is_null()) fmt::print("  torch: {}\n", torch_why);
  else fmt::print("  torch {} on {}\n", torch.value("torch", "?"), torch.value("device", "?"));
  return 0;
}

}  // namespace tide::cli
