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
#include "tide/models/model.hpp"
#include "train/train_config.hpp"
#include <cstdio>

namespace tide::cli {

struct TrainOptions {
  std::string out_dir;           // empty: runs/<name>
  bool resume = false;           // continue from out_dir/checkpoint.tide
  std::int64_t max_steps = 0;    // stop after this many optimizer steps in this invocation, checkpointed (0: no limit)
  bool quiet = false;            // no progress output
  std::FILE* progress = stderr;
};

// Returns the process exit status: 0 done, 130 interrupted (checkpoint written).
int run_training(const TrainConfig& config, const TrainOptions& options);

// `tide eval RUN_DIR`: rebuilds the run's data and model, loads best.tide (or checkpoint.tide
// with last = true) and scores a split; returns the scores as JSON.
nlohmann::json evaluate_run(const std::string& run_dir, const std::string& split, bool last);

// `tide eval RUN_DIR --samples N --out FILE.csv`: n samples of a flow's run (best.tide, or
// checkpoint.tide with last = true) drawn with `seed`, written as CSV with a header x0, x1, ...
// (images: pixel values 0..256); throws naming the run when its model does not sample.
void write_samples(const std::string& run_dir, bool last, std::int64_t n, std::uint64_t seed, const std::string& path);

}  // namespace tide::cli
