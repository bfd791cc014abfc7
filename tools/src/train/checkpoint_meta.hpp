// The metadata of a `tide train` checkpoint (the archive's meta_json, tide/autodiff/archive.hpp):
// a format tag, the config the run was written with, and where the run stood.
#pragma once
#include <nlohmann/json.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tide::cli {

// Where a run stands: restored by --resume, saved in every checkpoint.
struct Position {
  std::int64_t epoch = 0, batch = 0, global_step = 0, best_epoch = -1, records_written = 0;
  // seen: what the epoch's batch losses were means over, summed (BatchLoss::weight: examples, or valid steps)
  double best_val = 0, loss_sum = 0, metric_sum = 0, metric_count = 0, seen = 0;
  // the epoch's sums of the model's other metrics (value, count) by name (nfe, regularisers, ...)
  std::map<std::string, std::pair<double, double>> extra;

  // (0 while nothing has weight: a first batch of classes weighted 0 pools with weight 0)
  double train_loss() const { return seen > 0 ? loss_sum / seen : 0.0; }
  double train_metric() const { return metric_count > 0 ? metric_sum / metric_count : 0.0; }
};

// The config keys a run's command-line flags set (--epochs, --seed, --eager: "epochs", "seed",
// "compile"): --resume restores these, and only these, over the config file's values.
using FlagKeys = std::vector<std::string>;

// What a checkpoint says besides the position: the config the run was written with, the keys
// of it that flags set and the BLAS thread count it ran with (each nullopt in checkpoints written
// before it was recorded). GEMMs split their sums by thread, so a resume with another count is
// valid but not bit-exact.
struct CheckpointConfig {
  nlohmann::json config;
  std::optional<FlagKeys> flag_keys;
  std::optional<std::int64_t> blas_threads;
};

// The metadata text of a checkpoint of a run of `config` (`flag_keys` of it set by flags) at
// `position`, run with `blas_threads` BLAS threads (tide::blas_info().threads).
std::string checkpoint_meta(const nlohmann::json& config, const Position& position, const FlagKeys& flag_keys = {},
                            std::int64_t blas_threads = 1);

// Reads checkpoint_meta's text into `position` (whose best_val stays as it is while no epoch has
// been best) and returns the config. Every key is checked (present, of its type, counts >= 0 and
// below 2^62, no unknown key); an error names `source` and the key, and changes nothing.
CheckpointConfig read_checkpoint_meta(const std::string& text, const std::string& source, Position& position);

}  // namespace tide::cli
