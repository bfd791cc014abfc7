// The `tide` command: argument parsing and dispatch to the subcommands. Usage errors (unknown
// command or flag, bad value) print one line on stderr and exit with status 2; a failure while
// running exits with status 1; nothing aborts.
#include "bench_core.hpp"
#include "bench_gpu.hpp"
#include "bench_models.hpp"
#include "bench_solvers.hpp"
#include "bench_taylor.hpp"
#include "cli_args.hpp"
#include "torchdiffeq_parity.hpp"
#include "train/commands.hpp"
#include "tide/core/blas.hpp"
#include "tide/core/error.hpp"
#include "tide/taylor/ode_taylor.hpp"
#include <fmt/format.h>
#include <charconv>
#include <cstdlib>
#include <unistd.h>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace tide::cli;

constexpr const char* tide_usage =
    "usage: tide <command> [options]\n"
    "\n"
    "commands:\n"
    "  train    train a model from a JSON config (tide train --help)\n"
    "  eval     score a trained run on its train, val or test set (tide eval --help)\n"
    "  predict  write a trained run's predictions as CSV (tide predict --help)\n"
    "  export   write a trained run's parameters as safetensors (tide export --help)\n"
    "  plot     overlay one metric's learning curves from several runs (tide plot --help)\n"
    "  data     generate or inspect datasets (tide data --help)\n"
    "  bench    run a benchmark suite (tide bench --help)\n"
    "\n"
    "options:\n"
    "  -h, --help   show this help\n";

constexpr const char* bench_usage =
    "usage: tide bench <suite> [options]\n"
    "\n"
    "suites:\n"
    "  core     tape overhead per op, tanh, small and large GEMM against direct BLAS and the\n"
    "           measured single-core FMA peak (tide bench core --help)\n"
    "  taylor   cost of d^K z/dt^K by Taylor mode (incremental, re-run) and nested JVPs, as a\n"
    "           multiple of one evaluation of f (tide bench taylor --help)\n"
    "  solvers  per-call cost of solve(), one RK4 step and its gradient, a spiral training\n"
    "           iteration, adjoint memory growth (tide bench solvers --help)\n"
    "  models   an LTC step (biophysical, N = 64) against a hand-fused loop, a CfC step, one\n"
    "           training epoch of mmRNN on event XOR (tide bench models --help)\n"
    "  gpu      an RK4 step on the CUDA device at batch 256 (eager and graph-replayed) and 65,536,\n"
    "           against the device's bandwidth and PyTorch eager; CfC, mmRNN and LTC training\n"
    "           steps, eager and compiled (tide bench gpu --help)\n"
    "  torchdiffeq  SolveOptions::torchdiffeq on cases recorded from torchdiffeq: NFE and\n"
    "           differences side by side (tide bench torchdiffeq --help)\n"
    "\n"
    "options:\n"
    "  -h, --help   show this help\n";

constexpr const char* bench_core_usage =
    "usage: tide bench core [--json] [--repeats N]\n"
    "\n"
    "Measures, side by side in one run, and prints with the BLAS settings and CPU it ran on:\n"
    "  op_overhead_ns            one recorded add of two 1-element f32 parameters (target <= 250)\n"
    "  op_overhead_norecord_ns   the same inside a NoGrad scope\n"
    "  tanh_256x64_us            f32 tanh over [256, 64] (target <= 5)\n"
    "  gemm_256x64x64_us         f32 matmul [256, 64] @ [64, 64] (target <= 15), and direct cblas\n"
    "  gemm_1024_gflops          f32 1024^3 matmul, and direct cblas\n"
    "  fma_peak_gflops           measured single-core f32 FMA peak\n"
    "  gemm_1024_fraction_of_peak  (target >= 0.75)\n"
    "BLAS runs single-threaded unless TIDE_BLAS_THREADS, OPENBLAS_NUM_THREADS or OMP_NUM_THREADS\n"
    "is set; OPENBLAS_CORETYPE selects OpenBLAS's kernel set.\n"
    "\n"
    "options:\n"
    "  --json         print one JSON object on stdout instead of the table\n"
    "  --repeats N    samples per figure, the median is reported (default 7, 1..100)\n"
    "  -h, --help     show this help\n";

constexpr const char* bench_taylor_usage =
    "usage: tide bench taylor [--json] [--repeats N] [--kmax K] [--nested-kmax K]\n"
    "                         [--size D,H,BATCH[,LAYERS]]... [--svg PATH]\n"
    "                         [--peers [--python EXE] [--peers-dir DIR]]\n"
    "\n"
    "For the dynamics z' = f(z, t), f a tanh MLP (LAYERS tanh layers of width H, time as an input,\n"
    "linear read-out to D; f64), times d^K z/dt^K for K = 1..kmax by\n"
    "  taylor   incremental Taylor mode (each op keeps its lower coefficients; O(K^2))\n"
    "  rerun    K fresh jet passes of growing order (O(K^3); TayNODE's reference code)\n"
    "  nested   K-1 nested JVPs along (f, 1) (exponential in K)\n"
    "each as a multiple of one evaluation of f measured in the same run, and the largest relative\n"
    "disagreement of the three. Targets: taylor <= 1.2 (K+1) f for every K; nested / taylor >= 4 at\n"
    "K = 3 and >= 25 at K = 5; disagreement <= 1e-10. Forward only, nothing recorded.\n"
    "\n"
    "options:\n"
    "  --json             one JSON object on stdout: K, taylor_over_f, rerun_over_f, nested_over_f,\n"
    "                     max_rel_diff (arrays indexed like K) for the first size, all sizes in 'sizes'\n"
    "  --repeats N        samples per figure, the median is reported (default 5, 1..100)\n"
    "  --kmax K           highest order (default 8, 1..16)\n"
    "  --nested-kmax K    time nested JVPs up to this order only (default 8, 0..9)\n"
    "  --size D,H,BATCH[,LAYERS]   a network size (repeatable; default 64,64,256,2 and 20,50,150,2)\n"
    "  --svg PATH         write the cost-vs-K plot of the first size as SVG\n"
    "  --peers            instead: the first size (default 64,64,256,2) on tide and, in the same run,\n"
    "                     on JAX (bench/peers/taylor_peers.py; same weights, samples interleaved):\n"
    "                     taylor_forward K = 1..min(kmax, 6) by TayNODE's jet re-run and by K-1 nested\n"
    "                     jax.jvp, both jit, beside tide's Taylor mode (eager, and compiled: one plan\n"
    "                     with compile()) and eager nested JVPs; and taylor_rk_grad K = 2, 3, the\n"
    "                     gradient of mean((d^K z/dt^K)^2) by the weights (Taylor mode eager and\n"
    "                     compiled). Targets compare the eager Taylor mode.\n"
    "                     Time to first result (JAX's compilation) and a check value per side.\n"
    "  --python EXE       the peers' interpreter (default $TIDE_PEERS_PYTHON, else .venv/bin/python of\n"
    "                     the repository tide was built in, else python3): an existing file's path\n"
    "                     (spaces and all), else a command split on blanks (\"uv run python\")\n"
    "  --peers-dir DIR    the directory of the peer scripts (default that repository's bench/peers)\n"
    "  -h, --help         show this help\n";

constexpr const char* bench_solvers_usage =
    "usage: tide bench solvers [--json] [--repeats N] [--peers [--python EXE] [--peers-dir DIR]]\n"
    "\n"
    "Measures solve() in f32 and prints the figures with their targets, the BLAS settings and CPU:\n"
    "  tiny_us_per_nfe       MLP 4-32-4, batch 64, dopri5 at 1e-6 on [0, 1]: time per batched\n"
    "                        dynamics call (target <= 2); tiny_nfe calls; tiny_grad_us_per_nfe the\n"
    "                        same with a discrete gradient and backward; *_compiled_* the same on\n"
    "                        compile_dynamics, per the compiled solve's own calls (tiny_compiled_nfe)\n"
    "  tiny_r2_grad_ms       the tiny solve with TayNODE's R_2 integrand, solve + backward, eager;\n"
    "                        tiny_r2_grad_compiled_ms on compile_dynamics (the regularised dynamics,\n"
    "                        Taylor mode included, as plans)\n"
    "  mid_rk4_step_us       MLP 64-64-64, batch 256, one rk4 step, nothing recorded (target <= 120)\n"
    "  mid_grad_over_fwd     that step recorded + backward, over the forward (target <= 3)\n"
    "  spiral_ms_per_iter    one training iteration of torchdiffeq's spiral demo: dopri5 1e-7/1e-9,\n"
    "                        adjoint gradient, Adam (target <= 2.5); spiral_nfe_per_iter its calls\n"
    "                        (the demo's own grid, linspace(0, 25, 1000)[:30]: [0, 0.73]; --peers\n"
    "                        times issue 14's 30 points on [0, 1.5])\n"
    "  adjoint_mem_ratio     peak bytes of an adjoint solve + backward, 10000 over 100 rk4 steps\n"
    "                        (target <= 1.1); discrete_mem_ratio the same for the discrete gradient\n"
    "  tiny_f_us, mid_f_us   one evaluation of each MLP alone, nothing recorded (the floor per call)\n"
    "\n"
    "options:\n"
    "  --json         print one JSON object on stdout instead of the table\n"
    "  --repeats N    samples per timed figure, the median is reported (default 5, 1..100)\n"
    "  --peers        instead: the solver workloads on tide and, in the same run, on PyTorch +\n"
    "                 torchdiffeq and JAX + diffrax (bench/peers/solver_peers.py; same weights and\n"
    "                 inputs, samples interleaved): tiny_solve, tiny_solve_grad, mid_rk4_step,\n"
    "                 spiral_iteration (adjoint, discrete; 30 points on [0, 1.5]) and the tiny\n"
    "                 solve at B = 1 .. 65,536 (per-sample steps, and tide's one shared step),\n"
    "                 each with NFE, time per NFE, time to first result (JAX's compilation\n"
    "                 included), a check value both sides compute, the peer/tide ratio and the\n"
    "                 issue's targets. Without the peers' venv it says why and prints tide's side\n"
    "  --python EXE   the peers' interpreter (default $TIDE_PEERS_PYTHON, else .venv/bin/python of\n"
    "                 the repository tide was built in, else python3; bench/peers/setup.sh makes it):\n"
    "                 an existing file's path (spaces and all), else a command split on blanks\n"
    "                 (\"uv run python\")\n"
    "  --peers-dir D  the directory of the peer scripts (default that repository's bench/peers)\n"
    "  -h, --help     show this help\n";

constexpr const char* bench_gpu_usage =
    "usage: tide bench gpu [--json] [--repeats N] [--torch-script PATH | --no-torch] [--python EXE]\n"
    "\n"
    "On the CUDA device, f32, the MLP 64 -> 64 (tanh) -> 64 with biases:\n"
    "  rk4_b256_eager_us     one RK4 step (explicit_step) at batch 256, op by op\n"
    "  rk4_b256_graph_us     the same step captured once as a CUDA Graph and replayed (target <= 30)\n"
    "  rk4_b65536_*_us       the step at batch 65,536; rk4_b65536_over_floor its time over the floor\n"
    "                        of 23 arrays moved at the measured copy rate (target <= 2)\n"
    "  f_b65536_gbs/gflops   one dynamics evaluation: input + output bytes and GEMM FLOPs per second\n"
    "  torch_eager_over_tide_graph_b256   PyTorch eager's batch-256 step over tide's replayed one,\n"
    "                        from bench/torch_gpu.py run in the same invocation (target >= 3)\n"
    "  train_step_<cell>_eager_ms / _compiled_ms   a training step (forward over 32 steps, MSE,\n"
    "                        backward, Adam) of the registry's cfc, mmrnn and ltc_biophysical cells\n"
    "                        with a read-out, 53 features, 64 units, batch 32, eager against\n"
    "                        compiled cell steps (no peer)\n"
    "Times are a host clock around n calls and one device synchronisation, medians of --repeats.\n"
    "\n"
    "options:\n"
    "  --json                one JSON object on stdout instead of the table\n"
    "  --repeats N           samples per figure, the median is reported (default 7, 1..100)\n"
    "  --torch-script PATH   the PyTorch side (default bench/torch_gpu.py); --no-torch skips it\n"
    "  --python EXE          the interpreter for it (default python3): an existing file's path\n"
    "                        (spaces and all), else a command split on blanks (\"uv run python\")\n"
    "  -h, --help            show this help\n";

int bench_core_main(const Args& args) {
  tide::cli::BenchCoreOptions options;
  const Flags flags = Flags("tide bench core", bench_core_usage).on("--json", options.json).integer("--repeats", 1, 100, options.repeats);
  if (const auto status = flags.parse(args)) return *status;
  return tide::cli::run_bench_core(options);
}

// --size D,H,BATCH[,LAYERS]: one more size of the Taylor study.
std::string add_taylor_size(std::string_view value, tide::cli::BenchTaylorOptions& options) {
  std::vector<int> parts;
  std::string_view rest = value;
  while (true) {
    const auto comma = rest.find(',');
    int n = 0;
    if (!parse_int(rest.substr(0, comma), 1, 100000, n))
      return fmt::format("--size takes D,H,BATCH[,LAYERS] as positive integers, got '{}'", value);
    parts.push_back(n);
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  if (parts.size() < 3 || parts.size() > 4 || (parts.size() == 4 && parts[3] > 16))
    return fmt::format("--size takes D,H,BATCH[,LAYERS] (LAYERS 1..16), got '{}'", value);
  options.sizes.push_back({fmt::format("d{}-h{}-b{}", parts[0], parts[1], parts[2]), parts[0], parts[1],
                           parts.size() == 4 ? parts[3] : 2, parts[2]});
  return {};
}

// --python and --peers-dir mean something only with --peers.
void warn_peer_flags_unused(const char* command, const tide::cli::PeerOptions& peers) {
  if (!peers.python.empty() || !peers.dir.empty()) fmt::print(stderr, "{}: --python and --peers-dir are used with --peers only\n", command);
}

// Nested jvps of order K carry K - 1 levels over the bench's [batch, d] state: rank 2.
constexpr int bench_nested_kmax = tide::max_nested_ode_order(2);
std::string bench_nested_kmax_takes() {
  return fmt::format("an integer in 0..{} (its K - 1 nested levels over the [batch, d] state need K + 1 tensor axes, at most {})",
                     bench_nested_kmax, tide::max_rank);
}

int bench_taylor_main(const Args& args) {
  tide::cli::BenchTaylorOptions options;
  const int nested_default = options.nested_kmax;
  options.nested_kmax = -1;  // given or not
  const Flags flags = Flags("tide bench taylor", bench_taylor_usage)
                          .on("--json", options.json)
                          .integer("--repeats", 1, 100, options.repeats)
                          .integer("--kmax", 1, 16, options.kmax)
                          .integer("--nested-kmax", 0, bench_nested_kmax, options.nested_kmax, bench_nested_kmax_takes())
                          .text("--svg", options.svg)
                          .custom("--size", [&options](std::string_view v) { return add_taylor_size(v, options); })
                          .on("--peers", options.peers.enabled)
                          .text("--python", options.peers.python)
                          .text("--peers-dir", options.peers.dir);
  if (const auto status = flags.parse(args)) return *status;
  if (options.peers.enabled) {
    if (!options.svg.empty()) fmt::print(stderr, "tide bench taylor: --svg is not used with --peers (no plot is written)\n");
    if (options.nested_kmax >= 0) fmt::print(stderr, "tide bench taylor: --nested-kmax is not used with --peers\n");
    if (options.sizes.size() > 1) fmt::print(stderr, "tide bench taylor: --peers runs the first --size only\n");
  } else {
    warn_peer_flags_unused("tide bench taylor", options.peers);
  }
  if (options.nested_kmax < 0) options.nested_kmax = std::min(options.kmax, nested_default);
  return options.peers.enabled ? tide::cli::run_bench_taylor_peers(options) : tide::cli::run_bench_taylor(options);
}

int bench_solvers_main(const Args& args) {
  tide::cli::BenchSolversOptions options;
  const Flags flags = Flags("tide bench solvers", bench_solvers_usage)
                          .on("--json", options.json)
                          .integer("--repeats", 1, 100, options.repeats)
                          .on("--peers", options.peers.enabled)
                          .text("--python", options.peers.python)
                          .text("--peers-dir", options.peers.dir);
  if (const auto status = flags.parse(args)) return *status;
  if (!options.peers.enabled) warn_peer_flags_unused("tide bench solvers", options.peers);
  return options.peers.enabled ? tide::cli::run_bench_solver_peers(options) : tide::cli::run_bench_solvers(options);
}

constexpr const char* bench_models_usage =
    "usage: tide bench models [--json] [--repeats N] [--no-epoch] [--peers [--python EXE] [--peers-dir DIR]]\n"
    "\n"
    "f32, single-threaded BLAS, nothing recorded unless said:\n"
    "  ltc_step_ms       biophysical LTC, fully connected N = 64, 16 inputs, batch 64, 6 fused\n"
    "                    unfolds, one input step (target <= 0.7); hand_ltc_step_ms the same step as a\n"
    "                    hand-fused scalar loop in the same run, and their largest difference\n"
    "  ltc_grad_ms       that step recorded, plus backward\n"
    "  cfc_step_us       CfC (default mode, backbone 128), 64 units, batch 64, one input step\n"
    "  xor_epoch_s       one training epoch of mmRNN (64 units, Euler x4) on event XOR: 100,000\n"
    "                    sequences, batch 256, RMSprop (the mmRNN paper's setting)\n"
    "\n"
    "options:\n"
    "  --json         one JSON object on stdout\n"
    "  --repeats N    samples per figure, the median is reported (default 5, 1..100; xor_epoch_s\n"
    "                 takes min(N, 3))\n"
    "  --no-epoch     skip xor_epoch_s\n"
    "  --peers        instead: the recurrent workloads on tide and, in the same run, on\n"
    "                 PyTorch + ncps (bench/peers/model_peers.py; same weights and data, samples\n"
    "                 interleaved): ltc_cell_fwd_bwd (eager and torch.compile), ltc_train_step,\n"
    "                 cfc_train_step, mmrnn_train_step (one Adam step on batch 32 x 32 steps);\n"
    "                 tide's side compiled (the default) and eager. Without the peers' venv\n"
    "                 (bench/peers/setup.sh) it says why and prints tide's side\n"
    "  --python EXE   the peers' interpreter (default: $TIDE_PEERS_PYTHON, else .venv/bin/python\n"
    "                 at the repository root, else python3): an existing file's path (spaces and\n"
    "                 all), else a command split on blanks (\"uv run python\")\n"
    "  --peers-dir D  where the peer scripts are (default: bench/peers of this repository)\n"
    "  -h, --help     show this help\n";

int bench_models_main(const Args& args) {
  tide::cli::BenchModelsOptions options;
  const Flags flags = Flags("tide bench models", bench_models_usage)
                          .on("--json", options.json)
                          .on("--no-epoch", options.epoch, false)
                          .integer("--repeats", 1, 100, options.repeats)
                          .on("--peers", options.peers.enabled)
                          .text("--python", options.peers.python)
                          .text("--peers-dir", options.peers.dir);
  if (const auto status = flags.parse(args)) return *status;
  if (options.peers.enabled && !options.epoch) fmt::print(stderr, "tide bench models: --no-epoch is not used with --peers (no xor_epoch_s there)\n");
  if (!options.peers.enabled) warn_peer_flags_unused("tide bench models", options.peers);
  return options.peers.enabled ? tide::cli::run_bench_model_peers(options) : tide::cli::run_bench_models(options);
}

int bench_gpu_main(const Args& args) {
  tide::cli::BenchGpuOptions options;
  bool no_torch = false;
  const Flags flags = Flags("tide bench gpu", bench_gpu_usage)
                          .on("--json", options.json)
                          .on("--no-torch", no_torch)
                          .integer("--repeats", 1, 100, options.repeats)
                          .text("--torch-script", options.torch_script)
                          .text("--python", options.python);
  if (const auto status = flags.parse(args)) return *status;
  if (no_torch) options.torch_script.clear();
  return tide::cli::run_bench_gpu(options);
}

constexpr const char* bench_torchdiffeq_usage =
    "usage: tide bench torchdiffeq CASES.json [--json]\n"
    "\n"
    "Runs SolveOptions::torchdiffeq(method) on every case of CASES.json (written by\n"
    "bench/peers/torchdiffeq_parity.py record; tests/solvers/data/torchdiffeq_cases.json is one) and\n"
    "prints each case's NFE beside torchdiffeq's and the largest difference in the outputs.\n"
    "\n"
    "options:\n"
    "  --json       one JSON object on stdout\n"
    "  -h, --help   show this help\n";

int bench_torchdiffeq_main(const Args& args) {
  bool as_json = false;
  std::vector<std::string> files;
  const Flags flags = Flags("tide bench torchdiffeq", bench_torchdiffeq_usage).on("--json", as_json).positional(files, 1, "one CASES.json");
  if (const auto status = flags.parse(args)) return *status;
  if (files.size() != 1) return usage_error("tide bench torchdiffeq: expected one CASES.json", "tide bench torchdiffeq --help");
  const nlohmann::json report = tide::cli::run_torchdiffeq_cases(files[0]);
  if (as_json) {
    std::printf("%s\n", report.dump().c_str());
    return 0;
  }
  std::int64_t equal = 0;
  double worst = 0.0;
  std::printf("%-9s %-13s %7s %7s %7s %8s %11s\n", "problem", "method", "rtol", "atol", "nfe td", "nfe tide", "max |diff|");
  for (const auto& r : report["cases"]) {
    std::printf("%-9s %-13s %7.0e %7.0e %7lld %8lld %11.2e\n", r["problem"].get<std::string>().c_str(),
                r["method"].get<std::string>().c_str(), r["rtol"].get<double>(), r["atol"].get<double>(),
                static_cast<long long>(r["nfe_torchdiffeq"].get<std::int64_t>()), static_cast<long long>(r["nfe"].get<std::int64_t>()),
                r["max_abs_diff"].get<double>());
    equal += r["nfe"] == r["nfe_torchdiffeq"];
    worst = std::max(worst, r["max_abs_diff"].get<double>());
  }
  std::printf("%lld of %zu cases with torchdiffeq's NFE; largest difference in the outputs %.2e\n", static_cast<long long>(equal),
              report["cases"].size(), worst);
  return 0;
}

int bench_main(const Args& args) {
  return dispatch(args, "tide bench", "suite", bench_usage, {{"core", bench_core_main}, {"taylor", bench_taylor_main}, {"solvers", bench_solvers_main}, {"models", bench_models_main}, {"gpu", bench_gpu_main}, {"torchdiffeq", bench_torchdiffeq_main}});
}

int tide_main(const Args& args) { return dispatch(args, "tide", "command", tide_usage, {{"train", train_main}, {"eval", eval_main}, {"predict", predict_main}, {"export", export_main}, {"plot", plot_main}, {"data", data_main}, {"bench", bench_main}}); }

// OpenBLAS starts its thread pool when it loads, before main. tide then runs BLAS on one thread
// (init_blas_threads), but the idle pool leaves the process multi-threaded, and every reference
// count of the tape an atomic operation: ~5% of an eager solve (docs/benchmarks.md). Unless a
// thread count was asked for, the command restarts itself once with OPENBLAS_NUM_THREADS=1, so that
// the pool is never made; if it cannot, it goes on as it is.
void restart_without_blas_pool(char** argv) {
  if (tide::blas_threads_requested()) return;
  if (setenv("OPENBLAS_NUM_THREADS", "1", 1) != 0) return;
  execv("/proc/self/exe", argv);
  unsetenv("OPENBLAS_NUM_THREADS");
}

}  // namespace

int main(int argc, char** argv) {
  restart_without_blas_pool(argv);
  try {
    return tide_main(std::vector<std::string_view>(argv + 1, argv + argc));
  } catch (const tide::Error& e) {
    fmt::print(stderr, "tide: error: {}\n", e.what());
  } catch (const std::exception& e) {
    fmt::print(stderr, "tide: unexpected error: {}\n", e.what());
  }
  return 1;
}
