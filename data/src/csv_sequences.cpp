#include "tide/core/error.hpp"
#include "tide/data/csv.hpp"
#include "windows.hpp"
#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <optional>

namespace tide::data {
namespace {

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<std::int64_t> as_integer(std::string_view s) {
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

// Class ids for the label column: its distinct labels sorted numerically when all are integers,
// as strings otherwise.
std::map<std::string, std::int64_t> class_ids(const CsvTable& table, std::size_t col, std::vector<std::string>& names) {
  std::vector<std::string> labels;
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    const std::string label(trimmed(table.rows[r][col]));
    if (label.empty()) fail("{}: empty class label", table.where(r, col));
    labels.push_back(label);
  }
  std::sort(labels.begin(), labels.end());
  labels.erase(std::unique(labels.begin(), labels.end()), labels.end());
  if (std::all_of(labels.begin(), labels.end(), [](const std::string& l) { return as_integer(l).has_value(); }))
    std::sort(labels.begin(), labels.end(), [](const std::string& a, const std::string& b) {
      return *as_integer(a) < *as_integer(b);
    });
  std::map<std::string, std::int64_t> ids;
  for (std::size_t k = 0; k < labels.size(); ++k) ids[labels[k]] = static_cast<std::int64_t>(k);
  names = labels;
  return ids;
}

// A numeric cell under the missing-value policy; `previous` is the sequence's last value in that
// column (nullopt on its first row).
float cell_value(const CsvTable& table, std::size_t row, std::size_t col, MissingPolicy policy,
                 std::optional<float> previous) {
  if (!trimmed(table.rows[row][col]).empty()) {
    const double value = table.number(row, col);
    if (!std::isfinite(static_cast<float>(value)))
      fail("{}: {} is out of the range of a 32-bit float", table.where(row, col), value);
    return static_cast<float>(value);
  }
  switch (policy) {
    case MissingPolicy::zero: return 0.0f;
    case MissingPolicy::fill_previous:
      if (!previous) fail("{}: empty cell on the first row of its sequence (nothing to carry forward; "
                          "MissingPolicy::zero fills it with 0)", table.where(row, col));
      return *previous;
    case MissingPolicy::error: break;
  }
  fail("{}: empty cell (set CsvSequenceSpec::missing to fill_previous or zero to accept gaps)", table.where(row, col));
}

constexpr std::size_t none = static_cast<std::size_t>(-1);  // no such column in the spec

void check_spec(const std::string& path, const CsvSequenceSpec& spec) {
  if (spec.feature_columns.empty()) fail("{}: CsvSequenceSpec names no feature columns", path);
  if (spec.target_columns.empty()) fail("{}: CsvSequenceSpec names no target columns", path);
  if (spec.task == Task::classification && spec.target_columns.size() != 1)
    fail("{}: a classification spec takes exactly one target (label) column, got {}", path, spec.target_columns.size());
  if (spec.window < 1 || spec.stride < 1)
    fail("{}: window {} and stride {} must be at least 1", path, spec.window, spec.stride);
}

// The spec's columns in the table (time and id: `none` when the spec names none).
struct Columns {
  std::vector<std::size_t> features, targets;
  std::size_t time = none, id = none;
};
Columns resolve_columns(const CsvTable& table, const CsvSequenceSpec& spec) {
  Columns c;
  for (const auto& name : spec.feature_columns) c.features.push_back(table.column(name));
  for (const auto& name : spec.target_columns) c.targets.push_back(table.column(name));
  if (!spec.time_column.empty()) c.time = table.column(spec.time_column);
  if (!spec.id_column.empty()) c.id = table.column(spec.id_column);
  return c;
}

// The rows of each sequence id, ids in order of first appearance (one group without an id column).
std::vector<std::vector<std::size_t>> group_rows(const CsvTable& table, std::size_t id_col) {
  std::vector<std::vector<std::size_t>> groups;
  std::map<std::string, std::size_t> group_of;
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    const std::string key = id_col != none ? std::string(trimmed(table.rows[r][id_col])) : std::string();
    if (id_col != none && key.empty()) fail("{}: empty sequence id", table.where(r, id_col));
    const auto [it, fresh] = group_of.try_emplace(key, groups.size());
    if (fresh) groups.emplace_back();
    groups[it->second].push_back(r);
  }
  return groups;
}

// The elapsed time of row r since the sequence's previous row (0 on its first; 1 without a time column).
float elapsed(const CsvTable& table, std::size_t r, std::size_t time_col, std::optional<double>& last_time) {
  if (time_col == none) return 1.0f;
  const double t = table.number(r, time_col);
  if (last_time && t < *last_time)
    fail("{}: time {} is earlier than the sequence's previous row ({})", table.where(r, time_col), t, *last_time);
  const float dt = last_time ? static_cast<float>(t - *last_time) : 0.0f;
  if (!std::isfinite(dt)) fail("{}: the step from {} to {} is out of the range of a 32-bit float", table.where(r, time_col), *last_time, t);
  last_time = t;
  return dt;
}

// One sequence's features, targets (or labels) and elapsed times from its rows.
detail::Series read_series(const CsvTable& table, const std::vector<std::size_t>& rows, const Columns& cols,
                           const CsvSequenceSpec& spec, const std::map<std::string, std::int64_t>& ids) {
  const bool classify = spec.task == Task::classification;
  detail::Series s;
  s.features = static_cast<std::int64_t>(cols.features.size());
  s.outputs = classify ? 0 : static_cast<std::int64_t>(cols.targets.size());
  std::optional<double> last_time;
  for (std::size_t k = 0; k < rows.size(); ++k) {
    const std::size_t r = rows[k];
    // the value in the same column of the sequence's previous row, which ends at values[end]
    const auto previous = [&](const std::vector<float>& values, std::size_t end, std::size_t width, std::size_t j) {
      return k == 0 ? std::nullopt : std::optional(values[end - width + j]);
    };
    const std::size_t x_end = s.x.size(), target_end = s.target.size();
    for (std::size_t j = 0; j < cols.features.size(); ++j)
      s.x.push_back(cell_value(table, r, cols.features[j], spec.missing, previous(s.x, x_end, cols.features.size(), j)));
    if (classify) s.label.push_back(ids.at(std::string(trimmed(table.rows[r][cols.targets[0]]))));
    else
      for (std::size_t j = 0; j < cols.targets.size(); ++j)
        s.target.push_back(cell_value(table, r, cols.targets[j], spec.missing, previous(s.target, target_end, cols.targets.size(), j)));
    s.dt.push_back(elapsed(table, r, cols.time, last_time));
  }
  return s;
}

}  // namespace

SequenceSet load_csv_sequences(const std::string& path, const CsvSequenceSpec& spec,
                               std::vector<std::string>* class_names) {
  check_spec(path, spec);
  const CsvTable table = read_csv(path, spec.csv);
  if (table.rows.empty()) fail("{}: no data rows", path);
  const Columns cols = resolve_columns(table, spec);
  std::vector<std::string> names;
  const std::map<std::string, std::int64_t> ids =
      spec.task == Task::classification ? class_ids(table, cols.targets[0], names) : std::map<std::string, std::int64_t>{};
  const std::vector<std::vector<std::size_t>> groups = group_rows(table, cols.id);
  std::vector<detail::Series> series;
  std::vector<detail::Window> windows;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    series.push_back(read_series(table, groups[g], cols, spec, ids));
    const std::int64_t rows = series.back().rows();
    if (rows <= spec.window) windows.push_back({g, 0, rows});
    else  // starts k * stride <= rows - window: counted first, so no start overflows for any stride
      for (std::int64_t k = 0, last = (rows - spec.window) / spec.stride; k <= last; ++k)
        windows.push_back({g, k * spec.stride, spec.window});
  }
  if (class_names) *class_names = names;
  SequenceSet set = detail::assemble_windows(table.source, spec.task, spec.per_step,
                                             static_cast<std::int64_t>(names.size()), series, windows, spec.window);
  set.validate();
  return set;
}

}  // namespace tide::data
