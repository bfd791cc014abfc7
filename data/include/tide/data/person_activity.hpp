// UCI "Localization Data for Person Activity" (ConfLongDemo_JSI.txt) as the mmRNN / ODE-LSTM
// papers use it: four body tags, one row per tag reading, per-step activity classification on an
// irregular time grid. The file is not shipped with tide; bring your own copy.
#pragma once
#include "tide/data/sequence_set.hpp"
#include <cstdint>
#include <string>
#include <vector>

namespace tide::data {

// The four tag ids, in one-hot order: ankle left, ankle right, chest, belt.
extern const std::vector<std::string> person_activity_tags;
// The eleven activities and the class (0..6) each belongs to: the grouping of the ODE-LSTM
// reference code (lying down + lying; sitting down + sitting; the three standing-up activities;
// walking; falling; on all fours; sitting on the ground).
struct ActivityClass {
  std::string activity;
  std::int64_t class_id;
};
extern const std::vector<ActivityClass> person_activity_classes;
inline constexpr std::int64_t person_activity_class_count = 7;

// The default location: find_shared_data("person/ConfLongDemo_JSI.txt").
std::string person_activity_path();

// Rows "sequence name, tag id, timestamp (ticks of 100 ns), date, x, y, z, activity", no header.
// Rows are grouped into recordings by sequence name (first-appearance order), each cut into
// windows of 32 starting at 0, 16, ... strictly below its row count (the reference code's
// range). x [N, 32, 7] = tag one-hot, x, y, z; dt = ticks since the recording's previous row in
// units of 100 ms (10^6 ticks; the reference code's scale), 0.5 on a recording's first row (the
// reference's intended 50 ms); y i64 [N, 32].
SequenceSet person_activity_windows(const std::string& path = person_activity_path());
// Split after a seeded permutation (the reference uses 20% test and no validation set).
Split person_activity(const std::string& path = person_activity_path(), std::uint64_t seed = 0,
                      double val_fraction = 0.1, double test_fraction = 0.2);

}  // namespace tide::data
