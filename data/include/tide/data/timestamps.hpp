// Date-time cells of data files as seconds since 1970-01-01T00:00:00 UTC: ISO 8601 when no format
// is given, otherwise a strftime-style format. The CSV loaders use it for time columns; a refused
// cell comes back with a short reason to which the caller adds the file, line and column.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tide::data {

// Seconds since 1970-01-01T00:00:00 UTC of the date or date-time `text` written in `format` (as one
// double, so only to ~2e-7 s near 2024: subtract parse_timestamp_parts' Timestamps for steps), or
// nullopt with *why (when why is not null) set to a short reason such as "day 31 is out of range
// for month 4 of 2015" or "expected 1 or 2 digits for %m at character 6, found 'x'" (characters
// counted from 1 in `text` as given). Leading and trailing spaces and tabs of `text` are ignored.
// Never throws on bad text.
//
// An empty `format` means ISO 8601: YYYY-MM-DD or YYYY/MM/DD, optionally followed by 'T' or one
// space and HH:MM, optional :SS, an optional fraction .fff or ,fff (1-9 digits) after the seconds,
// and an optional zone Z, +-HH:MM, +-HHMM or +-HH (no zone: UTC).
//
// Otherwise the directives are %Y (4-digit year), %y (2 digits: 69-99 -> 19xx, 00-68 -> 20xx),
// %m %d %H %I %M %S (1 or 2 digits), %f (1-9 fraction digits), %p (AM/PM, any case), %b / %B
// (English month abbreviation / full name, any case), %z (Z, +-HH:MM, +-HHMM or +-HH) and %% (a
// literal %); any other character must match itself. Fields the format leaves out default to
// 1970-01-01 00:00:00, so "%H:%M:%S" gives seconds within a day. Ranges are checked (Gregorian
// leap years). Run check_timestamp_format on the format first: an invalid one only yields nullopt.
std::optional<double> parse_timestamp(std::string_view text, std::string_view format, std::string* why);

// A date-time as whole seconds since 1970-01-01T00:00:00 UTC and the fraction of a second apart.
// One double holds a date of 2024 (~1.7e9 s) only to ~2e-7 s, so a step of a microsecond between
// two such doubles is off by up to a third; since() subtracts the whole seconds as integers first, and
// keeps every digit the formats accept (nanoseconds).
struct Timestamp {
  std::int64_t seconds = 0;
  double fraction = 0;  // [0, 1) for a date-time; a numeric time's fraction (or its whole value: seconds 0)
  bool zoned = false;   // the text gave a zone (Z or an offset); without one it was read as UTC
  double since(const Timestamp& earlier) const {
    return static_cast<double>(seconds - earlier.seconds) + (fraction - earlier.fraction);
  }
};

// parse_timestamp's date-time with its whole seconds and fraction apart (same text, format and reasons).
std::optional<Timestamp> parse_timestamp_parts(std::string_view text, std::string_view format, std::string* why);

// Throws tide::Error naming the format and the problem when the format itself is invalid: an
// unknown directive, a lone % at the end, a field given twice (%d twice, %m with %b, %Y with %y),
// a day without a month, %I without %p or %p without %I. Call once per column before parsing.
void check_timestamp_format(std::string_view format);

}  // namespace tide::data
