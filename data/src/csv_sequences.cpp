#include "tide/core/error.hpp"
#include "tide/data/csv.hpp"
#include "tide/data/timestamps.hpp"
#include "shown_text.hpp"
#include "windows.hpp"
#include "csv_dataset.hpp"
#include "csv_times.hpp"
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <map>
#include <optional>
#include <tuple>
#include <fmt/ranges.h>

namespace tide::data {
namespace {

using detail::check_zones;
using detail::date_time;
using detail::numeric_time;
using detail::time_text;
using detail::trimmed;

std::optional<std::int64_t> as_integer(std::string_view s) {
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

// The cell as a finite number, read with the table's decimal mark ("1,0" with a decimal comma is 1).
std::optional<double> as_number(std::string_view s, char decimal) {
  double v = 0;
  if (parse_number(s, decimal, v) != std::errc() || !std::isfinite(v)) return std::nullopt;
  return v;
}

}  // namespace

namespace detail {
bool is_missing(std::string_view cell, const std::vector<std::string>& tokens) {
  const std::string_view c = trimmed(cell);
  return std::any_of(tokens.begin(), tokens.end(), [&](const std::string& t) { return c == trimmed(t); });
}
}  // namespace detail

namespace {
using detail::is_missing;

// A time cell with no time: a missing-value token, or empty whatever the tokens (missing_values
// without "" reads an empty feature as an error, but an empty time beside a date would join into midnight).
bool is_missing_time(std::string_view cell, const std::vector<std::string>& tokens) {
  return trimmed(cell).empty() || is_missing(cell, tokens);
}

constexpr std::size_t none = static_cast<std::size_t>(-1);  // no such column in the spec

// What an error about a missing cell suggests: `setting`, a "missing" that accepts it, for data to
// train on. A file to predict is read with the run's config as trained, which can no longer change
// (and "drop" would leave out the rows to forecast): the file is what to fix. Its targets are all
// there or all absent, as the column is then predicted without them.
std::string gap_fix(const CsvSequenceSpec& spec, bool target, const std::string& setting) {
  if (!spec.predicting) return setting;
  return target ? "a file to predict holds every target or none: fill the target cells, or leave the whole column empty to "
                  "predict its rows without targets"
                : "fill the cell: a file to predict is read with the config its run was trained with (\"missing\", "
                  "\"missing_values\")";
}

void check_spec(const std::string& path, const CsvSequenceSpec& spec) {
  if (spec.target_columns.empty()) fail("{}: CsvSequenceSpec names no target columns", path);
  if (spec.task == Task::classification && spec.target_columns.size() != 1)
    fail("{}: classification takes exactly one target (label) column, got {} in CsvSequenceSpec::target_columns; several "
         "targets need Task::regression", path, spec.target_columns.size());
  if (spec.window < 1 || spec.stride < 1)
    fail("{}: window {} and stride {} must be at least 1", path, spec.window, spec.stride);
  if (!(spec.time_unit >= 0) || !std::isfinite(spec.time_unit)) fail("{}: time_unit must be a positive number of seconds", path);
  if (!is_floating(spec.x_dtype)) fail("{}: CsvSequenceSpec x_dtype must be f32 or f64, got {}", path, dtype_name(spec.x_dtype));
  if (!spec.time_format.empty()) {
    try {
      check_timestamp_format(spec.time_format);
    } catch (const Error& e) {
      fail("{}: {}", path, e.what());
    }
  }
  if (spec.task == Task::classification && spec.classes.size() == 1)
    fail("{}: the classes given are a single class ('{}'); classification needs at least two", path, spec.classes[0]);
}

// The spec's columns in the table (id: `none` when the spec names none).
struct Columns {
  std::vector<std::size_t> features, targets, time;
  std::size_t id = none;
};

std::vector<std::size_t> resolve(const CsvTable& table, const std::vector<CsvColumn>& columns) {
  std::vector<std::size_t> out;
  for (const CsvColumn& c : columns) out.push_back(table.column_index(c));
  return out;
}

bool contains(const std::vector<std::size_t>& v, std::size_t c) { return std::find(v.begin(), v.end(), c) != v.end(); }

// Without feature columns in the spec: every column no other role uses, but an index (is_index).
std::vector<std::size_t> remaining_columns(const CsvTable& table, const Columns& c, const std::vector<std::size_t>& excluded) {
  std::vector<std::size_t> out;
  for (std::size_t k = 0; k < table.header.size(); ++k) {
    if (!table.is_index(k) && !contains(c.targets, k) && !contains(c.time, k) && k != c.id && !contains(excluded, k)) out.push_back(k);
  }
  if (out.empty()) fail("{}: no column is left for the features (the others are time, id, targets or excluded)", table.source);
  return out;
}

// A column in two roles is a mistake that trains silently (a target among the features lets the
// model read the answer); each is an error naming the column.
void check_roles(const CsvTable& table, const Columns& c, const CsvSequenceSpec& spec) {
  const auto name = [&](std::size_t k) { return detail::shown(table.header[k]); };
  for (std::size_t k : c.features) {
    if (contains(c.targets, k) && !spec.stand_in_target)
      fail("{}: column '{}' is both a feature and a target (the model would read the answer)", table.source, name(k));
    if (contains(c.time, k) || k == c.id)
      fail("{}: column '{}' is both a feature and the {} column", table.source, name(k), k == c.id ? "id" : "time");
  }
  for (std::size_t k : c.targets)
    if (contains(c.time, k) || k == c.id)
      fail("{}: column '{}' is both a target and the {} column", table.source, name(k), k == c.id ? "id" : "time");
  // grouped by their time, the rows of one time would make a sequence (of other sequences' rows, every dt 0)
  if (c.id != none && contains(c.time, c.id))
    fail("{}: column '{}' is both the time and the id column", table.source, name(c.id));
  // a column listed twice in one role ("features": ["a", "a"]) would reach the model as two inputs
  for (const auto& [role, cols] : {std::pair{"features", &c.features}, std::pair{"targets", &c.targets}, std::pair{"time_column", &c.time}})
    for (std::size_t i = 0; i < cols->size(); ++i)
      if (std::count(cols->begin(), cols->begin() + static_cast<std::ptrdiff_t>(i), (*cols)[i]) > 0)
        fail("{}: column '{}' is listed twice in \"{}\"", table.source, name((*cols)[i]), role);
}

// Other files (val_path, test_path, tide predict --data) find the columns by their names: a name
// the header holds twice would pick one there, or fail, after training read both.
void check_unique_names(const CsvTable& table, const Columns& c) {
  std::vector<std::size_t> used = c.features;
  used.insert(used.end(), c.targets.begin(), c.targets.end());
  used.insert(used.end(), c.time.begin(), c.time.end());
  if (c.id != none) used.push_back(c.id);
  for (std::size_t k : used) {
    std::vector<std::size_t> same;
    for (std::size_t j = 0; j < table.header.size(); ++j)
      if (table.header[j] == table.header[k]) same.push_back(j + 1);
    if (same.size() > 1)
      fail("{}: column name '{}' appears more than once in the header (columns {}); rename them: validation, test and "
           "prediction files are matched to the training file by column name", table.source, detail::shown(table.header[k]),
           fmt::join(same, ", "));
  }
}

Columns resolve_columns(const CsvTable& table, const CsvSequenceSpec& spec) {
  Columns c;
  c.targets = resolve(table, spec.target_columns);
  c.time = resolve(table, spec.time_columns);
  if (!spec.id_column.empty()) c.id = table.column_index(spec.id_column);
  c.features = spec.feature_columns.empty() ? remaining_columns(table, c, resolve(table, spec.exclude))
                                            : resolve(table, spec.feature_columns);
  check_roles(table, c, spec);
  check_unique_names(table, c);
  return c;
}

// Every column a row needs a value in: with MissingPolicy::drop, rows missing one are left out.
std::vector<std::size_t> kept_rows(const CsvTable& table, const Columns& c, const CsvSequenceSpec& spec) {
  std::vector<std::size_t> used = c.features;
  used.insert(used.end(), c.targets.begin(), c.targets.end());
  if (c.id != none) used.push_back(c.id);
  const auto complete = [&](std::size_t r) {
    return std::none_of(used.begin(), used.end(), [&](std::size_t k) { return is_missing(table.rows[r][k], spec.missing_values); }) &&
           std::none_of(c.time.begin(), c.time.end(), [&](std::size_t k) { return is_missing_time(table.rows[r][k], spec.missing_values); });
  };
  std::vector<std::size_t> rows;
  for (std::size_t r = 0; r < table.rows.size(); ++r)
    if (spec.missing != MissingPolicy::drop || complete(r)) rows.push_back(r);
  if (rows.empty()) fail("{}: no data rows{}", table.source, table.rows.empty() ? "" : " left after dropping those with missing values");
  return rows;
}

// A label that is an integer number, as that integer ("1.0", "+1" -> "1"); nullopt otherwise.
std::optional<std::string> integer_key(std::string_view label, char decimal) {
  const std::optional<double> v = as_number(trimmed(label), decimal);
  if (v && *v == std::floor(*v) && std::fabs(*v) < 9.0e15) return fmt::format("{}", static_cast<std::int64_t>(*v));
  return std::nullopt;
}

// A class label as a key: integers written as decimals ("1.0", "+1") become their integer ("1"),
// so a file that writes 1.0 and 1 has one class. The configured classes are keyed so too.
std::string label_key(std::string_view label, char decimal) {
  return integer_key(label, decimal).value_or(std::string(trimmed(label)));
}

// A cell's label key. With `strict`, a label that is a number but not an integer key (not whole, or
// 9e15 or more) is an error: a classification target holds classes.
std::string label_key(const CsvTable& table, std::size_t r, std::size_t col, bool strict) {
  const std::string_view cell = trimmed(table.rows[r][col]);
  const std::optional<double> number = strict && !integer_key(cell, table.decimal) ? as_number(cell, table.decimal) : std::nullopt;
  if (number && *number == std::floor(*number))
    fail("{}: class label '{}' is an integer of magnitude 9e15 or more, beyond what a class key holds exactly (number the classes from 0, or name them with words)",
         table.where(r, col), detail::shown(cell));
  if (number)
    fail("{}: class label '{}' is a number but not an integer (a regression target? set \"task\": \"regression\")",
         table.where(r, col), detail::shown(cell));
  return label_key(cell, table.decimal);
}

// Discovered classes: the distinct labels sorted numerically when all are integers, as strings otherwise.
std::vector<std::string> discover_classes(const CsvTable& table, const std::vector<std::size_t>& rows, std::size_t col) {
  std::vector<std::string> labels;
  for (std::size_t r : rows) labels.push_back(label_key(table, r, col, true));
  std::sort(labels.begin(), labels.end());
  labels.erase(std::unique(labels.begin(), labels.end()), labels.end());
  if (std::all_of(labels.begin(), labels.end(), [](const std::string& l) { return as_integer(l).has_value(); }))
    std::sort(labels.begin(), labels.end(), [](const std::string& a, const std::string& b) { return *as_integer(a) < *as_integer(b); });
  if (labels.size() < 2)
    fail("{}: the label column '{}' holds a single class ('{}'); classification needs at least two", table.source,
         detail::shown(table.header[col]), labels.empty() ? "" : detail::shown(labels[0]));
  return labels;
}

// Class ids of the label column's rows, from spec.classes when given, else discovered.
std::map<std::string, std::int64_t> class_ids(const CsvTable& table, const std::vector<std::size_t>& rows, std::size_t col,
                                              const CsvSequenceSpec& spec, std::vector<std::string>& names) {
  for (std::size_t r : rows)
    if (is_missing(table.rows[r][col], spec.missing_values))
      fail("{}: missing class label '{}' ({})", table.where(r, col), detail::shown(trimmed(table.rows[r][col])),
           gap_fix(spec, true, "\"missing\": \"drop\" leaves such rows out"));
  names = spec.classes.empty() ? discover_classes(table, rows, col) : spec.classes;
  std::map<std::string, std::int64_t> ids;  // by label_key, as the cells are looked up: "1.0" and "+1" are class "1"
  for (std::size_t k = 0; k < names.size(); ++k) {
    const std::string key = label_key(names[k], table.decimal);
    if (const auto [it, fresh] = ids.try_emplace(key, static_cast<std::int64_t>(k)); !fresh)
      fail("{}: classes '{}' and '{}' are the same label {} (class names that are integers compare as numbers)",
           table.source, detail::shown(names[static_cast<std::size_t>(it->second)]), detail::shown(names[k]), detail::shown(key));
  }
  // a file to predict is read with the run's classes (the training file's), which can no longer change
  const char* why = spec.predicting ? " (the run's classes: a file to predict holds those only; leave the whole label column empty, "
                                      "or out, to predict without targets)"
                    : spec.classes.empty() ? ""
                                           : " (the config's \"classes\", or for a validation or test file the training file's)";
  for (std::size_t r : rows)
    if (!ids.count(label_key(table, r, col, false)))
      fail("{}: class label '{}' is not one of the classes ({}){}", table.where(r, col), detail::shown(trimmed(table.rows[r][col])),
           detail::shown(fmt::format("{}", fmt::join(names, ", ")), 200), why);
  return ids;
}

struct Inputs {
  const CsvTable& table;
  const Columns& cols;
  const CsvSequenceSpec& spec;
  const std::map<std::string, std::int64_t>& ids;
  const std::vector<Timestamp>& times;
};

// Spellings of "no value" that files use (pandas' na_values and a few more, and the empty cell, which a
// "missing_values" without "" leaves an error), any case.
bool looks_missing(std::string_view cell) {
  static constexpr std::string_view tokens[] = {"", "na", "n/a", "nan", "null", "none", "nil", "missing", "#n/a", "<na>", "-", "--", "?", "."};
  std::string lower(cell);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return std::find(std::begin(tokens), std::end(tokens), lower) != std::end(tokens);
}

// A date (ISO, day or month first) or a time of day: a time column's cell, not a feature's.
bool looks_like_time(std::string_view cell) {
  for (const char* format : {"", "%H:%M:%S", "%H:%M", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y"})
    if (parse_timestamp(cell, format, nullptr)) return true;
  return false;
}

// "column 2 ('Time')" for the hints below; the row index says so.
std::string column_text(const CsvTable& table, std::size_t k) {
  return fmt::format("column {} ('{}'){}", k + 1, detail::shown(table.header[k]), table.is_index(k) ? ", the row index" : "");
}

// The hint for text in a date column beside the time column ("Time" next to "Date"): join them.
std::string time_hint(const Inputs& in, std::size_t col, const std::string& leave_out) {
  if (in.cols.time.empty()) return fmt::format(" (a date or time? name it in \"time_column\", or {})", leave_out);
  std::vector<std::size_t> joined = in.cols.time;
  joined.push_back(col);
  std::sort(joined.begin(), joined.end());
  std::vector<std::string> names;
  for (std::size_t k : joined) names.push_back(fmt::format("\"{}\"", detail::shown(in.table.header[k])));
  return fmt::format(" (a date or time of day: list it with the time column, \"time_column\": [{}], whose cells are "
                     "joined with a space (for \"time_format\" too); or {})", fmt::join(names, ", "), leave_out);
}

// A guess at why a feature or regression-target cell holds text, for its error: a missing-value
// token the list lacks, a date or time beside the time column, a class label, or a column that
// is a feature only because "features" is not given. Empty when none fits.
std::string not_number_hint(const Inputs& in, std::size_t row, std::size_t col) {
  const std::string_view cell = trimmed(in.table.rows[row][col]);
  const CsvSequenceSpec& spec = in.spec;
  if (looks_missing(cell)) {
    std::vector<std::string> tokens;
    for (const std::string& t : spec.missing_values) tokens.push_back(fmt::format("\"{}\"", detail::shown(t)));
    tokens.push_back(fmt::format("\"{}\"", detail::shown(cell)));
    return fmt::format(" (a missing value? add it to \"missing_values\", whose list replaces the default one: [{}])",
                       fmt::join(tokens, ", "));
  }
  if (contains(in.cols.targets, col) && !spec.stand_in_target)
    return spec.task == Task::regression && in.cols.targets.size() == 1 ? " (a class label? set \"task\": \"classification\")" : "";
  const bool by_default = spec.feature_columns.empty();
  const std::string name = detail::shown(in.table.header[col]);
  const std::string leave_out = by_default ? fmt::format("add '{}' to \"exclude\"", name) : "leave it out of \"features\"";
  if (looks_like_time(cell)) return time_hint(in, col, leave_out);
  if (!by_default) return "";
  std::vector<std::string> targets;
  for (std::size_t k : in.cols.targets) targets.push_back(column_text(in.table, k));
  return fmt::format(" (a feature since \"features\" is not given: every column but the time, id and target ones is; "
                     "the {} {}; set \"features\", or {})", targets.size() == 1 ? "target is" : "targets are",
                     fmt::join(targets, ", "), leave_out);
}

// A numeric cell under the missing-value policy; `previous` is the sequence's last value in that
// column (nullopt on its first row). Kept in double: features are cast after standardising.
double cell_value(const Inputs& in, std::size_t row, std::size_t col, std::optional<double> previous) {
  const CsvTable& table = in.table;
  const CsvSequenceSpec& spec = in.spec;
  if (!is_missing(table.rows[row][col], spec.missing_values)) {
    // parsed once; a cell that is no finite number gets table.number's message, with the hint
    // worked out for it alone
    const std::optional<double> parsed = as_number(trimmed(table.rows[row][col]), table.decimal);
    const double value = parsed ? *parsed : table.number(row, col, not_number_hint(in, row, col));
    if (!std::isfinite(static_cast<float>(value)))
      fail("{}: {} is out of the range of a 32-bit float", table.where(row, col), value);
    return value;
  }
  const bool target = contains(in.cols.targets, col) && !spec.stand_in_target;
  switch (spec.missing) {
    case MissingPolicy::zero: return 0.0;
    case MissingPolicy::fill_previous:
      if (!previous) fail("{}: missing value on the first row of its sequence (nothing to carry forward; {})", table.where(row, col),
                          gap_fix(spec, target, "\"missing\": \"zero\" fills it with 0, \"drop\" leaves the row out"));
      return *previous;
    case MissingPolicy::error:
    case MissingPolicy::drop: break;
  }
  fail("{}: missing value '{}' ({})", table.where(row, col), detail::shown(trimmed(table.rows[row][col])),
       gap_fix(spec, target, "set \"missing\" to fill_previous, zero or drop to accept gaps"));
}

// Each kept row's time, indexed by table row: a date-time with its whole seconds apart (steps
// between dates far from 1970 keep their microseconds), or a number as written (0 whole seconds).
// The first kept row decides: a number there makes it a numeric column.
std::vector<Timestamp> row_times(const CsvTable& table, const std::vector<std::size_t>& rows, const Columns& c,
                                 const CsvSequenceSpec& spec) {
  std::vector<Timestamp> times(table.rows.size());
  if (c.time.empty()) return times;
  // each cell on its own: an empty time beside a date would join into midnight, "NA" would read as a bad date
  for (std::size_t r : rows)
    for (std::size_t k : c.time)
      if (is_missing_time(table.rows[r][k], spec.missing_values))
        fail("{}: missing time '{}' (a time is never filled in; {})", table.where(r, k), detail::shown(trimmed(table.rows[r][k])),
             gap_fix(spec, false, "\"missing\": \"drop\" leaves such rows out"));
  const bool numeric = spec.time_format.empty() && c.time.size() == 1 && as_number(time_text(table, rows[0], c.time), table.decimal).has_value();
  if (numeric && spec.time_unit > 0)
    fail("{}: time_unit applies to date-time columns; column '{}' holds numbers, used as written: dt is in the column's own "
         "unit. Leave time_unit out, and divide the column in the file for another unit (seconds / 60 for minutes), or "
         "write the times as date-times", table.source, detail::shown(table.header[c.time[0]]));
  for (std::size_t r : rows) times[r] = numeric ? numeric_time(table, r, c.time[0]) : date_time(table, r, c.time, spec.time_format);
  if (!numeric) check_zones(table, rows, c.time, times);
  return times;
}

// The rows of each sequence id, ids in order of first appearance (one group without an id column).
// A missing-value token in the id column is an error under every policy but drop (which left out
// such rows): it names no sequence.
std::vector<std::vector<std::size_t>> group_rows(const CsvTable& table, const std::vector<std::size_t>& rows, std::size_t id_col,
                                                 const CsvSequenceSpec& spec) {
  std::vector<std::vector<std::size_t>> groups;
  std::map<std::string, std::size_t> group_of;
  for (std::size_t r : rows) {
    const std::string key = id_col != none ? std::string(trimmed(table.rows[r][id_col])) : std::string();
    if (id_col != none && key.empty()) fail("{}: empty sequence id", table.where(r, id_col));
    if (id_col != none && is_missing(key, spec.missing_values))
      fail("{}: the sequence id '{}' is a missing-value token ({})", table.where(r, id_col), detail::shown(key),
           gap_fix(spec, false, "\"missing\": \"drop\" leaves such rows out; an id spelled so on purpose needs "
                                "\"missing_values\" without it"));
    const auto [it, fresh] = group_of.try_emplace(key, groups.size());
    if (fresh) groups.emplace_back();
    groups[it->second].push_back(r);
  }
  return groups;
}

// The elapsed time of row r since the sequence's previous row `last` (0 on its first; 1 without a
// time column), in time_unit seconds for date-times.
float elapsed(const CsvTable& table, std::size_t r, const Columns& c, const CsvSequenceSpec& spec,
              const std::vector<Timestamp>& times, std::optional<std::size_t>& last) {
  if (c.time.empty()) return 1.0f;
  const double step = last ? times[r].since(times[*last]) / (spec.time_unit > 0 ? spec.time_unit : 1.0) : 0.0;
  const auto text = [&](std::size_t row) { return detail::shown(time_text(table, row, c.time)); };
  if (step < 0)
    fail("{}: time '{}' is earlier than the sequence's previous row's ('{}')", table.where(r, c.time[0]), text(r), text(*last));
  const auto dt = static_cast<float>(step);
  if (!std::isfinite(dt))
    fail("{}: the step from '{}' to '{}' is out of the range of a 32-bit float", table.where(r, c.time[0]), text(*last), text(r));
  last = r;
  return dt;
}

// Windows of sequence g (n rows): starts 0, stride, ... while a whole window fits; a shorter
// sequence gives one padded window; with pad_tail a last padded window covers the rows after.
// The windows over rows [begin, end) of series g (none when the range is empty).
void add_windows(std::vector<detail::Window>& windows, std::size_t g, std::int64_t begin, std::int64_t end,
                 const CsvSequenceSpec& spec) {
  const std::int64_t n = end - begin;
  if (n <= 0) return;
  if (n <= spec.window) {
    windows.push_back({g, begin, n});
    return;
  }
  const std::int64_t last = (n - spec.window) / spec.stride;  // counted first, so no start overflows for any stride
  for (std::int64_t k = 0; k <= last; ++k) windows.push_back({g, begin + k * spec.stride, spec.window});
  const std::int64_t covered = last * spec.stride + spec.window;
  if (spec.pad_tail && covered < n && last + 1 <= (n - 1) / spec.stride) {
    const std::int64_t start = (last + 1) * spec.stride;
    windows.push_back({g, begin + start, std::min(spec.window, n - start)});
  }
}

// The spec with every column named as `table` names it, and the classes found.
CsvSequenceSpec by_name(const CsvTable& table, const Columns& cols, const CsvSequenceSpec& spec, const std::vector<std::string>& classes) {
  CsvSequenceSpec out = spec;
  const auto names = [&](const std::vector<std::size_t>& columns) {
    std::vector<CsvColumn> v;
    for (std::size_t k : columns) v.emplace_back(table.header[k]);
    return v;
  };
  out.feature_columns = names(cols.features), out.target_columns = names(cols.targets), out.time_columns = names(cols.time);
  out.id_column = cols.id == none ? CsvColumn() : CsvColumn(table.header[cols.id]);
  out.exclude.clear();
  if (spec.task == Task::classification) out.classes = classes;
  return out;
}

// One sequence's features, targets (or labels) and elapsed times from its rows.
detail::Series read_series(const Inputs& in, const std::vector<std::size_t>& rows) {
  const bool classify = in.spec.task == Task::classification;
  const Columns& cols = in.cols;
  detail::Series s;
  s.features = static_cast<std::int64_t>(cols.features.size());
  s.outputs = classify ? 0 : static_cast<std::int64_t>(cols.targets.size());
  std::optional<std::size_t> last_row;
  for (std::size_t k = 0; k < rows.size(); ++k) {
    const std::size_t r = rows[k];
    // the value in the same column of the sequence's previous row, which ends at values[end]
    const auto previous = [&](const auto& values, std::size_t end, std::size_t width, std::size_t j) {
      return k == 0 ? std::nullopt : std::optional<double>(values[end - width + j]);
    };
    const std::size_t x_end = s.x.size(), target_end = s.target.size();
    for (std::size_t j = 0; j < cols.features.size(); ++j)
      s.x.push_back(cell_value(in, r, cols.features[j], previous(s.x, x_end, cols.features.size(), j)));
    if (classify) s.label.push_back(in.ids.at(label_key(in.table, r, cols.targets[0], false)));
    else
      for (std::size_t j = 0; j < cols.targets.size(); ++j)
        s.target.push_back(static_cast<float>(
            cell_value(in, r, cols.targets[j], previous(s.target, target_end, cols.targets.size(), j))));
    s.dt.push_back(elapsed(in.table, r, cols, in.spec, in.times, last_row));
  }
  return s;
}

}  // namespace

SequenceSet load_csv_sequences(const std::string& path, const CsvSequenceSpec& spec,
                               std::vector<std::string>* class_names) {
  return load_csv_sequences(path, spec, class_names, nullptr);
}

namespace {

// A file's sequences read whole, before they are cut into windows.
struct SeriesFile {
  std::string source;
  std::vector<detail::Series> series;
  std::vector<std::string> names;  // the classes
  CsvSequenceSpec resolved;
};

SeriesFile read_series_file(const std::string& path, const CsvSequenceSpec& spec) {
  check_spec(path, spec);
  const CsvTable table = read_csv(path, spec.csv);
  if (table.rows.empty()) fail("{}: no data rows", path);
  const Columns cols = resolve_columns(table, spec);
  const std::vector<std::size_t> rows = kept_rows(table, cols, spec);
  SeriesFile f;
  f.source = table.source;
  const std::map<std::string, std::int64_t> ids = spec.task == Task::classification
                                                      ? class_ids(table, rows, cols.targets[0], spec, f.names)
                                                      : std::map<std::string, std::int64_t>{};
  const std::vector<Timestamp> times = row_times(table, rows, cols, spec);
  const Inputs in{table, cols, spec, ids, times};
  for (const std::vector<std::size_t>& group : group_rows(table, rows, cols.id, spec))
    f.series.push_back(read_series(in, group));
  f.resolved = by_name(table, cols, spec, f.names);
  return f;
}

SequenceSet assemble(const SeriesFile& f, const CsvSequenceSpec& spec, const std::vector<detail::Window>& windows, const std::string& name) {
  SequenceSet set = detail::assemble_windows(name, spec.task, spec.per_step, static_cast<std::int64_t>(f.names.size()), f.series,
                                             windows, spec.window, spec.x_dtype);
  set.validate();
  return set;
}

// Whether two windows of one sequence would share rows.
bool windows_overlap(const SeriesFile& f, const CsvSequenceSpec& spec) {
  if (spec.stride >= spec.window) return false;
  return std::any_of(f.series.begin(), f.series.end(), [&](const detail::Series& s) { return s.rows() > spec.window; });
}

}  // namespace

SequenceSet load_csv_sequences(const std::string& path, const CsvSequenceSpec& spec, std::vector<std::string>* class_names,
                               CsvSequenceSpec* resolved) {
  const SeriesFile f = read_series_file(path, spec);
  std::vector<detail::Window> windows;
  for (std::size_t g = 0; g < f.series.size(); ++g) add_windows(windows, g, 0, f.series[g].rows(), spec);
  if (class_names) *class_names = f.names;
  if (resolved) *resolved = f.resolved;
  return assemble(f, spec, windows, f.source);
}

namespace {

// Overlapping windows split at random would put most validation and test rows in training
// windows too: a sequence longer than a window is split by time instead (its rows to train, then
// val, then test, the fractions of split_rows), each part cut into windows of its own; a shorter
// one (one window) goes whole to a part drawn as split() draws windows.
Split split_by_time(const SeriesFile& f, const CsvSequenceSpec& spec, double val_fraction, double test_fraction, std::uint64_t seed) {
  std::vector<detail::Window> parts[3], whole;
  for (std::size_t g = 0; g < f.series.size(); ++g) {
    const std::int64_t n = f.series[g].rows();
    if (n <= spec.window) {
      add_windows(whole, g, 0, n, spec);
      continue;
    }
    const std::int64_t n_val = part_rows(val_fraction, n), n_test = part_rows(test_fraction, n);
    const std::int64_t train_end = n - n_val - n_test;
    add_windows(parts[0], g, 0, train_end, spec);
    add_windows(parts[1], g, train_end, train_end + n_val, spec);
    add_windows(parts[2], g, train_end + n_val, n, spec);
  }
  const SplitRows drawn = split_rows(static_cast<std::int64_t>(whole.size()), val_fraction, test_fraction, seed, f.source);
  for (int p = 0; p < 3; ++p)
    for (std::int64_t i : p == 0 ? drawn.train : p == 1 ? drawn.val : drawn.test) parts[p].push_back(whole[static_cast<std::size_t>(i)]);
  return Split{assemble(f, spec, parts[0], f.source + "/train"), assemble(f, spec, parts[1], f.source + "/val"),
               assemble(f, spec, parts[2], f.source + "/test")};
}

}  // namespace

Split load_csv_split(const std::string& path, const CsvSequenceSpec& spec, double val_fraction, double test_fraction,
                     std::uint64_t seed, std::vector<std::string>* class_names, CsvSequenceSpec* resolved) {
  const SeriesFile f = read_series_file(path, spec);
  if (class_names) *class_names = f.names;
  if (resolved) *resolved = f.resolved;
  if (!(val_fraction >= 0 && test_fraction >= 0 && val_fraction + test_fraction < 1))
    fail("split of '{}': val_fraction {} and test_fraction {} must be >= 0 with a sum < 1", f.source, val_fraction, test_fraction);
  Split out;
  if (windows_overlap(f, spec)) {
    out = split_by_time(f, spec, val_fraction, test_fraction, seed);
  } else {
    std::vector<detail::Window> all;
    for (std::size_t g = 0; g < f.series.size(); ++g) add_windows(all, g, 0, f.series[g].rows(), spec);
    out = split(assemble(f, spec, all, f.source), val_fraction, test_fraction, seed);
  }
  // a part asked for and left empty would score every epoch 0 without a word
  for (const auto& [part, fraction, name] : {std::tuple{&out.val, val_fraction, "val"}, std::tuple{&out.test, test_fraction, "test"}})
    if (fraction > 0 && part->size() == 0)
      fail("{}: {}_fraction {} leaves the {} part no window ({} training windows); use more data, a larger fraction, or a file of "
           "its own ({}_path)", f.source, name, fraction, name, out.train.size(), name);
  return out;
}

}  // namespace tide::data
