// The `tide` command: argument parsing and dispatch to the subcommands. Usage errors (unknown
// command or flag, bad value) print one line on stderr and exit with status 2; a failure while
// running exits with status 1; nothing aborts.
#include "bench_core.hpp"
#include "tide/core/error.hpp"
#include <fmt/format.h>
#include <charconv>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr int exit_usage = 2;

constexpr const char* tide_usage =
    "usage: tide <command> [options]\n"
    "\n"
    "commands:\n"
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

bool is_help(std::string_view arg) { return arg == "-h" || arg == "--help" || arg == "help"; }

int usage_error(const std::string& message, const char* hint) {
  fmt::print(stderr, "{}\n(see '{}')\n", message, hint);
  return exit_usage;
}

int bench_core_main(const std::vector<std::string_view>& args) {
  tide::cli::BenchCoreOptions options;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (is_help(arg)) {
      fmt::print("{}", bench_core_usage);
      return 0;
    }
    if (arg == "--json") {
      options.json = true;
      continue;
    }
    if (arg == "--repeats" || arg.starts_with("--repeats=")) {
      std::string_view value;
      if (arg == "--repeats") {
        if (i + 1 == args.size()) return usage_error("tide bench core: --repeats needs a value", "tide bench core --help");
        value = args[++i];
      } else {
        value = arg.substr(std::string_view("--repeats=").size());
      }
      int n = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || end != value.data() + value.size() || n < 1 || n > 100)
        return usage_error(fmt::format("tide bench core: --repeats takes an integer in 1..100, got '{}'", value),
                           "tide bench core --help");
      options.repeats = n;
      continue;
    }
    return usage_error(fmt::format("tide bench core: unknown option '{}'", arg), "tide bench core --help");
  }
  return tide::cli::run_bench_core(options);
}

using Args = std::vector<std::string_view>;
struct Subcommand {
  std::string_view name;
  int (*run)(const Args& rest);
};

// Runs the subcommand args[0] names, with the remaining arguments; `path` ("tide bench") and
// `what` ("suite") word the errors. New commands (train, eval, data) are rows of a table.
int dispatch(const Args& args, std::string_view path, std::string_view what, const char* usage,
             const std::vector<Subcommand>& table) {
  std::string names;
  for (const auto& c : table) names += (names.empty() ? "" : ", ") + std::string(c.name);
  const std::string hint = std::string(path) + " --help";
  if (args.empty()) {
    fmt::print(stderr, "{}: missing {} (available: {})\n{}", path, what, names, usage);
    return exit_usage;
  }
  if (is_help(args[0])) {
    fmt::print("{}", usage);
    return 0;
  }
  for (const auto& c : table)
    if (args[0] == c.name) return c.run(Args(args.begin() + 1, args.end()));
  if (args[0].starts_with("-")) return usage_error(fmt::format("{}: unknown option '{}'", path, args[0]), hint.c_str());
  return usage_error(fmt::format("{}: unknown {} '{}' (available: {})", path, what, args[0], names), hint.c_str());
}

int bench_main(const Args& args) {
  return dispatch(args, "tide bench", "suite", bench_usage, {{"core", bench_core_main}});
}

int tide_main(const Args& args) { return dispatch(args, "tide", "command", tide_usage, {{"bench", bench_main}}); }

}  // namespace

int main(int argc, char** argv) {
  try {
    return tide_main(std::vector<std::string_view>(argv + 1, argv + argc));
  } catch (const tide::Error& e) {
    fmt::print(stderr, "tide: error: {}\n", e.what());
  } catch (const std::exception& e) {
    fmt::print(stderr, "tide: unexpected error: {}\n", e.what());
  }
  return 1;
}
