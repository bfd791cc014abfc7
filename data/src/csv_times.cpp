// The time columns of a CSV table (csv_times.hpp).
#include "csv_times.hpp"
#include "shown_text.hpp"
#include "tide/core/error.hpp"
#include <cmath>
#include <optional>

namespace tide::data::detail {

// Row r's time cells, joined with a space (a date column and a time column make one date-time).
std::string time_text(const CsvTable& table, std::size_t r, const std::vector<std::size_t>& columns) {
  std::string joined;
  for (std::size_t k : columns) {
    if (!joined.empty()) joined += ' ';
    joined += trimmed(table.rows[r][k]);
  }
  return joined;
}

// Row r's date-time (seconds since 1970).
Timestamp date_time(const CsvTable& table, std::size_t r, const std::vector<std::size_t>& columns, const std::string& format) {
  std::string why;
  const std::string t = time_text(table, r, columns);
  const std::optional<Timestamp> seconds = parse_timestamp_parts(t, format, &why);
  if (!seconds)
    fail("{}: '{}' is not a date-time in {}: {}{}", table.where(r, columns[0]), shown(t),
         format.empty() ? "ISO 8601 (set time_format for others)" : "the format '" + format + "'", why,
         table.header_hint(r));
  return *seconds;
}

// A time written as a number. One of 2^53 or more in magnitude (nanoseconds since 1970) is refused: a
// double holds it only to a multiple of 2 or more, so the steps between rows would be rounded
// (1000 ns steps read as 1024).
Timestamp numeric_time(const CsvTable& table, std::size_t r, std::size_t k) {
  const double t = table.number(r, k);
  if (std::fabs(t) >= 0x1p53)
    fail("{}: time {} is 2^53 or more in magnitude: a double holds it only to a multiple of {:g}, which would round the "
         "steps between rows; subtract a start time in the file, use a coarser unit, or write the times as date-times",
         table.where(r, k), shown(trimmed(table.rows[r][k])), std::nextafter(std::fabs(t), INFINITY) - std::fabs(t));
  return Timestamp{0, t};
}

// Date-times with a zone and without one in one column: those without are read as UTC, so the two
// kinds would sit hours apart (pandas refuses such a column too).
void check_zones(const CsvTable& table, const std::vector<std::size_t>& rows, const std::vector<std::size_t>& columns,
                 const std::vector<Timestamp>& times) {
  const std::size_t first = rows.front();
  for (std::size_t r : rows)
    if (times[r].zoned != times[first].zoned) {
      const std::size_t zoned = times[r].zoned ? r : first, naive = times[r].zoned ? first : r;
      fail("{}: '{}' has no zone, while '{}' on line {} has one: a time without a zone is read as UTC, so the column would "
           "mix local times and UTC; give every time its zone, or none", table.where(naive, columns[0]),
           shown(time_text(table, naive, columns)), shown(time_text(table, zoned, columns)), table.lines[zoned]);
    }
}

}  // namespace tide::data::detail
