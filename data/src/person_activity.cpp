#include "tide/data/person_activity.hpp"
#include "tide/core/error.hpp"
#include "tide/data/csv.hpp"
#include "tide/data/shared_data.hpp"
#include "windows.hpp"
#include <charconv>
#include <cmath>
#include <map>

namespace tide::data {

const std::vector<std::string> person_activity_tags = {"010-000-024-033", "010-000-030-096", "020-000-033-111",
                                                       "020-000-032-221"};

const std::vector<ActivityClass> person_activity_classes = {
    {"lying down", 0},
    {"lying", 0},
    {"sitting down", 1},
    {"sitting", 1},
    {"standing up from lying", 2},
    {"standing up from sitting", 2},
    {"standing up from sitting on the ground", 2},
    {"walking", 3},
    {"falling", 4},
    {"on all fours", 5},
    {"sitting on the ground", 6},
};

namespace {

constexpr std::int64_t window = 32, stride = 16, features = 7;
constexpr double ticks_per_unit = 1e6;  // 100 ms in ticks of 100 ns
constexpr float first_dt = 0.5f;        // 50 ms

enum Column : std::size_t { name_col, tag_col, ticks_col, date_col, x_col, y_col, z_col, activity_col, columns };

std::int64_t ticks(const CsvTable& table, std::size_t row) {
  const std::string& cell = table.rows[row][ticks_col];
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), v);
  if (ec != std::errc() || end != cell.data() + cell.size() || v < 0)
    fail("{}: '{}' is not a timestamp (a non-negative integer count of 100 ns ticks)", table.where(row, ticks_col),
         cell);
  return v;
}

}  // namespace

std::string person_activity_path() { return find_shared_data("person/ConfLongDemo_JSI.txt"); }

SequenceSet person_activity_windows(const std::string& path) {
  const CsvTable table = read_csv(path, CsvOptions{',', false});
  if (table.rows.empty()) fail("{}: no rows", path);
  if (table.header.size() != columns)
    fail("{}:{}: {} fields, expected {} (name, tag, ticks, date, x, y, z, activity)", path, table.lines[0],
         table.header.size(), static_cast<std::size_t>(columns));
  std::map<std::string, std::int64_t> tag_index, class_of;
  for (std::size_t k = 0; k < person_activity_tags.size(); ++k) tag_index[person_activity_tags[k]] = static_cast<std::int64_t>(k);
  for (const auto& a : person_activity_classes) class_of[a.activity] = a.class_id;

  std::vector<detail::Series> series;
  std::map<std::string, std::size_t> recording;
  std::vector<std::int64_t> last_ticks;
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    const auto& row = table.rows[r];
    const auto [it, fresh] = recording.try_emplace(row[name_col], series.size());
    if (fresh) {
      series.emplace_back().features = features;
      last_ticks.push_back(-1);
    }
    detail::Series& s = series[it->second];
    const auto tag = tag_index.find(row[tag_col]);
    if (tag == tag_index.end()) fail("{}: unknown tag id '{}'", table.where(r, tag_col), row[tag_col]);
    const auto activity = class_of.find(row[activity_col]);
    if (activity == class_of.end()) fail("{}: unknown activity '{}'", table.where(r, activity_col), row[activity_col]);
    const std::int64_t now = ticks(table, r);
    std::int64_t& last = last_ticks[it->second];
    if (last >= 0 && now < last)
      fail("{}: timestamp {} is earlier than the recording's previous row ({})", table.where(r, ticks_col), now, last);
    s.dt.push_back(last < 0 ? first_dt : static_cast<float>(static_cast<double>(now - last) / ticks_per_unit));
    last = now;
    for (std::int64_t k = 0; k < 4; ++k) s.x.push_back(k == tag->second ? 1.0f : 0.0f);
    for (std::size_t c : {x_col, y_col, z_col}) {
      const double v = table.number(r, c);
      if (!std::isfinite(static_cast<float>(v)))
        fail("{}: {} is out of the range of a 32-bit float", table.where(r, c), v);
      s.x.push_back(static_cast<float>(v));
    }
    s.label.push_back(activity->second);
  }
  std::vector<detail::Window> windows;
  for (std::size_t g = 0; g < series.size(); ++g)
    for (std::int64_t start : detail::reference_window_starts(series[g].rows(), window, stride))
      windows.push_back({g, start, window});
  if (windows.empty()) fail("{}: no recording has more than {} rows, so there is no window", path, window);
  SequenceSet set = detail::assemble_windows("person-activity", Task::classification, true,
                                             person_activity_class_count, series, windows, window);
  set.validate();
  return set;
}

Split person_activity(const std::string& path, std::uint64_t seed, double val_fraction, double test_fraction) {
  return split(person_activity_windows(path), val_fraction, test_fraction, seed);
}

}  // namespace tide::data
