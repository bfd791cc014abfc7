// The time columns of a CSV table (csv_times.hpp).
#include "csv_times.hpp"
#include "shown_text.hpp"
#include "tide/core/error.hpp"
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>

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

namespace {

// "[+-]digits[<mark>digits]" as its whole units (an int64) and its fraction apart,
// as a date-time keeps its seconds and fraction: one double holds 1700000000.000001 only to
// ~2.4e-7, which made microsecond steps ~20% off. nullopt for another form (an exponent).
std::optional<Timestamp> exact_decimal(std::string_view s, char mark) {
  const bool negative = !s.empty() && s.front() == '-';
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) s.remove_prefix(1);
  const std::size_t at = s.find(mark);
  const std::string_view whole = s.substr(0, at), fraction = at == std::string_view::npos ? "" : s.substr(at + 1);
  const auto digits = [](std::string_view d) { return std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; }); };
  if ((whole.empty() && fraction.empty()) || !digits(whole) || !digits(fraction)) return std::nullopt;
  std::int64_t units = 0;  // beyond 2^62 (two such differ by more than an int64 holds): the double path, and its refusal
  if (!whole.empty() && std::from_chars(whole.data(), whole.data() + whole.size(), units).ec != std::errc()) return std::nullopt;
  if (units > (std::int64_t{1} << 62)) return std::nullopt;
  double part = 0;
  const std::string decimal = "0." + std::string(fraction) + "0";
  std::from_chars(decimal.data(), decimal.data() + decimal.size(), part);
  return Timestamp{negative ? -units : units, negative ? -part : part};
}

}  // namespace

// A time written as a number: digits with a decimal mark exactly (exact_decimal); one with an
// exponent is a double, refused at 2^53 or more in magnitude (a double holds it only to a multiple
// of 2 or more, so the steps between rows would be rounded).
Timestamp numeric_time(const CsvTable& table, std::size_t r, std::size_t k) {
  const double t = table.number(r, k);  // (a cell that is no finite number: its error, naming it)
  if (const std::optional<Timestamp> exact = exact_decimal(trimmed(table.rows[r][k]), table.decimal)) return *exact;
  if (std::fabs(t) >= 0x1p53)
    fail("{}: time {} is 2^53 or more in magnitude: a double holds it only to a multiple of {:g}, which would round the "
         "steps between rows; write it without an exponent (whole digits are read exactly), subtract a start time, or "
         "use a coarser unit", table.where(r, k), shown(trimmed(table.rows[r][k])), std::nextafter(std::fabs(t), INFINITY) - std::fabs(t));
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
