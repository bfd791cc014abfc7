#include "train/commands.hpp"
#include <limits>
#include "mujoco_rollouts.hpp"
#include "tide/autodiff/archive.hpp"
#include "tide/data/registry.hpp"
#include "train/checkpoint_meta.hpp"
#include "train/run_plots.hpp"
#include "train/trainer.hpp"
#include "tide/models/registry.hpp"
#include <filesystem>

namespace tide::cli {
namespace {

constexpr const char* train_usage =
    "usage: tide train CONFIG.json [--out DIR] [--resume | --overwrite] [--max-steps N] [--epochs N] [--seed N] [--quiet]\n"
    "                  [--eager]\n"
    "\n"
    "Trains a model as the config says: a sequence model on irregularly sampled data, a latent\n"
    "ODE on irregular series with per-variable masks, a continuous normalising flow on vectors\n"
    "or images, or an ODE classifier on labelled images (model, data, solver, optimizer, schedule,\n"
    "epochs, batch size, seed, gradient clipping, regularisers; see examples/configs/ and\n"
    "docs/training.md). Writes into the run directory (default runs/<name>):\n"
    "  metrics.jsonl     one JSON line per epoch      curves.svg, <metric>.svg   learning curves\n"
    "  checkpoint.tide   latest state (atomic; every checkpoint_every steps, each epoch, on Ctrl-C)\n"
    "  best.tide         best-validation parameters, restored for the test score\n"
    "  summary.json      the final summary, also printed on stdout\n"
    "  data_files.json   the data files read (size, CRC32), the directory trained in and a csv\n"
    "                    run's columns: eval, predict and --resume warn when a file has changed\n"
    "                    since, and refuse a training file whose columns moved\n"
    "  density.svg       flows on 2-D / 1-D data (samples.svg for images): the learned density\n"
    "  reconstructions.svg  latent ODE: a few test sequences reconstructed against their observations\n"
    "  nfe.svg           solver-based models: dynamics evaluations per batch, per epoch\n"
    "  lr.svg            the learning rate per epoch (the metric plot marks the best epoch and\n"
    "                    the test score; `tide plot RUN...` overlays several runs)\n"
    "A progress bar (rate, loss, metric, ETA) goes to stderr on a terminal, plain lines otherwise.\n"
    "\n"
    "options:\n"
    "  --out DIR        run directory (default runs/<name>)\n"
    "  --resume         continue bit-exactly from DIR/checkpoint.tide (the config must be unchanged;\n"
    "                   --epochs, --seed and --eager given when the run started are remembered)\n"
    "  --overwrite      start over in a run directory that holds a run (else an error)\n"
    "  --max-steps N    stop after N optimizer steps in this invocation, with a checkpoint\n"
    "  --epochs N       override the config's epochs (recorded in the run's config.json)\n"
    "  --seed N         override the config's seed (likewise; for runs over several seeds)\n"
    "  --quiet          no progress output\n"
    "  --eager          run every op eagerly instead of replaying compiled plans (the recurrent\n"
    "                   cells' steps and the flows', latent ODE's and ODE classifier's solves\n"
    "                   are compiled by default; the same arithmetic to float rounding, for\n"
    "                   comparison); recorded as \"compile\": false in config.json\n"
    "  -h, --help       show this help\n"
    "\n"
    "models: ltc, ltc_biophysical, cfc, mmrnn, ode_rnn, node_rnn, ctrnn, lstm, augmented_lstm, gru,\n"
    "        gru_d, rnn (sequences); cnf (vectors, images); ode_classifier (labelled images);\n"
    "        latent_ode (irregular series). Keys: models/README.md\n"
    "datasets: xor, fashion_mnist, traffic, gesture, person_activity, mujoco, csv (sequences);\n"
    "          toy, vectors, fashion_mnist with \"encoding\": \"images\", idx (vectors);\n"
    "          physionet, periodic, mujoco with \"form\": \"irregular\" (irregular series)\n"
    "exit status: 0 done, 1 error, 2 usage error, 130 interrupted (checkpoint written)\n";

constexpr const char* eval_usage =
    "usage: tide eval RUN_DIR [--split test|val|train] [--last | --params FILE] [--samples N --out FILE.csv [--seed S]]\n"
    "\n"
    "Rebuilds the run's data and model from RUN_DIR/config.json, loads the best-validation\n"
    "parameters (RUN_DIR/best.tide; --last: RUN_DIR/checkpoint.tide) and prints the loss and\n"
    "every metric the model reports as JSON (classification: accuracy, precision, recall, f1,\n"
    "auc, pr_auc, ..., the confusion matrix and each class's scores; regression: mse; a flow's\n"
    "nll, bits_per_dim, nfe).\n"
    "\n"
    "options:\n"
    "  --split S    test (default), val or train\n"
    "  --last       the latest checkpoint instead of the best-validation parameters\n"
    "  --params F   parameters from F (a .tide archive, or .safetensors as `tide export` writes)\n"
    "  --samples N  flows: write N samples to --out FILE.csv (header x0, x1, ...; images: pixel\n"
    "               values 0..256) instead of scoring; --seed S picks the draw (default 1)\n"
    "  -h, --help   show this help\n";

constexpr const char* predict_usage =
    "usage: tide predict RUN_DIR --out FILE.csv [--split test|val|train | --data FILE] [--last | --params F]\n"
    "\n"
    "Writes the model's predictions as CSV, one row per prediction: example (its index in the\n"
    "split) and step (its index in the sequence; -1 for one prediction per example: images, a\n"
    "classifying latent ODE's series, a sequence label with \"per_step\": false), then for classification the\n"
    "true label, the predicted class and each class's probability (p_<class>, class names as the\n"
    "data's labels), for regression target_<column> and prediction_<column> per target column\n"
    "(target_k, prediction_k without names; mujoco: the next state's variables by their columns,\n"
    "in standardised units). Numbers to 9 significant digits (17 for an f64 run). With --data, each\n"
    "row ends with id (the sequence's id, with an id_column) and time (the row's time cells as the\n"
    "file writes them, or without a time column its position among its sequence's rows, from 0), to\n"
    "join it back to the file; rows \"missing\": \"drop\" left out are noted on stderr by line.\n"
    "\n"
    "options:\n"
    "  --out FILE   the CSV to write (replaced atomically)\n"
    "  --split S    test (default), val or train\n"
    "  --data FILE  a csv run: predict FILE instead, read like its training file (same columns,\n"
    "               classes and standardisation statistics); new data may lack the target column\n"
    "               (or hold it empty): then no label / target column is written\n"
    "  --last       the latest checkpoint instead of the best-validation parameters\n"
    "  --params F   parameters from F (a .tide archive or .safetensors)\n"
    "  -h, --help   show this help\n";

constexpr const char* export_usage =
    "usage: tide export RUN_DIR --out FILE [--last | --params F]\n"
    "\n"
    "Writes the run's best-validation parameters (--last: the latest checkpoint's) to FILE: as\n"
    "safetensors when FILE ends in .safetensors (a JSON header of names, dtypes, shapes and\n"
    "offsets, then little-endian buffers; PyTorch, JAX and numpy read it), else as a tide archive.\n"
    "Names are the model's parameter names (readout.weight, ...). `tide eval RUN_DIR --params FILE`\n"
    "and `tide predict ... --params FILE` load them back. Only the parameter file is read (not the\n"
    "run's data); parameters from --params F must have the names, shapes and dtypes of the run's own.\n"
    "The metadata (safetensors' __metadata__ \"tide\", a JSON string) holds run, parameters_from,\n"
    "model, the model's recorded spec (model_spec) and, for a classifier whose data names its\n"
    "classes (a csv file's labels, a config's classes), class_names: the labels in the order of\n"
    "the model's outputs (other datasets' classes are their numbers, 0, 1, ...).\n"
    "\n"
    "options:\n"
    "  --out FILE   the file to write\n"
    "  --last       the latest checkpoint instead of the best-validation parameters\n"
    "  --params F   convert F (a .tide archive or .safetensors) instead\n"
    "  -h, --help   show this help\n";

constexpr const char* plot_usage =
    "usage: tide plot RUN_DIR... --out FILE.svg [--metric NAME] [--mean]\n"
    "\n"
    "Overlays one metric's per-epoch curve from several run directories (their metrics.jsonl),\n"
    "one line per run, labelled by the directory's name. The y axis is linear unless the values\n"
    "span more than two decades (a learning rate: one), and then says \"(log scale)\".\n"
    "\n"
    "options:\n"
    "  --out FILE    the SVG to write (replaced atomically)\n"
    "  --metric M    a key of the records (val_f1, train_loss, lr, ...) or a validation score\n"
    "                by its name (f1 means val_f1, loss val_loss); default: the first run's\n"
    "                selection metric (its summary.json \"metric\"), else val_loss\n"
    "  --mean        the runs are seeds of one setup: their mean per epoch (over the epochs every\n"
    "                run reached) with a band from the min to the max, each run drawn faint\n"
    "  -h, --help    show this help\n";

constexpr const char* data_usage =
    "usage: tide data <what> [options]\n"
    "\n"
    "  mujoco --out FILE.csv [--episodes N] [--steps N] [--seed S] [--model PATH]\n"
    "         [--controller sine|random|none] [--frame-skip N] [--init-noise X] [--drop F]\n"
    "         physics rollouts with MuJoCo: a controller (none: the passive system), 1% of actions\n"
    "         overwritten at random, uniform +-X (0.02) on the joints and velocities at reset, a\n"
    "         fraction F (0.1) of frames dropped (irregular sampling); a CSV with episode, time and\n"
    "         the joint positions and velocities, for next-state prediction ({\"dataset\": \"mujoco\"})\n"
    "         or the latent ODE ({\"dataset\": \"mujoco\", \"form\": \"irregular\"})\n"
    "  info CONFIG.json\n"
    "         loads the config's data section (and seed; a file with only those will do) and\n"
    "         prints the split sizes, steps and features\n"
    "  models\n"
    "         lists the model types a config's \"model\" section accepts\n"
    "\n"
    "options:\n"
    "  -h, --help   show this help\n";

// The directories create_directories(dir) would make, innermost first.
std::vector<std::filesystem::path> missing_directories(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> missing;
  std::error_code ec;
  for (std::filesystem::path p = dir; !p.empty() && !std::filesystem::exists(p, ec); p = p.parent_path()) missing.push_back(p);
  return missing;
}

int data_mujoco(const Args& args) {
  const char* hint = "tide data --help";
  RolloutSpec spec;
  std::string out;
  std::int64_t seed = static_cast<std::int64_t>(spec.seed);
  const Flags flags = Flags("tide data mujoco", data_usage)
                          .integer("--episodes", std::int64_t{1}, std::int64_t{1000000}, spec.episodes)
                          .integer("--steps", std::int64_t{2}, std::int64_t{1000000}, spec.steps)
                          .integer("--frame-skip", 1, 1000, spec.frame_skip)
                          .integer("--seed", std::int64_t{0}, INT64_MAX, seed)
                          .text("--out", out)
                          .text("--model", spec.model_path)
                          .text("--controller", spec.controller, {"sine", "random", "none"})
                          .number("--init-noise", 0.0, 100.0, spec.init_noise)
                          .number("--drop", 0.0, 0.9, spec.drop_fraction);
  if (const auto status = flags.parse(args)) return *status;
  spec.seed = static_cast<std::uint64_t>(seed);
  if (out.empty()) return usage_error("tide data mujoco: --out FILE.csv is required", hint);
  check_output_not_input(out, {{spec.model_path, "the --model file"}});  // (it replaced the model with rows, exit 0)
  const std::filesystem::path parent = std::filesystem::path(out).parent_path();
  const std::vector<std::filesystem::path> created = missing_directories(parent);
  std::error_code ec;
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec) fail("tide data mujoco: cannot create the directory {}: {}", parent.string(), ec.message());
  RolloutStats stats;
  try {
    stats = write_mujoco_rollouts(spec, out);
  } catch (...) {  // (a missing model, say): the directories made for --out go again, if still empty
    for (const std::filesystem::path& dir : created) std::filesystem::remove(dir, ec);
    throw;
  }
  // a dt is the step between two kept frames of an episode (> 0): with none (every episode kept one), there is no mean
  const std::string dt = stats.mean_dt > 0 ? fmt::format("mean dt {:.4f} s", stats.mean_dt) : "no dt (no episode kept two frames)";
  fmt::print("{}: {} rows, {} episodes, {} features, {}\n", out, stats.rows, stats.episodes, stats.features, dt);
  return 0;
}

}  // namespace

namespace {

// The keys flags set in a run whose checkpoint predates their record: any epochs and seed in its
// config, and "compile": false when the config file has no "compile" (what --resume restored then).
FlagKeys flag_keys_unrecorded(const TrainConfig& started, const TrainConfig& config) {
  FlagKeys keys;
  if (started.raw.contains("epochs")) keys.push_back("epochs");
  if (started.raw.contains("seed")) keys.push_back("seed");
  if (!started.compile && !config.raw.contains("compile")) keys.push_back("compile");
  return keys;
}

// --resume: the values flags set when the run started (--epochs, --seed, --eager; its checkpoint
// lists which), unless given again now. Only those: an epochs or seed edited in the config file is
// then refused like any other change (Trainer::resume), not silently replaced by the old value.
void remember_overrides(const TrainConfig& config, TrainOptions& options, std::int64_t& epochs, std::int64_t& seed) {
  const std::string checkpoint = run_directory(config, options) + "/checkpoint.tide";
  if (!std::filesystem::exists(checkpoint)) return;  // run_training says so
  const std::string source = checkpoint + " (metadata)";
  Position ignored;
  const CheckpointConfig saved = read_checkpoint_meta(load_archive(checkpoint).meta_json, source, ignored);
  const TrainConfig started = parse_train_config(saved.config, source + ".config", ConfigUse::recorded);
  for (const std::string& key : saved.flag_keys ? *saved.flag_keys : flag_keys_unrecorded(started, config)) {
    if (key == "epochs" && epochs == 0) epochs = started.epochs;
    if (key == "seed" && seed < 0) seed = static_cast<std::int64_t>(started.seed);
    if (key == "compile" && !started.compile) options.eager = true;
  }
}

// --epochs, --seed and --eager replace the config's values ("compile": false for --eager), and are
// recorded in the run's config.json and, as flags' keys, in its checkpoints: a resumed run keeps
// them, and resuming a compiled run with --eager (not bit-exact: the arithmetic differs in
// rounding) is refused as a changed config.
void apply_overrides(TrainConfig& config, TrainOptions& options, std::int64_t epochs, std::int64_t seed) {
  if (options.eager) {
    config.raw["compile"] = false;
    config.compile = false;
    options.flag_keys.push_back("compile");
  }
  if (epochs > 0) {
    config.raw["epochs"] = epochs;
    config.epochs = epochs;
    options.flag_keys.push_back("epochs");
  }
  if (seed >= 0) {
    config.raw["seed"] = seed;
    config.seed = static_cast<std::uint64_t>(seed);
    options.flag_keys.push_back("seed");
  }
}

}  // namespace

int train_main(const Args& args) {
  const char* hint = "tide train --help";
  TrainOptions options;
  std::vector<std::string> positional;
  std::int64_t epochs = 0, seed = -1, max_steps = 0;
  const Flags flags = Flags("tide train", train_usage)
                          .on("--resume", options.resume)
                          .on("--overwrite", options.overwrite)
                          .on("--quiet", options.quiet)
                          .on("--eager", options.eager)
                          .text("--out", options.out_dir)
                          .integer("--seed", std::int64_t{0}, std::int64_t{1000000000000}, seed, "an integer >= 0")
                          .integer("--max-steps", std::int64_t{1}, std::int64_t{1000000000}, max_steps, "a positive integer")
                          .integer("--epochs", std::int64_t{1}, max_epochs, epochs)
                          .positional(positional, 1, "one config file");
  if (const auto status = flags.parse(args)) return *status;
  options.max_steps = max_steps;
  if (options.resume && options.overwrite) return usage_error("tide train: --resume continues a run, --overwrite starts it over; pick one", hint);
  const std::string config_path = positional.empty() ? "" : positional[0];
  if (config_path.empty()) return usage_error("tide train: missing CONFIG.json", hint);
  options.config_path = config_path;
  std::error_code ec;
  if (std::filesystem::is_directory(config_path, ec))  // read as JSON, it was "unexpected end of input"
    fail("tide train takes a CONFIG.json file; {} is a directory{}", config_path,
         std::filesystem::exists(config_path + "/config.json", ec)
             ? fmt::format(" (a run's: tide train {}/config.json --resume --out {} continues it)", config_path, config_path)
             : "");
  // --resume reads the config a run started with, as the version that started it did
  TrainConfig config = load_train_config(config_path, options.resume ? ConfigUse::recorded : ConfigUse::new_run);
  if (options.resume) remember_overrides(config, options, epochs, seed);
  apply_overrides(config, options, epochs, seed);
  return run_training(config, options);
}

namespace {

// --last and --params together: a usage error (they name two different parameter files).
int both_parameter_files(const std::string& command, const char* hint) {
  return usage_error(command + ": --last and --params name two different parameter files; pick one", hint);
}

}  // namespace

int eval_main(const Args& args) {
  const char* hint = "tide eval --help";
  std::string split;  // empty: not given (test)
  std::vector<std::string> positional;
  RunParameters from;
  std::int64_t samples = 0, seed = -1;  // -1: not given (1)
  std::string out;
  const Flags flags = Flags("tide eval", eval_usage)
                          .on("--last", from.last)
                          .text("--params", from.file)
                          .integer("--samples", std::int64_t{1}, std::int64_t{100000000}, samples)
                          .integer("--seed", std::int64_t{0}, std::numeric_limits<std::int64_t>::max(), seed)
                          .text("--out", out)
                          .text("--split", split, {"test", "val", "train"})
                          .positional(positional, 1, "one run directory");
  if (const auto status = flags.parse(args)) return *status;
  const std::string run_dir = positional.empty() ? "" : positional[0];
  if (run_dir.empty()) return usage_error("tide eval: missing RUN_DIR", hint);
  if ((samples > 0) != !out.empty()) return usage_error("tide eval: --samples N and --out FILE.csv go together", hint);
  if (from.last && !from.file.empty()) return both_parameter_files("tide eval", hint);
  if (seed >= 0 && samples == 0) return usage_error("tide eval: --seed picks the draw of --samples N; without --samples it has no use", hint);
  if (!split.empty() && samples > 0) return usage_error("tide eval: --samples draws from the model, not from a split; --split goes without it", hint);
  if (samples > 0) {
    check_output_path(out);  // before the draw, which can take a while
    check_run_directory("tide eval", run_dir);
    check_output_not_input(out, run_inputs(run_dir, from));
    write_samples(run_dir, from, samples, static_cast<std::uint64_t>(seed < 0 ? 1 : seed), out);
    fmt::print("{}\n", nlohmann::json{{"samples", samples}, {"file", out}}.dump());
    return 0;
  }
  check_run_directory("tide eval", run_dir);
  fmt::print("{}\n", evaluate_run(run_dir, split.empty() ? "test" : split, from).dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
  return 0;
}

int predict_main(const Args& args) {
  const char* hint = "tide predict --help";
  std::string split, data_file, out;  // split empty: not given (test)
  std::vector<std::string> positional;
  RunParameters from;
  const Flags flags = Flags("tide predict", predict_usage)
                          .on("--last", from.last)
                          .text("--params", from.file)
                          .text("--out", out)
                          .text("--data", data_file)
                          .text("--split", split, {"test", "val", "train"})
                          .positional(positional, 1, "one run directory");
  if (const auto status = flags.parse(args)) return *status;
  if (positional.empty()) return usage_error("tide predict: missing RUN_DIR", hint);
  if (out.empty()) return usage_error("tide predict: --out FILE.csv is required", hint);
  if (from.last && !from.file.empty()) return both_parameter_files("tide predict", hint);
  if (!split.empty() && !data_file.empty())
    return usage_error("tide predict: --split and --data name two different inputs (--data FILE takes the place of a split); pick one", hint);
  check_output_path(out);
  check_run_directory("tide predict", positional[0]);
  check_output_not_input(out, run_inputs(positional[0], from, data_file));
  fmt::print("{}\n", write_predictions(positional[0], from, split.empty() ? "test" : split, data_file, out)
                         .dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
  return 0;
}

int export_main(const Args& args) {
  const char* hint = "tide export --help";
  std::string out;
  std::vector<std::string> positional;
  RunParameters from;
  const Flags flags = Flags("tide export", export_usage)
                          .on("--last", from.last)
                          .text("--params", from.file)
                          .text("--out", out)
                          .positional(positional, 1, "one run directory");
  if (const auto status = flags.parse(args)) return *status;
  if (positional.empty()) return usage_error("tide export: missing RUN_DIR", hint);
  if (out.empty()) return usage_error("tide export: --out FILE is required (FILE.safetensors, or a .tide archive)", hint);
  if (from.last && !from.file.empty()) return both_parameter_files("tide export", hint);
  check_output_path(out);
  check_run_directory("tide export", positional[0]);
  check_output_not_input(out, run_inputs(positional[0], from));
  export_parameters(positional[0], from, out);
  fmt::print("{}\n", nlohmann::json{{"run", positional[0]}, {"parameters_from", from.path(positional[0])}, {"file", out}}.dump());
  return 0;
}

int plot_main(const Args& args) {
  const char* hint = "tide plot --help";
  std::string out, metric;
  bool mean = false;
  std::vector<std::string> runs;
  const Flags flags = Flags("tide plot", plot_usage)
                          .text("--out", out)
                          .text("--metric", metric)
                          .on("--mean", mean)
                          .positional(runs, 10000, "at most 10000 run directories");
  if (const auto status = flags.parse(args)) return *status;
  if (runs.empty()) return usage_error("tide plot: missing RUN_DIR (one or more run directories)", hint);
  if (out.empty()) return usage_error("tide plot: --out FILE.svg is required", hint);
  check_output_path(out);
  for (const std::string& run : runs) check_output_not_input(out, run_inputs(run));
  const Plot plot = overlay_plot(runs, metric, mean);
  write_svg(out, plot);
  fmt::print("{}\n", nlohmann::json{{"runs", runs.size()}, {"metric", plot.y_label}, {"mean", mean}, {"file", out}}.dump());
  return 0;
}

namespace {

int data_models(const Args& args) {
  if (const auto status = Flags("tide data models", data_usage).parse(args)) return *status;
  // grouped by the data each takes, in the table's order (the cells first)
  std::string kind;
  for (const models::ModelType& t : models::model_types()) {
    if (t.kind != kind) fmt::print("{}:\n", t.kind), kind = t.kind;
    fmt::print("  {:<16} {}\n", t.name, t.summary);
  }
  return 0;
}

int data_info(const Args& args) {
  std::vector<std::string> positional;
  if (const auto status = Flags("tide data info", data_usage).positional(positional, 1, "one CONFIG.json").parse(args)) return *status;
  if (positional.empty()) return usage_error("tide data info: expected CONFIG.json", "tide data --help");
  const TrainConfig config = load_data_config(positional[0]);
  std::string description;
  with_relative_path_note(config.data, positional[0], [&] { description = data::load_dataset(config.data, config.seed, "data").description; });
  fmt::print("{}\n", description);
  return 0;
}

}  // namespace

int data_main(const Args& args) {
  return dispatch(args, "tide data", "dataset command", data_usage, {{"mujoco", data_mujoco}, {"info", data_info}, {"models", data_models}});
}

}  // namespace tide::cli
