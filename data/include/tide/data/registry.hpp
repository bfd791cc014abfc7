// The dataset registry: the "data" section of a training config (or any JSON object a library user
// writes) -> a Dataset of train / val / test examples, by name.
//
//   {"dataset": "xor", "encoding": "event", "train": 100000, "test": 10000, "val_fraction": 0.1}
//   {"dataset": "fashion_mnist", "dir": "/usr/share/datasets/fashion-mnist", "val_fraction": 0.1}
//                                              event sequences ("encoding": "event", the default)
//   {"dataset": "traffic", "path": ...}        LTC table 3 (squared error); without "path" (or "dir")
//                                              the file is searched for as docs/training.md says
//   {"dataset": "gesture", "dir": ...}         LTC table 3 (accuracy)
//   {"dataset": "person_activity", "path": "ConfLongDemo_JSI.txt"}
//   {"dataset": "mujoco", "path": "rollouts.csv", "window": 32, "stride": 16}   next-state prediction
//                                              on a file written by `tide data mujoco`; with
//                                              "form": "irregular" whole episodes as irregular series
//                                              for the latent ODE (split by episode, val 0.1 / test
//                                              0.2, "normalise": "standard" by default)
//   {"dataset": "csv", "path": ..., "val_path": ..., "test_path": ..., "header": true, "delimiter": ",", "decimal": ".",
//    "comment": "#", "time_column": "t" | 0 | ["date", "time"], "time_format": "%d/%m/%Y %H:%M:%S",
//    "time_unit": "s", "features": [names or 0-based indices] (default: every other column),
//    "exclude": [...], "targets": "y" | [...], "task": "classification" | "regression",
//    "classes": [...], "id_column": "id", "window": 32, "stride": 32, "per_step": true,
//    "missing": "error" | "fill_previous" | "zero" | "drop", "missing_values": ["", "?", "NA", ...],
//    "standardise": true, "val_fraction": 0.1, "test_fraction": 0.15}
// The csv keys map onto CsvSequenceSpec (csv.hpp; docs/training.md, "Your own CSV files"). Note:
// the csv and mujoco splits are drawn over windows, so windows of one sequence can land in
// different splits; separate val_path / test_path files avoid that.
//
// Vectors for density estimation (vectors.hpp):
//   {"dataset": "toy", "name": "8gaussians", "train": 20000, "val": 2000, "test": 5000}
//                                              a toy density (toy_density_names()); each split drawn
//                                              from its own stream of the seed
//   {"dataset": "vectors", "path": "x.csv" | "x.npy" (or .gz), "columns": [...], "standardise": true,
//    "val_fraction": 0.1, "test_fraction": 0.1}   a table split by rows (seeded), standardised with
//                                              the train rows' mean and std; "columns" for .csv only
//   {"dataset": "fashion_mnist", "encoding": "images", "downsample": 1 | 2 | 4, "limit": 0,
//    "dir": ..., "val_fraction": 0.1}          28 x 28 images (or pooled k x k) as byte vectors; the
//                                              training file split into train / val, t10k as test;
//                                              "limit" > 0 reads only the first N of each file.
//                                              "encoding": "event" (the default) is the sequence form.
//                                              The images carry their labels (10 classes).
//   {"dataset": "idx", "train_images": ..., "train_labels": ..., "test_images": ..., "test_labels": ...,
//    "downsample": 1, "limit": 0, "val_fraction": 0.1, "classes": N}   any labelled IDX pair (MNIST,
//                                              KMNIST, ...): images as above with their labels;
//                                              classes 0..the largest training label unless
//                                              "classes" is given; a test label outside is an error
// Irregular series with per-variable masks (irregular.hpp), for the latent ODE:
//   {"dataset": "physionet", "dir": ..., "sets": ["a", "b"], "quantisation": 0.1, "descriptors": false,
//    "time_unit": 48, "labels": true, "normalise": "minmax" | "standard" | "none",
//    "val_fraction": 0.1, "test_fraction": 0.2}   PhysioNet 2012 from its .tar.gz archives
//   {"dataset": "periodic", "train": 1000, "val": 100, "test": 200, "points": 50, "horizon": 5,
//    "freq_min": 0.2, "freq_max": 0.6, "noise": 0.01}   the latent ODE paper's periodic toy
// Every dataset also takes "limit_train", "limit_val", "limit_test": keep only the first N
// sequences or vectors of each set (for short runs; 0, the default, keeps them all).
#pragma once
#include "tide/data/examples.hpp"
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace tide::data {

// The dataset `spec` names, split with `seed`; errors name `where` and the key. The description
// is one line: dataset, sizes, then steps, features and classes or targets for sequences
// ("xor: 90000 train / 10000 val / 10000 test sequences, ..."), dims or the image shape for
// vectors ("toy: 20000 train / 2000 val / 5000 test vectors, 2 dims", "..., 1x14x14 images").
Dataset load_dataset(const nlohmann::json& spec, std::uint64_t seed, const std::string& where);
// A "csv" dataset as load_dataset builds it, with its test split replaced by `file` read the way
// the training file is (same columns, classes and standardisation statistics): what a trained
// run predicts new data with (`tide predict --data`). `file` may lack the target columns (or hold
// them empty): Dataset::test_has_targets is then false. Other datasets are an error.
Dataset load_dataset_with_test_file(const nlohmann::json& spec, std::uint64_t seed, const std::string& where,
                                    const std::string& file);
std::vector<std::string> dataset_names();

// Next-state prediction: targets y[t] = x[t + 1] (regression, per step), the last valid step of
// each sequence dropped from the mask.
SequenceSet next_step_targets(const SequenceSet& set);

}  // namespace tide::data
