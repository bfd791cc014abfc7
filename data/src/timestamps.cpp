#include "tide/data/timestamps.hpp"
#include "civil_dates.hpp"
#include "tide/core/error.hpp"
#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "shown_text.hpp"

namespace tide::data {

namespace detail {

bool is_leap_year(int year) { return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0); }

int days_in_month(int year, int month) {
  static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap_year(year) ? 29 : kDays[static_cast<std::size_t>(month - 1)];
}

// Days from 1970-01-01 to year-month-day in the proleptic Gregorian calendar (the well-known
// days-from-civil arithmetic). Counting years from March puts the leap day last, so a year's day
// number needs no leap test: months from March have 153 days per 5, hence (153 * m + 2) / 5. The
// calendar repeats every 400 years (146097 days); within such an era a year has 365 days, plus one
// every 4th year, minus one every 100th.
std::int64_t days_from_civil(int year, int month, int day) {
  const int march_year = month <= 2 ? year - 1 : year;
  const int era = (march_year >= 0 ? march_year : march_year - 399) / 400;
  const int year_of_era = march_year - era * 400;                                         // 0..399
  const int day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;  // 0..365
  const int day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  constexpr std::int64_t kDaysFromMarch0000To1970 = 719468;
  return std::int64_t{era} * 146097 + day_of_era - kDaysFromMarch0000To1970;
}

}  // namespace detail

namespace {

using detail::days_from_civil;
using detail::days_in_month;

// Text for messages (the text may be any bytes): 12 bytes unless said.
std::string printable(std::string_view text, std::size_t limit = 12) { return detail::shown(text, limit); }

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// "2", "1 or 2", "1 to 9".
std::string how_many(int min, int max) {
  if (min == max) return std::to_string(min);
  return fmt::format("{} {} {}", min, max == min + 1 ? "or" : "to", max);
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// Fields read so far; those a format leaves out keep the 1970-01-01 00:00:00 UTC defaults.
struct Fields {
  int year = 1970, month = 1, day = 1, hour = 0, minute = 0, second = 0;
  double fraction = 0;       // of a second
  int zone_seconds = 0;      // local time minus UTC
  bool zoned = false;        // a zone was read (else the time is taken as UTC)
  int meridiem = 0;          // 0: none, 1: AM, 2: PM
  bool twelve_hour = false;  // the hour came from %I
};

// Reads the text left to right. Every failure sets *why and returns false, so readers chain with &&.
class Cursor {
public:
  // `offset`: bytes trimmed off the front, so that positions count in the text as the caller has it.
  Cursor(std::string_view text, std::size_t offset, std::string* why) : text_(text), offset_(offset), why_(why) {}

  bool fail(const std::string& message) {
    if (why_ != nullptr) *why_ = message;
    return false;
  }
  std::size_t character() const { return offset_ + pos_ + 1; }
  std::string_view rest() const { return text_.substr(pos_); }
  bool next_is(char c) const { return pos_ < text_.size() && text_[pos_] == c; }
  bool skip(char c) { return next_is(c) ? (++pos_, true) : false; }
  std::string found() const { return pos_ == text_.size() ? "the end of the text" : fmt::format("'{}'", printable(rest())); }

  bool literal(char c) {
    if (skip(c)) return true;
    return fail(fmt::format("expected '{}' at character {}, found {}", printable({&c, 1}), character(), found()));
  }

  // An unsigned number of min..max digits; max is at most 9, so the value always fits an int.
  bool digits(int min, int max, std::string_view label, int& out) {
    const std::size_t start = pos_;
    out = 0;
    while (pos_ < text_.size() && pos_ - start < static_cast<std::size_t>(max) && is_digit(text_[pos_]))
      out = out * 10 + (text_[pos_++] - '0');
    if (pos_ - start >= static_cast<std::size_t>(min)) return true;
    pos_ = start;
    return fail(fmt::format("expected {} digits for {} at character {}, found {}", how_many(min, max), label,
                            character(), found()));
  }

  // 1 to 9 digits after a decimal separator, as a fraction of a second.
  bool fraction(std::string_view label, double& out) {
    int value = 0;
    const std::size_t start = pos_;
    if (!digits(1, 9, label, value)) return false;
    if (pos_ < text_.size() && is_digit(text_[pos_]))
      return fail(fmt::format("more than 9 digits for {} at character {}", label, offset_ + start + 1));
    double scale = 1;  // a power of 10 up to 1e9, exact, so the one division rounds once
    for (std::size_t k = start; k < pos_; ++k) scale *= 10;
    out = value / scale;
    return true;
  }

  // The index of the word (any case) the text goes on with, moving past it; -1 when none does.
  int word(std::span<const std::string_view> words) {
    for (std::size_t w = 0; w < words.size(); ++w) {
      const std::string_view candidate = words[w];
      const std::string_view ahead = rest().substr(0, candidate.size());
      bool same = ahead.size() == candidate.size();
      for (std::size_t k = 0; same && k < ahead.size(); ++k) same = lower(ahead[k]) == candidate[k];
      if (same) {
        pos_ += candidate.size();
        return static_cast<int>(w);
      }
    }
    return -1;
  }

  bool expect_end(std::string_view after) {
    if (pos_ == text_.size()) return true;
    return fail(fmt::format("text left over after the {}: '{}'", after, printable(rest(), 40)));
  }

private:
  std::string_view text_;
  std::size_t pos_ = 0;
  std::size_t offset_;
  std::string* why_;
};

constexpr std::array<std::string_view, 12> kMonthNames = {
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november",
    "december"};
constexpr std::array<std::string_view, 12> kMonthAbbreviations = {
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<std::string_view, 2> kMeridiems = {"am", "pm"};

// One of `words` (any case), stored as its 1-based position in the list.
bool read_word(Cursor& in, std::span<const std::string_view> words, std::string_view what, std::string_view label,
               int& out) {
  const int index = in.word(words);
  if (index < 0)
    return in.fail(fmt::format("expected {} for {} at character {}, found {}", what, label, in.character(), in.found()));
  out = index + 1;
  return true;
}

// Z, +-HH:MM, +-HHMM or +-HH, as seconds to subtract from local time to get UTC.
bool read_zone(Cursor& in, std::string_view label, Fields& f) {
  f.zoned = true;
  int& seconds = f.zone_seconds;
  if (in.skip('Z') || in.skip('z')) {
    seconds = 0;
    return true;
  }
  const int sign = in.skip('+') ? 1 : in.skip('-') ? -1 : 0;
  if (sign == 0)
    return in.fail(fmt::format("expected 'Z', '+' or '-' for {} at character {}, found {}", label, in.character(),
                               in.found()));
  int hours = 0, minutes = 0;
  if (!in.digits(2, 2, label, hours)) return false;
  const bool colon = in.skip(':');
  const bool has_minutes = colon || (!in.rest().empty() && is_digit(in.rest().front()));
  if (has_minutes && !in.digits(2, 2, label, minutes)) return false;
  if (hours > 23 || minutes > 59)
    return in.fail(fmt::format("zone offset {:02}:{:02} is out of range (at most 23:59)", hours, minutes));
  seconds = sign * (hours * 3600 + minutes * 60);
  return true;
}

// POSIX's pivot: 69-99 are 1969-1999, 00-68 are 2000-2068.
bool read_two_digit_year(Cursor& in, std::string_view label, int& year) {
  if (!in.digits(2, 2, label, year)) return false;
  year += year >= 69 ? 1900 : 2000;
  return true;
}

// The one table of directives: the field each sets (for the "given twice" check of a format) and
// how it is read. %% sets no field.
struct Directive {
  char letter;
  std::string_view field;
  bool (*read)(Cursor&, Fields&, std::string_view label);
};

constexpr std::array<Directive, 14> kDirectives = {{
    {'Y', "year", [](Cursor& in, Fields& f, std::string_view l) { return in.digits(4, 4, l, f.year); }},
    {'y', "year", [](Cursor& in, Fields& f, std::string_view l) { return read_two_digit_year(in, l, f.year); }},
    {'m', "month", [](Cursor& in, Fields& f, std::string_view l) { return in.digits(1, 2, l, f.month); }},
    {'b', "month",
     [](Cursor& in, Fields& f, std::string_view l) {
       return read_word(in, kMonthAbbreviations, "an English month abbreviation", l, f.month);
     }},
    {'B', "month",
     [](Cursor& in, Fields& f, std::string_view l) {
       return read_word(in, kMonthNames, "an English month name", l, f.month);
     }},
    {'d', "day", [](Cursor& in, Fields& f, std::string_view l) { return in.digits(1, 2, l, f.day); }},
    {'H', "hour", [](Cursor& in, Fields& f, std::string_view l) { return in.digits(1, 2, l, f.hour); }},
    {'I', "hour",
     [](Cursor& in, Fields& f, std::string_view l) {
       f.twelve_hour = true;
       return in.digits(1, 2, l, f.hour);
     }},
    {'M', "minute", [](Cursor& in, Fields& f, std::string_view l) { return in.digits(1, 2, l, f.minute); }},
    {'S', "second", [](Cursor& in, Fields& f, std::string_view l) { return in.digits(1, 2, l, f.second); }},
    {'f', "fraction", [](Cursor& in, Fields& f, std::string_view l) { return in.fraction(l, f.fraction); }},
    {'p', "AM/PM",
     [](Cursor& in, Fields& f, std::string_view l) { return read_word(in, kMeridiems, "AM or PM", l, f.meridiem); }},
    {'z', "zone", [](Cursor& in, Fields& f, std::string_view l) { return read_zone(in, l, f); }},
    {'%', "", [](Cursor& in, Fields&, std::string_view) { return in.literal('%'); }},
}};

const Directive* find_directive(char letter) {
  for (const Directive& d : kDirectives)
    if (d.letter == letter) return &d;
  return nullptr;
}

bool read_formatted(Cursor& in, std::string_view format, Fields& f) {
  for (std::size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') {
      if (!in.literal(format[i])) return false;
      continue;
    }
    if (++i == format.size()) return in.fail("the format ends with a lone %");
    const Directive* directive = find_directive(format[i]);
    const std::string label = fmt::format("%{}", printable(format.substr(i, 1)));
    if (directive == nullptr) return in.fail(fmt::format("unknown directive {} in the format", label));
    if (!directive->read(in, f, label)) return false;
  }
  return in.expect_end("format");
}

// After the date of an ISO 8601 text: HH:MM, optional :SS and fraction, optional zone.
bool read_iso_time(Cursor& in, Fields& f) {
  if (!in.digits(2, 2, "the hour", f.hour) || !in.literal(':') || !in.digits(2, 2, "the minute", f.minute))
    return false;
  if (in.skip(':')) {
    if (!in.digits(2, 2, "the second", f.second)) return false;
    if ((in.skip('.') || in.skip(',')) && !in.fraction("the fraction", f.fraction)) return false;
  }
  if (in.next_is('Z') || in.next_is('z') || in.next_is('+') || in.next_is('-'))
    return read_zone(in, "the zone", f);
  return true;
}

// YYYY-MM-DD or YYYY/MM/DD (the same separator twice), then optionally 'T' or a space and the time.
bool read_iso(Cursor& in, Fields& f) {
  if (!in.digits(4, 4, "the year", f.year)) return false;
  const char separator = in.next_is('/') ? '/' : '-';
  if (!in.literal(separator) || !in.digits(2, 2, "the month", f.month) || !in.literal(separator) ||
      !in.digits(2, 2, "the day", f.day))
    return false;
  if ((in.skip('T') || in.skip('t') || in.skip(' ')) && !read_iso_time(in, f)) return false;
  return in.expect_end("ISO 8601 date-time");
}

// Why the fields are not a real date and time of day; empty when they are.
std::string range_problem(const Fields& f) {
  if (f.month < 1 || f.month > 12) return fmt::format("month {} is out of range 1-12", f.month);
  if (f.day < 1 || f.day > days_in_month(f.year, f.month))
    return fmt::format("day {} is out of range for month {} of {}", f.day, f.month, f.year);
  if (f.twelve_hour && (f.hour < 1 || f.hour > 12)) return fmt::format("hour {} is out of range 1-12 for %I", f.hour);
  if (f.hour > 23) return fmt::format("hour {} is out of range 0-23", f.hour);
  if (f.minute > 59) return fmt::format("minute {} is out of range 0-59", f.minute);
  if (f.second > 59) return fmt::format("second {} is out of range 0-59", f.second);
  return {};
}


// 12 AM is midnight and 12 PM is noon.
int hour_of_day(const Fields& f) { return f.meridiem == 0 ? f.hour : f.hour % 12 + (f.meridiem == 2 ? 12 : 0); }

Timestamp seconds_since_1970(const Fields& f) {
  const std::int64_t whole = days_from_civil(f.year, f.month, f.day) * 86400 + hour_of_day(f) * 3600 +
                             f.minute * 60 + f.second - f.zone_seconds;
  return {whole, f.fraction, f.zoned};
}

std::string known_directives() {
  std::string out;
  for (const Directive& d : kDirectives) out += fmt::format("{}%{}", out.empty() ? "" : " ", d.letter);
  return out;
}

// The directive letters of a format in order ('%' for %%), or a problem (lone %, unknown letter).
std::string directive_letters(std::string_view format, std::string& letters) {
  for (std::size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') continue;
    if (++i == format.size()) return "it ends with a lone %";
    if (find_directive(format[i]) == nullptr)
      return fmt::format("unknown directive %{} (known: {})", printable(format.substr(i, 1)), known_directives());
    letters += format[i];
  }
  return {};
}

std::string repeated_field(std::string_view letters) {
  for (std::size_t i = 0; i < letters.size(); ++i)
    for (std::size_t j = i + 1; j < letters.size(); ++j) {
      const std::string_view field = find_directive(letters[i])->field;
      if (!field.empty() && field == find_directive(letters[j])->field)
        return fmt::format("the {} is given twice (%{} and %{})", field, letters[i], letters[j]);
    }
  return {};
}

std::string missing_partner(std::string_view letters) {
  const auto has = [&](char c) { return letters.find(c) != std::string_view::npos; };
  if (has('d') && !has('m') && !has('b') && !has('B')) return "a day (%d) without a month (%m, %b or %B)";
  if (has('I') && !has('p')) return "%I (12-hour clock) without %p (AM/PM)";
  if (has('p') && !has('I')) return "%p (AM/PM) without %I (12-hour clock)";
  return {};
}

}  // namespace

std::optional<Timestamp> parse_timestamp_parts(std::string_view text, std::string_view format, std::string* why) {
  const std::size_t leading = std::min(text.find_first_not_of(" \t"), text.size());
  text.remove_prefix(leading);
  text = text.substr(0, text.find_last_not_of(" \t") + 1);  // npos + 1 == 0 when nothing is left
  Cursor in(text, leading, why);
  Fields fields;
  if (text.empty()) {
    in.fail("empty text, expected a date or time");
    return std::nullopt;
  }
  if (!(format.empty() ? read_iso(in, fields) : read_formatted(in, format, fields))) return std::nullopt;
  if (const std::string problem = range_problem(fields); !problem.empty()) {
    in.fail(problem);
    return std::nullopt;
  }
  return seconds_since_1970(fields);
}

std::optional<double> parse_timestamp(std::string_view text, std::string_view format, std::string* why) {
  const std::optional<Timestamp> t = parse_timestamp_parts(text, format, why);
  if (!t) return std::nullopt;
  return static_cast<double>(t->seconds) + t->fraction;
}

void check_timestamp_format(std::string_view format) {
  std::string letters;
  std::string problem = directive_letters(format, letters);
  if (problem.empty()) problem = repeated_field(letters);
  if (problem.empty()) problem = missing_partner(letters);
  if (!problem.empty()) fail("timestamp format '{}': {}", printable(format, 80), problem);
}

}  // namespace tide::data
