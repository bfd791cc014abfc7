// `tide train`: trains any models::Model (model.hpp) from a TrainConfig, writing into one run directory
//   config.json      the config as given (a --resume must match it)
//   metrics.jsonl    one JSON object per epoch (train / val loss and metric, lr, steps, seconds)
//   curves.svg       loss per epoch (train, val); <metric>.svg the metric per epoch
//   checkpoint.tide  the latest state (model, optimizer, position in the data, running sums),
//                    written atomically every checkpoint_every steps, at epoch ends and on Ctrl-C
//   best.tide        the parameters with the best validation metric, restored for the test score
//   summary.json     the final summary (also printed on stdout)
// A resumed run continues bit-exactly: the data order is a function of (seed, epoch) and the
// checkpoint holds everything else the next step depends on.
#pragma once
#include "cli_args.hpp"
#include "tide/models/model.hpp"
#include "train/train_config.hpp"
#include <cstdio>

namespace tide::cli {

struct TrainOptions {
  std::string out_dir;           // empty: runs/<name>
  bool resume = false;           // continue from out_dir/checkpoint.tide
  bool overwrite = false;        // start afresh in a directory that holds a run (else an error)
  std::int64_t max_steps = 0;    // stop after this many optimizer steps in this invocation, checkpointed (0: no limit)
  bool quiet = false;            // no progress output
  bool eager = false;            // every op eagerly: no compiled plans (Model::set_compiled(false))
  std::string config_path;       // the config file, whose directory a relative data path that does not open is looked for in
  std::vector<std::string> flag_keys;  // the config's keys flags set ("epochs", "seed", "compile"): kept in checkpoints for --resume
  std::FILE* progress = stderr;
};

// Returns the process exit status: 0 done, 130 interrupted (checkpoint written).
int run_training(const TrainConfig& config, const TrainOptions& options);
// Whether a larger value of `metric` is better when best_metric picks best.tide: the model says for
// its own metric; the classification report's scores and the latent ODE's bounds (elbo, iwae: lower
// bounds on the log-likelihood) are; losses, errors and counts (loss, mse, nll, kl, nfe, ...) are not.
bool higher_is_better(const std::string& metric, const models::Model& model);
// The run directory of a config under these options: --out, else runs/<name>.
std::string run_directory(const TrainConfig& config, const TrainOptions& options);
// The files `tide train` writes into run_dir (whether they exist yet or not): config, log, state,
// summary, data record and figures (the best metric's curve among them, named by a validation metric of its log). No --out of eval, predict, export or plot may name one.
std::vector<std::string> run_files(const std::string& run_dir);

// Which parameters of a run a command loads: `file` when given (a .tide archive or .safetensors),
// else best.tide, or checkpoint.tide with last.
struct RunParameters {
  bool last = false;
  std::string file;
  std::string path(const std::string& run_dir) const;
};

// Throws unless `dir` is a run directory that `tide train` wrote (one with config.json), naming
// `command` ("tide eval") and what `dir` is instead: missing, a file (a config?), a run directory
// that lost its config.json, or another directory.
void check_run_directory(const std::string& command, const std::string& dir);

// What eval, predict, export and plot read or must keep, which their --out may not name
// (check_output_not_input): the parameter file `from` names, the --data file, the run's own files
// (run_files) and the data files its config.json names.
std::vector<Input> run_inputs(const std::string& run_dir, const RunParameters& from = {}, const std::string& data_file = "");

// A run's model as eval, predict and export rebuild it, with the parameters `from` names: from its
// config.json, which must match the config recorded in the parameter file loaded (a file that is
// missing is refused before the data loads), compiled or eager as the run trained. Throws naming
// the file that disagrees and the first differing key.
models::ModelPtr load_run_model(const std::string& run_dir, const RunParameters& from);

// `tide eval RUN_DIR`: rebuilds the run's data and model, loads the parameters and scores a
// split; returns the scores as JSON (classification: with the confusion matrix and per class).
nlohmann::json evaluate_run(const std::string& run_dir, const std::string& split, const RunParameters& from);

// `tide predict RUN_DIR --out FILE.csv`: the model's predictions on a split (or, with data_file, on
// that CSV file read like a csv run's training file) as CSV: example, step, and label, predicted
// and each class's probability (p_<class>), or target_<name> and prediction_<name> per target
// column; a data_file without the target columns gets no label / target columns. Returns a summary.
nlohmann::json write_predictions(const std::string& run_dir, const RunParameters& from, const std::string& split,
                                 const std::string& data_file, const std::string& out);

// `tide export RUN_DIR --out FILE`: the parameters as a tide archive or, for a .safetensors path,
// as safetensors (names as the model's named_parameters(); load back with --params FILE).
void export_parameters(const std::string& run_dir, const RunParameters& from, const std::string& out);

// `tide eval RUN_DIR --samples N --out FILE.csv`: n samples of a flow's run drawn with `seed`,
// written as CSV with a header x0, x1, ... (images: pixel values 0..256); throws naming the run
// when its model does not sample.
void write_samples(const std::string& run_dir, const RunParameters& from, std::int64_t n, std::uint64_t seed, const std::string& path);

}  // namespace tide::cli
