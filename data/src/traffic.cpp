#include "tide/data/traffic.hpp"
#include "tide/core/error.hpp"
#include "tide/data/csv.hpp"
#include "civil_dates.hpp"
#include "digits.hpp"
#include "windows.hpp"
#include <cmath>
#include <numbers>

namespace tide::data {
namespace {

constexpr std::int64_t window = 32, stride = 4;

using detail::days_from_civil;

struct WeekdayHour {
  int weekday, hour;  // Monday = 0 (Python's datetime.weekday(), as the reference code uses)
};

// "YYYY-MM-DD HH:MM:SS"
WeekdayHour parse_date_time(const CsvTable& table, std::size_t row, std::size_t col) {
  const std::string& s = table.rows[row][col];
  int part[6] = {};
  const std::size_t at[6] = {0, 5, 8, 11, 14, 17}, width[6] = {4, 2, 2, 2, 2, 2};
  bool ok = s.size() == 19 && s[4] == '-' && s[7] == '-' && s[10] == ' ' && s[13] == ':' && s[16] == ':';
  for (int k = 0; ok && k < 6; ++k) {
    const std::optional<int> v = detail::digits_only<int>(std::string_view(s).substr(at[k], width[k]));
    ok = v.has_value();
    part[k] = v.value_or(0);
  }
  // second 60 too is refused, as Python's datetime (the reference code's reader) refuses it
  ok = ok && part[1] >= 1 && part[1] <= 12 && part[2] >= 1 && part[3] <= 23 && part[4] <= 59 && part[5] <= 59;
  if (!ok) fail("{}: '{}' is not a date and time of the form YYYY-MM-DD HH:MM:SS", table.where(row, col), s);
  const int month_days = detail::days_in_month(part[0], part[1]);
  if (part[2] > month_days)
    fail("{}: '{}': day {} is out of range for month {} of {} ({} days)", table.where(row, col), s, part[2], part[1], part[0],
         month_days);
  const std::int64_t days = days_from_civil(part[0], part[1], part[2]);
  const auto weekday = static_cast<int>(((days % 7) + 7 + 3) % 7);  // 1970-01-01 was a Thursday (3)
  return {weekday, part[3]};
}

}  // namespace

std::string traffic_path() { return find_shared_data("traffic/Metro_Interstate_Traffic_Volume.csv"); }

SequenceSet traffic_windows(const std::string& path) {
  const CsvTable table = read_csv(path);
  const std::size_t holiday = table.column("holiday"), temp = table.column("temp"), rain = table.column("rain_1h"),
                    snow = table.column("snow_1h"), clouds = table.column("clouds_all"),
                    date_time = table.column("date_time"), volume = table.column("traffic_volume");
  const std::size_t rows = table.rows.size();
  if (rows <= static_cast<std::size_t>(window)) fail("{}: {} rows, need more than {} for one window", path, rows, window);
  std::vector<double> temperature(rows), target(rows);
  double temp_mean = 0, volume_mean = 0, volume_sq = 0;
  for (std::size_t r = 0; r < rows; ++r) {
    temperature[r] = table.number(r, temp);
    target[r] = table.number(r, volume);
    temp_mean += temperature[r];
    volume_mean += target[r];
  }
  temp_mean /= static_cast<double>(rows);
  volume_mean /= static_cast<double>(rows);
  for (double v : target) volume_sq += (v - volume_mean) * (v - volume_mean);
  const double volume_std = std::sqrt(volume_sq / static_cast<double>(rows));
  if (!std::isfinite(temp_mean) || !std::isfinite(volume_mean) || !std::isfinite(volume_std))
    fail("{}: temp or traffic_volume values too large to average", path);
  if (!(volume_std > 0)) fail("{}: traffic_volume is constant, cannot standardise it", path);

  std::vector<detail::Series> series(1);
  detail::Series& s = series[0];
  s.features = 7;
  s.outputs = 1;
  for (std::size_t r = 0; r < rows; ++r) {
    const WeekdayHour when = parse_date_time(table, r, date_time);
    const double values[7] = {table.rows[r][holiday] == "None" ? 0.0 : 1.0,
                              temperature[r] - temp_mean,
                              table.number(r, rain),
                              table.number(r, snow),
                              table.number(r, clouds),
                              static_cast<double>(when.weekday),
                              std::sin(when.hour * std::numbers::pi / 24.0)};
    for (double v : values) {
      if (!std::isfinite(static_cast<float>(v)))
        fail("{}:{}: a feature value {} is out of the range of a 32-bit float", path, table.lines[r], v);
      s.x.push_back(static_cast<float>(v));
    }
    s.dt.push_back(1.0f);
    s.target.push_back(static_cast<float>((target[r] - volume_mean) / volume_std));
  }
  std::vector<detail::Window> windows;
  for (std::int64_t start : detail::reference_window_starts(static_cast<std::int64_t>(rows), window, stride))
    windows.push_back({0, start, window});
  SequenceSet set = detail::assemble_windows("traffic", Task::regression, true, 0, series, windows, window);
  set.validate();
  return set;
}

Split traffic(const std::string& path, std::uint64_t seed) { return split(traffic_windows(path), 0.1, 0.15, seed); }

}  // namespace tide::data
