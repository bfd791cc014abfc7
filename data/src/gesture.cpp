#include "tide/data/gesture.hpp"
#include "tide/core/error.hpp"
#include "tide/data/csv.hpp"
#include "windows.hpp"
#include <cmath>
#include <filesystem>

namespace tide::data {
namespace {

constexpr std::int64_t window = 32, features = 32;
constexpr const char* files[] = {"a3", "b1", "b3", "c1", "c3", "a2", "a1"};

std::int64_t phase_id(const CsvTable& table, std::size_t row, std::size_t col) {
  const std::string& phase = table.rows[row][col];
  static constexpr const char* phases[] = {"D", "P", "S", "H", "R"};
  for (std::int64_t k = 0; k < 5; ++k)
    if (phase == phases[k]) return k;
  fail("{}: phase '{}' is not one of D, P, S, H, R", table.where(row, col), phase);
}

}  // namespace

std::string gesture_dir() { return find_shared_data("gesture"); }

SequenceSet gesture_windows(const std::string& dir) {
  std::vector<detail::Series> series;
  std::vector<detail::Window> windows;
  for (const char* name : files) {
    const std::string path = (std::filesystem::path(dir) / (std::string(name) + "_va3.csv")).string();
    const CsvTable table = read_csv(path);
    if (table.header.size() != features + 1)
      fail("{}: {} columns, expected {} features and the phase", path, table.header.size(), features);
    detail::Series s;
    s.features = features;
    for (std::size_t r = 0; r < table.rows.size(); ++r) {
      for (std::size_t c = 0; c < features; ++c) {
        const double v = table.number(r, c);
        if (!std::isfinite(static_cast<float>(v)))
          fail("{}: {} is out of the range of a 32-bit float", table.where(r, c), v);
        s.x.push_back(static_cast<float>(v));
      }
      s.label.push_back(phase_id(table, r, features));
      s.dt.push_back(1.0f);
    }
    // The reference code's cut: windows at 32 k for k < rows / 32, and at 32 k + 16 between them.
    const std::int64_t whole = s.rows() / window;
    for (std::int64_t k = 0; k < whole; ++k) {
      windows.push_back({series.size(), k * window, window});
      if (k + 1 < whole) windows.push_back({series.size(), k * window + window / 2, window});
    }
    series.push_back(std::move(s));
  }
  if (windows.empty()) fail("{}: no recording has {} rows for one window", dir, window);
  SequenceSet set = detail::assemble_windows("gesture", Task::classification, true, 5, series, windows, window);
  Standardizer::fit(set).apply(set);
  set.validate();
  return set;
}

Split gesture(const std::string& dir, std::uint64_t seed) { return split(gesture_windows(dir), 0.1, 0.15, seed); }

}  // namespace tide::data
