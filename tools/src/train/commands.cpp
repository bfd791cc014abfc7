#include "train/commands.hpp"
#include "mujoco_rollouts.hpp"
#include "tide/data/registry.hpp"
#include "train/trainer.hpp"
#include "tide/models/registry.hpp"
#include <filesystem>

namespace tide::cli {
namespace {

constexpr const char* train_usage =
    "usage: tide train CONFIG.json [--out DIR] [--resume] [--max-steps N] [--epochs N] [--seed N] [--quiet]\n"
    "\n"
    "Trains a sequence model on irregularly sampled data as the config says (model, data, solver,\n"
    "optimizer, schedule, epochs, batch size, seed, gradient clipping; see examples/configs/ and\n"
    "docs/training.md). Writes into the run directory (default runs/<name>):\n"
    "  metrics.jsonl     one JSON line per epoch      curves.svg, <metric>.svg   learning curves\n"
    "  checkpoint.tide   latest state (atomic; every checkpoint_every steps, each epoch, on Ctrl-C)\n"
    "  best.tide         best-validation parameters, restored for the test score\n"
    "  summary.json      the final summary, also printed on stdout\n"
    "A progress bar (rate, loss, metric, ETA) goes to stderr on a terminal, plain lines otherwise.\n"
    "\n"
    "options:\n"
    "  --out DIR        run directory (default runs/<name>)\n"
    "  --resume         continue bit-exactly from DIR/checkpoint.tide (the config must be unchanged)\n"
    "  --max-steps N    stop after N optimizer steps in this invocation, with a checkpoint\n"
    "  --epochs N       override the config's epochs (recorded in the run's config.json)\n"
    "  --seed N         override the config's seed (likewise; for runs over several seeds)\n"
    "  --quiet          no progress output\n"
    "  -h, --help       show this help\n"
    "\n"
    "models: ltc, ltc_biophysical, cfc, mmrnn, ode_rnn, node_rnn, ctrnn, lstm, augmented_lstm, gru,\n"
    "        gru_d, rnn (tide data models lists them with their keys)\n"
    "datasets: xor, fashion_mnist, traffic, gesture, person_activity, mujoco, csv\n"
    "exit status: 0 done, 1 error, 2 usage error, 130 interrupted (checkpoint written)\n";

constexpr const char* eval_usage =
    "usage: tide eval RUN_DIR [--split test|val|train] [--last]\n"
    "\n"
    "Rebuilds the run's data and model from RUN_DIR/config.json, loads the best-validation\n"
    "parameters (RUN_DIR/best.tide; --last: RUN_DIR/checkpoint.tide) and prints the loss and the\n"
    "metric (accuracy or mse) on the split as JSON.\n"
    "\n"
    "options:\n"
    "  --split S    test (default), val or train\n"
    "  --last       the latest checkpoint instead of the best-validation parameters\n"
    "  -h, --help   show this help\n";

constexpr const char* data_usage =
    "usage: tide data <what> [options]\n"
    "\n"
    "  mujoco --out FILE.csv [--episodes N] [--steps N] [--seed S] [--model PATH]\n"
    "         [--controller sine|random] [--frame-skip N]\n"
    "         physics rollouts with MuJoCo: a controller, 1% of actions overwritten at random,\n"
    "         10% of frames dropped (irregular sampling); a CSV with episode, time and the joint\n"
    "         positions and velocities, for next-state prediction ({\"dataset\": \"mujoco\"})\n"
    "  info CONFIG.json\n"
    "         loads the config's data section and prints the split sizes, steps and features\n"
    "  models\n"
    "         lists the model types a config's \"model\" section accepts\n"
    "\n"
    "options:\n"
    "  -h, --help   show this help\n";

bool parse_i64(std::string_view text, std::int64_t lo, std::int64_t hi, std::int64_t& out) {
  std::int64_t n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n < lo || n > hi) return false;
  out = n;
  return true;
}

int data_mujoco(const Args& args) {
  const char* hint = "tide data --help";
  RolloutSpec spec;
  std::string out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    std::string_view value;
    if (is_help(arg)) { fmt::print("{}", data_usage); return 0; }
    struct IntFlag { std::string_view name; std::int64_t lo, hi; std::int64_t* out; };
    std::int64_t frame_skip = spec.frame_skip, seed = static_cast<std::int64_t>(spec.seed);
    const IntFlag flags[] = {{"--episodes", 1, 1000000, &spec.episodes}, {"--steps", 2, 1000000, &spec.steps},
                             {"--frame-skip", 1, 1000, &frame_skip}, {"--seed", 0, INT64_MAX, &seed}};
    bool handled = false;
    for (const IntFlag& f : flags) {
      if (!matches(arg, f.name)) continue;
      if (!flag_value(args, i, f.name, value)) return usage_error(fmt::format("tide data mujoco: {} needs a value", f.name), hint);
      if (!parse_i64(value, f.lo, f.hi, *f.out))
        return usage_error(fmt::format("tide data mujoco: {} takes an integer in {}..{}, got '{}'", f.name, f.lo, f.hi, value), hint);
      handled = true;
    }
    spec.frame_skip = static_cast<int>(frame_skip), spec.seed = static_cast<std::uint64_t>(seed);
    if (handled) continue;
    if (matches(arg, "--out") || matches(arg, "--model") || matches(arg, "--controller")) {
      const std::string_view flag = matches(arg, "--out") ? "--out" : matches(arg, "--model") ? "--model" : "--controller";
      if (!flag_value(args, i, flag, value) || value.empty()) return usage_error(fmt::format("tide data mujoco: {} needs a value", flag), hint);
      if (flag == "--controller" && value != "sine" && value != "random")
        return usage_error(fmt::format("tide data mujoco: --controller takes sine or random, got '{}'", value), hint);
      (flag == "--out" ? out : flag == "--model" ? spec.model_path : spec.controller) = std::string(value);
      continue;
    }
    return usage_error(fmt::format("tide data mujoco: unknown option '{}'", arg), hint);
  }
  if (out.empty()) return usage_error("tide data mujoco: --out FILE.csv is required", hint);
  const std::filesystem::path parent = std::filesystem::path(out).parent_path();
  std::error_code ec;
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec) fail("tide data mujoco: cannot create the directory {}: {}", parent.string(), ec.message());
  const RolloutStats stats = write_mujoco_rollouts(spec, out);
  fmt::print("{}: {} rows, {} episodes, {} features, mean dt {:.4f} s\n", out, stats.rows, stats.episodes, stats.features, stats.mean_dt);
  return 0;
}

}  // namespace

int train_main(const Args& args) {
  const char* hint = "tide train --help";
  TrainOptions options;
  std::string config_path;
  std::int64_t epochs = 0, seed = -1;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    std::string_view value;
    if (is_help(arg)) { fmt::print("{}", train_usage); return 0; }
    if (arg == "--resume") { options.resume = true; continue; }
    if (arg == "--quiet") { options.quiet = true; continue; }
    if (matches(arg, "--out")) {
      if (!flag_value(args, i, "--out", value) || value.empty()) return usage_error("tide train: --out needs a directory", hint);
      options.out_dir = std::string(value);
      continue;
    }
    if (matches(arg, "--seed")) {
      if (!flag_value(args, i, "--seed", value) || !parse_i64(value, 0, 1000000000000, seed))
        return usage_error(fmt::format("tide train: --seed takes an integer >= 0, got '{}'", value), hint);
      continue;
    }
    if (matches(arg, "--max-steps") || matches(arg, "--epochs")) {
      const std::string_view flag = matches(arg, "--epochs") ? "--epochs" : "--max-steps";
      if (!flag_value(args, i, flag, value)) return usage_error(fmt::format("tide train: {} needs a value", flag), hint);
      if (!parse_i64(value, 1, 1000000000, flag == "--epochs" ? epochs : options.max_steps))
        return usage_error(fmt::format("tide train: {} takes a positive integer, got '{}'", flag, value), hint);
      continue;
    }
    if (arg.starts_with("-")) return usage_error(fmt::format("tide train: unknown option '{}'", arg), hint);
    if (!config_path.empty()) return usage_error(fmt::format("tide train: one config file expected, got '{}' and '{}'", config_path, arg), hint);
    config_path = std::string(arg);
  }
  if (config_path.empty()) return usage_error("tide train: missing CONFIG.json", hint);
  TrainConfig config = load_train_config(config_path);
  if (epochs > 0) {
    config.raw["epochs"] = epochs;
    config.epochs = epochs;
  }
  if (seed >= 0) {
    config.raw["seed"] = seed;
    config.seed = static_cast<std::uint64_t>(seed);
  }
  return run_training(config, options);
}

int eval_main(const Args& args) {
  const char* hint = "tide eval --help";
  std::string run_dir, split = "test";
  bool last = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    std::string_view value;
    if (is_help(arg)) { fmt::print("{}", eval_usage); return 0; }
    if (arg == "--last") { last = true; continue; }
    if (matches(arg, "--split")) {
      if (!flag_value(args, i, "--split", value) || (value != "test" && value != "val" && value != "train"))
        return usage_error(fmt::format("tide eval: --split takes test, val or train, got '{}'", value), hint);
      split = std::string(value);
      continue;
    }
    if (arg.starts_with("-")) return usage_error(fmt::format("tide eval: unknown option '{}'", arg), hint);
    if (!run_dir.empty()) return usage_error("tide eval: one run directory expected", hint);
    run_dir = std::string(arg);
  }
  if (run_dir.empty()) return usage_error("tide eval: missing RUN_DIR", hint);
  fmt::print("{}\n", evaluate_run(run_dir, split, last).dump(2));
  return 0;
}

int data_main(const Args& args) {
  if (args.empty() || is_help(args[0])) {
    fmt::print(args.empty() ? stderr : stdout, "{}", data_usage);
    return args.empty() ? exit_usage : 0;
  }
  const Args rest(args.begin() + 1, args.end());
  if (args[0] == "mujoco") return data_mujoco(rest);
  if (args[0] == "models") {
    for (const auto& [name, what] : models::cell_types()) fmt::print("  {:<16} {}\n", name, what);
    return 0;
  }
  if (args[0] == "info") {
    if (rest.size() != 1 || rest[0].starts_with("-")) return usage_error("tide data info: expected CONFIG.json", "tide data --help");
    const TrainConfig config = load_train_config(std::string(rest[0]));
    fmt::print("{}\n", data::load_dataset(config.data, config.seed, "data").description);
    return 0;
  }
  return usage_error(fmt::format("tide data: unknown dataset command '{}' (available: mujoco, info, models)", args[0]), "tide data --help");
}

}  // namespace tide::cli
