// What `tide train --resume` restores besides the checkpoint's keys one by one (checkpoint_meta.hpp
// reads those): the metrics log's records it keeps, the position against the run's steps and log,
// and best.tide, which the finished run scores. Every error names the file and the line or key.
// Also what a run checks before it writes its first file (the training loss on a few examples),
// the temporary files a run stopped mid-write leaves behind, and the warning for a validation split
// of one class.
#pragma once
#include "tide/autodiff/archive.hpp"
#include "tide/data/examples.hpp"
#include "tide/models/model.hpp"
#include "train/built_run.hpp"
#include "train/checkpoint_meta.hpp"
#include "train/train_config.hpp"
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
// the checkpoint hold), or another model spec than `model`'s (models::check_model_meta): a best.tide
// copied from another run, whose parameters the finished run would score. A best.tide from before
// the config (or the spec) was recorded passes.
void check_best_config(const std::string& best, const nlohmann::json& config, const std::string& config_path,
                       const std::string& checkpoint, const models::Model& model);

// Loads the model parameters of the checkpoint archive `a` (read from `file`) into `model`, after
// checking the spec it records against the model's (models::check_model_meta: parameters of the
// same names and shapes from a model built otherwise are refused, naming the key); a parameter that
// does not fit is said to come from data changed since the run (load_fitting_data).
void load_checkpoint_model(const Archive& a, const std::string& file, models::Model& model);

// GEMMs split their sums by BLAS thread, and OpenBLAS's kernel sets round otherwise, so a resume
// with another thread count or kernel set than the ones `checkpoint` was written with (`saved`)
// continues the run validly but not bit-exactly: said on stderr, not refused (older checkpoints do
// not record them).
void warn_other_blas(const std::string& checkpoint, const CheckpointConfig& saved);

// Writes changed_data_files' lines to stderr as warnings (warn_changed_data_files); true when there
// were any: the data's steps per epoch may then differ from the checkpoint's.
bool warn_data_changed(const std::string& run_dir, const std::string& consequence);

// build(config) for `tide train`: an error loading the data notes a relative data path that does not
// open (relative_path_note, against `config_path`'s directory).
Built build_for_training(const TrainConfig& config, const std::string& config_path);

// The models::Training of the run's optimizer step `step` (global), `epoch` epochs (fractional) into it.
models::Training training_at(const TrainConfig& config, std::int64_t step, double epoch, const std::vector<double>& class_weights);

// Throws what the training loss of `model` throws on the first few examples of `train` for the
// config's regularisers and class weights (a regulariser on a model with no ODE part to integrate,
// class weights on a regression, steer out of range): found before the run writes any file, where
// the first step found them after config.json, data_files.json and an empty metrics log were written.
void check_training_loss(const models::Model& model, const data::Examples& train, const TrainConfig& config,
                         const std::vector<double>& class_weights);

// Removes the temporary files (AtomicFile's "<file>.tmp-<pid>") of `files`, a run's files, that no
// live process writes any more: left by a process stopped mid-write (a second Ctrl-C, a kill, a
// crash). --resume and --overwrite call it, as they take the run over.
void remove_stale_temporaries(const std::vector<std::string>& files);
// Notes the temporary files this process writes `files` through, and removes them (only ::unlink:
// async-signal-safe) when a second Ctrl-C stops the run at once, perhaps in the middle of a write.
void note_own_temporaries(const std::vector<std::string>& files);
void remove_own_temporaries() noexcept;

// What a classification score that picks best.tide (`metric`) measures on validation labels that
// hold one class (`only`, of `classes`): the words after "its f1, which picks best.tide, "; empty
// for a metric a split of one class leaves meaningful.
std::string single_class_effect(const std::string& metric, std::size_t only, std::size_t classes);

}  // namespace tide::cli
