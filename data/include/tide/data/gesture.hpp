// UCI Gesture Phase Segmentation as the LTC paper's table 3 uses it (the LTC reference code's
// preprocessing): the seven processed *_va3.csv recordings, per-step phase classification.
#pragma once
#include "tide/data/sequence_set.hpp"
#include "tide/data/shared_data.hpp"
#include <cstdint>
#include <string>

namespace tide::data {

// The shared copy: find_shared_data("gesture").
std::string gesture_dir();

// Every window, unsplit: the files a3, b1, b3, c1, c3, a2, a1 (<dir>/<name>_va3.csv, 32 numeric
// features then the phase letter), each cut into non-overlapping windows of 32 plus the windows
// shifted by 16 between them (605 in all); x [605, 32, 32] standardised per feature over all
// windows (as the reference code does, before the split); dt = 1; y i64 [605, 32] with
// D, P, S, H, R -> 0..4.
SequenceSet gesture_windows(const std::string& dir = gesture_dir());
// gesture_windows split after a seeded permutation: 10% val, 15% test, the rest train.
Split gesture(const std::string& dir = gesture_dir(), std::uint64_t seed = 0);

}  // namespace tide::data
