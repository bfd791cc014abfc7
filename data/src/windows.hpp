// Shared by the loaders: zero-filled SequenceSets of a given shape, and windows cut from long
// recordings (a Series of rows) assembled into one padded SequenceSet.
#pragma once
#include "tide/data/sequence_set.hpp"
#include <cstdint>
#include <string>
#include <vector>

namespace tide::data::detail {

// A SequenceSet of n sequences of `steps` steps, every tensor zero (CPU), x of `x_dtype` (f32 or
// f64). `outputs` is the target width of a regression set and is ignored for classification.
SequenceSet zero_set(std::string name, Task task, bool per_step, std::int64_t classes, std::int64_t n,
                     std::int64_t steps, std::int64_t features, std::int64_t outputs = 1, DType x_dtype = DType::f32);

// One recording, row by row: features (rows x features), the elapsed time of each row, and its
// target (a class id, or `outputs` regression values). Features are doubles: a column with a large
// offset (seconds since 1970) keeps its variation until it is standardised.
struct Series {
  std::int64_t features = 0, outputs = 0;
  std::vector<double> x;
  std::vector<float> dt, target;
  std::vector<std::int64_t> label;
  std::int64_t rows() const { return static_cast<std::int64_t>(dt.size()); }
};

// Rows [start, start + length) of series[series_index]; length <= the set's steps (the rest pads).
struct Window {
  std::size_t series_index = 0;
  std::int64_t start = 0, length = 0;
};

// The LTC / ODE-LSTM reference code's windows: starts 0, stride, ... strictly below rows - length
// (so a recording of exactly `length` rows gives none; this is what makes Traffic 12,043 windows).
std::vector<std::int64_t> reference_window_starts(std::int64_t rows, std::int64_t length, std::int64_t stride);

// Copies the windows into one set of `steps` steps, x of `x_dtype` (f64 for features still to be
// standardised), written straight into the set's tensors: overlapping windows repeat rows, so the
// set is the bulk of a load and is held once. Per-sequence targets come from each window's last row.
SequenceSet assemble_windows(std::string name, Task task, bool per_step, std::int64_t classes,
                             const std::vector<Series>& series, const std::vector<Window>& windows,
                             std::int64_t steps, DType x_dtype = DType::f32);

}  // namespace tide::data::detail
