// The "data" section of a training config -> train / val / test SequenceSets.
//
//   {"dataset": "xor", "encoding": "event", "train": 100000, "test": 10000, "val_fraction": 0.1}
//   {"dataset": "fashion_mnist", "dir": "/usr/share/datasets/fashion-mnist", "val_fraction": 0.1}
//   {"dataset": "traffic", "path": ...}        LTC table 3 (squared error); without "path" (or "dir")
//                                              the file is searched for as docs/training.md says
//   {"dataset": "gesture", "dir": ...}         LTC table 3 (accuracy)
//   {"dataset": "person_activity", "path": "ConfLongDemo_JSI.txt"}
//   {"dataset": "mujoco", "path": "rollouts.csv", "window": 32, "stride": 16}   next-state prediction
//                                              on a file written by `tide data mujoco`
//   {"dataset": "csv", "path": ..., "time_column": "t", "features": [...], "targets": [...],
//    "task": "classification" | "regression", "id_column": "id", "window": 32, "stride": 32,
//    "per_step": true, "missing": "error" | "fill_previous" | "zero", "standardise": true,
//    "val_fraction": 0.1, "test_fraction": 0.15}
// Every dataset also takes "limit_train", "limit_val", "limit_test": keep only the first N
// sequences of each set (for short runs).
#pragma once
#include "tide/data/sequence_set.hpp"
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace tide::cli {

struct LoadedData {
  data::Split split;
  std::string description;  // one line: dataset, sizes, steps, features
};

LoadedData load_data(const nlohmann::json& spec, std::uint64_t seed, const std::string& where);
std::vector<std::string> dataset_names();

// Next-state prediction: targets y[t] = x[t + 1] (regression, per step), the last valid step of
// each sequence dropped from the mask.
data::SequenceSet next_step_targets(const data::SequenceSet& set);

}  // namespace tide::cli
