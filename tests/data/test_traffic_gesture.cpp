// The Traffic and Gesture loaders on small files the tests write in the real files' formats.
#include "data_test_util.hpp"
#include "tide/data/gesture.hpp"
#include "tide/data/traffic.hpp"
#include <cmath>
#include <numbers>

using namespace tide;
using namespace tide::data;
using namespace tide::data::test;

TEST_CASE("traffic: features, standardised target and reference windows on a generated file") {
  TempDir dir;
  // 40 hourly rows from Sunday 2012-10-07 20:00; row 2 is a holiday
  std::string text = "holiday,temp,rain_1h,snow_1h,clouds_all,weather_main,weather_description,date_time,traffic_volume\n";
  std::vector<double> temp, volume;
  for (int r = 0; r < 40; ++r) {
    const int hour = (20 + r) % 24, day = 7 + (20 + r) / 24;
    temp.push_back(280 + r % 5);
    volume.push_back(100.0 * (r % 7));
    text += fmt::format("{},{},{},{},{},Rain,light rain,2012-10-{:02} {:02}:00:00,{}\n", r == 2 ? "Columbus Day" : "None",
                        temp.back(), 0.25 * r, r == 5 ? 1.5 : 0.0, 10 + r, day, hour, volume.back());
  }
  const SequenceSet s = traffic_windows(write_file(dir.file("traffic.csv"), text));
  // starts 0, 4 (strictly below 40 - 32 = 8)
  REQUIRE(s.size() == 2);
  double temp_mean = 0, volume_mean = 0, volume_var = 0;
  for (int r = 0; r < 40; ++r) temp_mean += temp[static_cast<std::size_t>(r)] / 40, volume_mean += volume[static_cast<std::size_t>(r)] / 40;
  for (double v : volume) volume_var += (v - volume_mean) * (v - volume_mean) / 40;
  const auto x = s.x.to_vector(), y = s.y.to_vector(), dt = s.dt.to_vector();
  for (int w = 0; w < 2; ++w)
    for (int t = 0; t < 32; ++t) {
      const int r = 4 * w + t;
      const std::size_t k = static_cast<std::size_t>(w * 32 + t);
      const int hour = (20 + r) % 24, day = 7 + (20 + r) / 24;
      CAPTURE(r);
      CHECK(x[k * 7 + 0] == (r == 2 ? 1.0 : 0.0));
      CHECK(x[k * 7 + 1] == doctest::Approx(temp[static_cast<std::size_t>(r)] - temp_mean));
      CHECK(x[k * 7 + 2] == doctest::Approx(0.25 * r));
      CHECK(x[k * 7 + 3] == (r == 5 ? 1.5 : 0.0));
      CHECK(x[k * 7 + 4] == 10 + r);
      CHECK(x[k * 7 + 5] == (day - 7 + 6) % 7);  // 2012-10-07 was a Sunday (6 with Monday = 0)
      CHECK(x[k * 7 + 6] == doctest::Approx(std::sin(hour * std::numbers::pi / 24)));
      CHECK(y[k] == doctest::Approx((volume[static_cast<std::size_t>(r)] - volume_mean) / std::sqrt(volume_var)));
      CHECK(dt[k] == 1.0);
    }
  std::string bad = text;
  bad.replace(bad.find("2012-10-07 21"), 10, "2012-13-07");
  CHECK_ERROR_NAMES(traffic_windows(write_file(dir.file("date.csv"), bad)),
                    dir.file("date.csv") + ":3: column 8 ('date_time'): '2012-13-07 21:00:00' is not a date");
  for (const char* day : {"2012-02-30", "2011-02-29", "2012-04-31"}) {  // no such days (2012 is a leap year)
    bad = text;
    bad.replace(bad.find("2012-10-07 21"), 10, day);
    CHECK_ERROR_NAMES(traffic_windows(write_file(dir.file("day.csv"), bad)),
                      dir.file("day.csv") + ":3: column 8 ('date_time'): '" + day + " 21:00:00': day " + std::string(day).substr(8) + " is out of range");
  }
  bad = text;
  bad.replace(bad.find("2012-10-07 21"), 10, "2012-02-29");  // a leap day is a day
  CHECK_NOTHROW(traffic_windows(write_file(dir.file("leap.csv"), bad)));
  for (const char* time : {"-1:00:00", "21:-1:00", "21:00:60", "2+:00:00"}) {  // digits only, and no leap second (as Python's datetime)
    bad = text;
    bad.replace(bad.find("21:00:00"), 8, time);
    CHECK_ERROR_NAMES(traffic_windows(write_file(dir.file("time.csv"), bad)),
                      dir.file("time.csv") + ":3: column 8 ('date_time'): '2012-10-07 " + time + "' is not a date");
  }
  bad = text;
  bad.replace(bad.find("traffic_volume"), 14, "volume");
  CHECK_ERROR_NAMES(traffic_windows(write_file(dir.file("key.csv"), bad)), "no column named 'traffic_volume'");
}

TEST_CASE("gesture: per-file non-overlapping plus half-shifted windows, standardised, D P S H R -> 0..4") {
  TempDir dir;
  const char* files[] = {"a3", "b1", "b3", "c1", "c3", "a2", "a1"};
  const int rows[] = {64, 40, 96, 32, 70, 31, 33};  // whole windows: 2, 1, 3, 1, 2, 0, 1 -> 3 + 1 + 5 + 1 + 3 + 0 + 1
  const char phases[] = {'D', 'P', 'S', 'H', 'R'};
  for (int f = 0; f < 7; ++f) {
    std::string text;
    for (int c = 1; c <= 32; ++c) text += std::to_string(c) + ",";
    text += "Phase\n";
    for (int r = 0; r < rows[f]; ++r) {
      for (int c = 0; c < 32; ++c) text += fmt::format("{},", f * 1000 + r + c * 0.5);
      text += phases[(r + f) % 5];
      text += "\n";
    }
    write_file(dir.file(std::string(files[f]) + "_va3.csv"), text);
  }
  const SequenceSet s = gesture_windows(dir.path().string());
  s.validate();
  REQUIRE(s.size() == 14);
  const Standardizer st = Standardizer::fit(s);
  CHECK(std::abs(st.mean[0]) < 1e-4);
  CHECK(st.std[3] == doctest::Approx(1.0).epsilon(1e-4));
  // window order: a3 rows 0, 16, 32; the labels show where each window starts
  const auto y = s.y.to_indices();
  CHECK(y[0] == 0);
  CHECK(y[32] == 16 % 5);
  CHECK(y[64] == 32 % 5);
  CHECK(y[96] == (0 + 1) % 5);  // b1, row 0
  std::string header, row;
  for (int c = 1; c <= 32; ++c) header += std::to_string(c) + ",", row += "1,";
  write_file(dir.file("b1_va3.csv"), header + "Phase\n" + row + "D\n" + row + "X\n");
  CHECK_ERROR_NAMES(gesture_windows(dir.path().string()), dir.file("b1_va3.csv") + ":3: column 33 ('Phase'): phase 'X'");
}
