// The registry's "csv" dataset (csv_dataset.cpp): config keys -> CsvSequenceSpec, and the
// file(s) -> a standardised Split. The mujoco dataset reuses csv_split with its own spec.
#pragma once
#include "tide/data/config_object.hpp"
#include "tide/data/csv.hpp"

namespace tide::data::detail {

// The spec the keys of a "csv" data section describe (docs/training.md lists them).
CsvSequenceSpec csv_spec(ConfigObject& k);

// Whether a cell (trimmed) is one of the missing-value tokens (trimmed).
bool is_missing(std::string_view cell, const std::vector<std::string>& tokens);
// k's `key` ("val_fraction", "test_fraction"): in (0, 0.9], `fallback` when absent. 0 is refused
// at the key: training needs every part (`own_file`, when given, is the key that supplies one instead).
double split_fraction(ConfigObject& k, const std::string& key, double fallback, const std::string& own_file = "");
// What csv_split reads besides the sets: the classes' labels, the target columns' names, and
// whether the predict_file holds the targets (without them its y is a placeholder, class 0 or 0.0,
// that no score or output may use).
struct CsvLabels {
  std::vector<std::string> class_names, target_names;
  bool test_has_targets = true;
};

// k's "path" (and "val_path" / "test_path" when given) loaded with `spec`: one file split by
// val_fraction / test_fraction (seeded, over windows), or the parts from their own files, whose
// labels map onto the training file's classes; standardised with the training part's statistics
// unless "standardise" is false (read in f64, so a column far from 0 keeps its variation; x is f32
// after). `labels` receives the classes' labels and the targets' names. A predict_file replaces
// the test part, read with the same spec, classes and standardisation statistics; it may lack the
// target columns (or hold them empty): new data to forecast.
Split csv_split(ConfigObject& k, std::uint64_t seed, CsvSequenceSpec spec, CsvLabels* labels = nullptr,
                const std::string& predict_file = "");

}  // namespace tide::data::detail
