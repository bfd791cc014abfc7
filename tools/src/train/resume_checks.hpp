// What `tide train --resume` restores besides the checkpoint's keys one by one (checkpoint_meta.hpp
// reads those): the metrics log's records it keeps, the position against the run's steps and log,
// and best.tide, which the finished run scores. Every error names the file and the line or key.
#pragma once
#include "train/checkpoint_meta.hpp"
#include <nlohmann/json.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tide::cli {

// Throws naming path:line unless each of `records` (the first records of the metrics log at
// `path`, which --resume keeps) holds what the figures, the progress line and the position check
// read: "epoch" a number, "step" an integer >= 0, "train_loss" a number and `metric_key` (the
// selection metric, "val_accuracy") a number or null (the run writes a NaN as null).
void check_kept_records(const std::string& path, const std::vector<nlohmann::json>& records, const std::string& metric_key);

// Throws naming `checkpoint` and the key unless `p` is a position the run can have reached: one
// record per finished epoch, best_epoch -1 or one of them, batch at most `steps_per_epoch` (0: not
// known, the data changed since) and global_step the steps `records` (checked) count to the last
// finished epoch plus batch.
void check_position(const Position& p, const std::string& checkpoint, std::int64_t steps_per_epoch, const std::string& log_path,
                    const std::vector<nlohmann::json>& records);

// Throws, as eval does, when `best` records another config than `config` (which config.json and
// the checkpoint hold): a best.tide copied from another run, whose parameters the finished run would
// score. A best.tide from before the config was recorded passes.
void check_best_config(const std::string& best, const nlohmann::json& config, const std::string& config_path,
                       const std::string& checkpoint);

// GEMMs split their sums by BLAS thread, so a resume with another thread count than the one
// `checkpoint` was written with (`saved`) continues the run validly but not bit-exactly: said on
// stderr, not refused (older checkpoints do not record the count).
void warn_other_blas_threads(const std::string& checkpoint, std::optional<std::int64_t> saved);

// Writes changed_data_files' lines to stderr as warnings (warn_changed_data_files); true when there
// were any: the data's steps per epoch may then differ from the checkpoint's.
bool warn_data_changed(const std::string& run_dir, const std::string& consequence);

}  // namespace tide::cli
