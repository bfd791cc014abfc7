// SequenceSet: a batch-ready collection of irregularly sampled, padded sequences, the one format
// every loader returns and every sequence model and the `tide train` tool consume.
//
//   x     f32 [N, T, F]  features of each observation (zeros on padding)
//   dt    f32 [N, T]     elapsed time since the previous observation of the same sequence
//                        (the first step: time since the sequence's start, 1 for dense data)
//   mask  f32 [N, T]     1 for a real observation, 0 for padding (padding only at the end)
//   y     classification: i64 [N, T] (one label per step) or i64 [N] (one per sequence);
//         regression:     f32 [N, T, O] (per step) or f32 [N, O] (per sequence)
//
// A per-sequence label belongs to the sequence's last valid step. Per-step targets on padded
// steps are ignored by the losses (the mask says which count).
#pragma once
#include "tide/core/tensor.hpp"
#include <cstdint>
#include <string>
#include <vector>

namespace tide::data {

enum class Task { classification, regression };

struct SequenceSet {
  std::string name;
  Task task = Task::classification;
  bool per_step = false;        // targets per step ([N, T...]) or per sequence ([N...])
  std::int64_t classes = 0;     // classification: number of classes
  Tensor x, dt, mask, y;

  std::int64_t size() const { return x.defined() ? x.size(0) : 0; }
  std::int64_t steps() const { return x.defined() ? x.size(1) : 0; }
  std::int64_t features() const { return x.defined() ? x.size(2) : 0; }
  std::int64_t outputs() const;  // classes for classification, O for regression
  // The sequences at `index`, in that order (contiguous copies).
  SequenceSet subset(const std::vector<std::int64_t>& index) const;
  SequenceSet slice(std::int64_t begin, std::int64_t end) const;
  // Throws tide::Error naming `name` when shapes, dtypes or the mask (0/1, padding at the end
  // only) are inconsistent, or when x / dt / a regression y hold NaN or inf. Also: dt >= 0, class
  // ids in [0, classes) on valid steps, and at least one valid step in every sequence.
  void validate() const;
};

struct Split {
  SequenceSet train, val, test;
};

// A seeded random permutation of 0..n-1 (Philox, so the same on every machine).
std::vector<std::int64_t> permutation(std::int64_t n, std::uint64_t seed);
// floor(fraction n), the rows of a part, with the fraction's rounding undone: 0.29 * 100 is
// 28.999999999999996 in doubles, and 29 rows are meant.
std::int64_t part_rows(double fraction, std::int64_t n);

struct SplitRows {
  std::vector<std::int64_t> train, val, test;
};
// The rows of each part of a seeded split of n rows: after permutation(n, seed), the first
// part_rows(val_fraction, n) to val, the next part_rows(test_fraction, n) to test, the rest to
// train (the LTC reference code's order). Throws naming `what` on fractions outside [0, 1] or
// summing past 1.
SplitRows split_rows(std::int64_t n, double val_fraction, double test_fraction, std::uint64_t seed,
                     const std::string& what);
// Splits `all` by split_rows; the parts are named all.name + "/train", "/val", "/test".
Split split(const SequenceSet& all, double val_fraction, double test_fraction, std::uint64_t seed);

// Feature standardisation: mean / std per feature over the valid (mask 1) steps of a set.
struct Standardizer {
  std::vector<double> mean, std;  // std of a constant feature is stored as 1
  static Standardizer fit(const SequenceSet& set);
  void apply(SequenceSet& set) const;  // x <- (x - mean) / std on valid steps, padding stays 0
};
// Fits a Standardizer on split.train only and applies it to all three sets; returns it.
Standardizer standardise(Split& split);

}  // namespace tide::data
