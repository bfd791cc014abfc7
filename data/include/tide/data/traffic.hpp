// UCI Metro Interstate Traffic Volume as the LTC paper's table 3 uses it (the LTC reference code's
// preprocessing): hourly rows cut into windows, per-step regression of the standardised volume.
#pragma once
#include "tide/data/sequence_set.hpp"
#include "tide/data/shared_data.hpp"
#include <cstdint>
#include <string>

namespace tide::data {

// The shared copy: find_shared_data("traffic/Metro_Interstate_Traffic_Volume.csv").
std::string traffic_path();

// Every window, unsplit: x [12043, 32, 7] = holiday flag (holiday != "None"), temperature minus its
// mean, rain_1h, snow_1h, clouds_all, weekday (Monday = 0), sin(hour * pi / 24); dt = 1; y
// [12043, 32, 1] = traffic_volume standardised over all rows. Windows of 32 start at 0, 4, ...
// strictly below rows - 32 (the reference code's range).
SequenceSet traffic_windows(const std::string& path = traffic_path());
// traffic_windows split after a seeded permutation: 10% val, 15% test, the rest train.
Split traffic(const std::string& path = traffic_path(), std::uint64_t seed = 0);

}  // namespace tide::data
