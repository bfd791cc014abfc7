// Irregularly sampled multivariate time series in which each observation holds only some of the
// variables (PhysioNet 2012, the latent ODE paper's toys): every sequence keeps its own times, and
// a mask per value says what was observed. The latent ODE reads this form.
//
//   times    f64 [N, T]     each sequence's observation times, strictly increasing over its
//                           lengths[n] valid steps; padded steps repeat the last valid time
//   values   f32 [N, T, D]  the observed values (0 where not observed and on padding); f64 as
//                           read, before a VariableScaler (which returns f32) when a variable far
//                           from 0 must keep its variation (IrregularExamples, what the models
//                           read, takes f32 only)
//   mask     f32 [N, T, D]  1 where variable d was observed at step t, else 0
//   lengths  i64 [N]        valid steps per sequence (>= 1); each valid step observes something
//   labels   i64 [N]        a class per sequence (PhysioNet: in-hospital death), or undefined
#pragma once
#include "tide/core/random.hpp"
#include "tide/data/examples.hpp"
#include <cstdint>
#include <string>
#include <vector>

namespace tide::data {

struct IrregularSet {
  std::string name;
  std::vector<std::string> variables;  // D names
  std::int64_t classes = 0;            // 0 when there are no labels
  Tensor times, values, mask, lengths, labels;
  std::vector<std::int64_t> ids;       // a record id per sequence (PhysioNet's RecordID), or empty

  std::int64_t size() const { return times.defined() ? times.size(0) : 0; }
  std::int64_t steps() const { return times.defined() ? times.size(1) : 0; }
  std::int64_t dims() const { return static_cast<std::int64_t>(variables.size()); }
  bool labelled() const { return labels.defined(); }
  // The sequences at `index`, in that order, padded to the longest of them.
  IrregularSet subset(const std::vector<std::int64_t>& index) const;
  IrregularSet slice(std::int64_t begin, std::int64_t end) const;
  // Throws tide::Error naming `name`, the sequence and the step: wrong shapes or dtypes, a mask
  // entry other than 0 / 1, a value where nothing was observed, NaN or inf, times not strictly
  // increasing, a valid step observing nothing, labels outside [0, classes).
  void validate() const;
};

class IrregularExamples final : public Examples {
public:
  // The models read f32 values: f64 (a reader's staging for a VariableScaler) is refused here.
  explicit IrregularExamples(IrregularSet set);
  std::int64_t size() const override { return set_.size(); }
  ExamplesPtr subset(const std::vector<std::int64_t>& index) const override;
  ExamplesPtr slice(std::int64_t begin, std::int64_t end) const override;
  std::vector<double> class_counts() const override;
  const IrregularSet& set() const { return set_; }

private:
  IrregularSet set_;
};

// The irregular sequences of `examples`; throws naming `what` when they are of another form.
const IrregularSet& irregular_of(const Examples& examples, const std::string& what);

struct IrregularSplit {
  IrregularSet train, val, test;
};
// The set as padded sequences for the recurrent models (sequence_set.hpp): x = [values, mask]
// (2 D features per step), dt = the time since the previous observation (the first step: its
// time), the step mask from the lengths, and the labels as per-sequence classification targets.
// Throws naming the set when it has no labels.
SequenceSet as_sequences(const IrregularSet& set);

// A seeded split by sequences (split_rows in sequence_set.hpp); parts named "<name>/train" etc.
IrregularSplit split(const IrregularSet& all, double val_fraction, double test_fraction, std::uint64_t seed);

// Per-variable normalisation fitted on the observed values of a training set:
//   minmax    (x - min) / (max - min): observed values in [0, 1] (the latent ODE code's choice)
//   standard  (x - mean) / std (population std)
// A variable never observed, or constant, gets scale 1. Unobserved entries stay 0.
enum class Normalisation { minmax, standard, none };
std::vector<std::string> normalisation_names();
Normalisation normalisation_from_name(const std::string& name);
struct VariableScaler {
  std::vector<double> shift, scale;  // x -> (x - shift) / scale
  static VariableScaler fit(const IrregularSet& train, Normalisation kind);
  void apply(IrregularSet& set) const;  // values computed in double, returned f32
};

// PhysioNet / CinC Challenge 2012 records read straight from the challenge's .tar.gz archives
// (set-a, set-b), with in-hospital mortality from the Outcomes files.
//
// Each record is one archive member "<set>/<RecordID>.txt" of lines "HH:MM,Parameter,Value"
// after the header "Time,Parameter,Value". Kept: the 37 time-series variables (Weight among
// them: its 00:00 value is the admission weight), and with `descriptors` also Age, Gender,
// Height and ICUType as observations at time 0 (the latent ODE code's 41 variables). The general
// descriptors use -1 for "unknown": a -1 on a 00:00 descriptor line is left unobserved. Times
// are hours since admission, rounded to multiples of `quantisation` hours (0: exact minutes);
// values of one variable falling on the same (rounded) time are averaged. Times are then
// divided by `time_unit` hours (48: the 48-hour window becomes [0, 1]). Records with no
// time-series observation (3 in set-a, 7 in set-b) are left out and listed in `without_series`.
struct PhysionetOptions {
  double quantisation = 0.1;  // hours (the latent ODE paper's 0.1 h); 0 keeps exact minutes
  bool descriptors = false;
  double time_unit = 48.0;    // hours per unit of the returned times
};
std::vector<std::string> physionet_variables(bool descriptors);
struct PhysionetData {
  IrregularSet set;                          // values as recorded (not normalised)
  std::vector<std::int64_t> without_series;  // RecordIDs left out
};
// `outcomes` (may be empty: no labels) are Outcomes-a.txt style files; every record then needs a
// row. Errors name the archive, the member and the line (truncated archives, member names
// other than <digits>.txt, unknown parameters, non-numeric values, times out of order).
PhysionetData read_physionet(const std::vector<std::string>& archives, const std::vector<std::string>& outcomes,
                             const PhysionetOptions& options = {});

// A long CSV table (a header row, then one row per observation) as irregular series: one sequence
// per value of `id_column` (an integer within 64 bits; in increasing order), its rows in file order
// with strictly increasing `time_column`, the `features` columns (empty: every other column but an
// index column, CsvTable::is_index) observed where the cell is not empty or blank; each row observes at least one, in the
// range of a 32-bit float. Errors name the file, line and column. `tide data mujoco` files read this way with
// time_column "time" and id_column "episode". values_dtype f64 keeps the values exact for a
// VariableScaler (a column of seconds since 1970 would lose its variation in f32).
IrregularSet read_irregular_csv(const std::string& path, const std::string& time_column, const std::string& id_column,
                                std::vector<std::string> features = {}, DType values_dtype = DType::f32);

// The latent ODE paper's periodic toy: 1-D sinusoids x(t) = a sin(2 pi f t + phi) + noise with a
// random frequency f ~ U(freq_min, freq_max), phase phi ~ U(0, 2 pi) and amplitude
// a ~ U(amp_min, amp_max), each observed at its own `points` times drawn uniformly in
// [0, horizon] (sorted; every sequence its own irregular grid), Gaussian noise of std `noise`.
struct PeriodicOptions {
  std::int64_t points = 50;
  double horizon = 5.0;
  double freq_min = 0.2, freq_max = 0.6;
  double amp_min = 0.8, amp_max = 1.2;
  double noise = 0.01;
};
IrregularSet periodic_toy(std::int64_t n, Generator& gen, const PeriodicOptions& options = {});

}  // namespace tide::data
