#include "data_test_util.hpp"
#include "tide/data/timestamps.hpp"
#include <random>

using namespace tide;
using namespace tide::data;

namespace {

// The seconds of a text that must parse (a failed check, showing the reason, when it does not).
double seconds(std::string_view text, std::string_view format = "") {
  std::string why;
  const std::optional<double> t = parse_timestamp(text, format, &why);
  INFO("text '" << text << "', format '" << format << "': " << why);
  REQUIRE(t.has_value());
  return *t;
}

// The reason a text is refused (a failed check when it parses).
std::string refusal(std::string_view text, std::string_view format = "") {
  std::string why;
  const std::optional<double> t = parse_timestamp(text, format, &why);
  INFO("text '" << text << "', format '" << format << "' gave " << t.value_or(0));
  CHECK_FALSE(t.has_value());
  return why;
}

}  // namespace

// The reason (a string) contains `text`; the reason is shown when it does not.
#define CHECK_REASON_NAMES(reason, text)                 \
  do {                                                   \
    const std::string tide_reason_ = (reason);           \
    INFO("reason: " << tide_reason_);                    \
    CHECK(tide_reason_.find(text) != std::string::npos); \
  } while (0)

// Expected values from `date -u -d '2015-02-04 17:51:00' +%s` and the like.
TEST_CASE("timestamps: ISO 8601 dates and date-times as seconds since 1970 UTC") {
  CHECK(seconds("1970-01-01") == 0);
  CHECK(seconds("2015-02-04 17:51:00") == 1423072260);
  CHECK(seconds("2015-02-04T17:51:00") == 1423072260);
  CHECK(seconds("2015-02-04T17:51") == 1423072260);
  CHECK(seconds("2015/02/04 17:51:00") == 1423072260);
  CHECK(seconds(" \t2015-02-04 17:51:00Z \t") == 1423072260);
  CHECK(seconds("1969-07-20") == -14256000);
  CHECK(seconds("0001-01-01") == -62135596800.0);
  CHECK(seconds("9999-12-31 23:59:59") == 253402300799.0);
}

TEST_CASE("timestamps: ISO fractions and zones (the offset is subtracted to give UTC)") {
  CHECK(seconds("2015-02-04T17:51:00.5") == 1423072260.5);
  CHECK(seconds("2015-02-04T17:51:00,25Z") == 1423072260.25);
  CHECK(seconds("2015-02-04T17:51:00.123456789Z") - 1423072260 == doctest::Approx(0.123456789).epsilon(1e-6));
  CHECK(seconds("2015-02-04T17:51:00+02:00") == 1423065060);  // 15:51 UTC
  CHECK(seconds("2015-02-04T17:51:00-0530") == 1423092060);   // 23:21 UTC
  CHECK(seconds("2015-02-04T17:51+02") == 1423065060);
  CHECK(seconds("2015-02-04T17:51:00.5-05:30") == 1423092060.5);
  CHECK_REASON_NAMES(refusal("2015-02-04T17:51:00.1234567891"), "more than 9 digits for the fraction");
  CHECK_REASON_NAMES(refusal("2015-02-04T17:51:00."), "expected 1 to 9 digits for the fraction at character 21");
  CHECK_REASON_NAMES(refusal("2015-02-04T17:51:00+25:00"), "zone offset 25:00 is out of range");
  CHECK_REASON_NAMES(refusal("2015-02-04T17:51:00+2"), "expected 2 digits for the zone at character 21");
}

TEST_CASE("timestamps: whole seconds and the fraction apart, so steps between dates far from 1970 are exact") {
  std::string why;
  const auto a = parse_timestamp_parts("2024-01-01T00:00:00.000001", "", &why);
  const auto b = parse_timestamp_parts("2024-01-01T00:00:00.000002", "", &why);
  REQUIRE((a && b));
  CHECK(a->seconds == 1704067200);
  CHECK(a->fraction == 1e-6);
  CHECK(b->since(*a) == doctest::Approx(1e-6).epsilon(1e-12));
  const auto c = parse_timestamp_parts("2024-01-01T00:00:00.000000001", "", &why);
  const auto d = parse_timestamp_parts("2024-01-01T00:00:01.000000101", "", &why);
  REQUIRE((c && d));
  CHECK(d->since(*c) == doctest::Approx(1.0000001).epsilon(1e-15));
  CHECK_FALSE(parse_timestamp_parts("2024-02-30", "", &why).has_value());
  CHECK_REASON_NAMES(why, "day 30 is out of range for month 2");
}

TEST_CASE("timestamps: Gregorian leap years and day ranges") {
  CHECK(seconds("2000-02-29") == 951782400);
  CHECK(seconds("2016-02-29") == 1456704000);
  CHECK(seconds("2015-02-28") + 86400 == seconds("2015-03-01"));
  CHECK_REASON_NAMES(refusal("1900-02-29"), "day 29 is out of range for month 2 of 1900");
  CHECK_REASON_NAMES(refusal("2015-02-29"), "day 29 is out of range for month 2 of 2015");
  CHECK_REASON_NAMES(refusal("2100-02-29"), "day 29 is out of range for month 2 of 2100");
  CHECK_REASON_NAMES(refusal("2015-04-31"), "day 31 is out of range for month 4");
  CHECK_REASON_NAMES(refusal("2015-04-00"), "day 0 is out of range for month 4");
  CHECK_REASON_NAMES(refusal("2015-13-01"), "month 13 is out of range 1-12");
  CHECK_REASON_NAMES(refusal("2015-00-01"), "month 0 is out of range 1-12");
  CHECK_REASON_NAMES(refusal("2015-02-04 24:00"), "hour 24 is out of range 0-23");
  CHECK_REASON_NAMES(refusal("2015-02-04 23:60"), "minute 60 is out of range 0-59");
  CHECK_REASON_NAMES(refusal("2015-02-04 23:59:60"), "second 60 is out of range 0-59");
}

TEST_CASE("timestamps: every day from 1899 to 2101 is 86400 s after the one before, as counted by hand") {
  const auto leap = [](int y) { return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0); };
  const auto thirty = [](int m) { return m == 4 || m == 6 || m == 9 || m == 11; };
  double previous = seconds("1898-12-31");
  for (int year = 1899; year <= 2101; ++year)
    for (int month = 1; month <= 12; ++month) {
      const int days = month == 2 ? (leap(year) ? 29 : 28) : thirty(month) ? 30 : 31;
      for (int day = 1; day <= days; ++day) {
        const double t = seconds(fmt::format("{:04}-{:02}-{:02}", year, month, day));
        if (t != previous + 86400) FAIL_CHECK(fmt::format("{}-{}-{}: {} after {}", year, month, day, t, previous));
        previous = t;
      }
      CHECK_REASON_NAMES(refusal(fmt::format("{:04}-{:02}-{:02}", year, month, days + 1)), "is out of range for month");
    }
}

TEST_CASE("timestamps: reasons name what was expected and where (characters counted in the text as given)") {
  CHECK_REASON_NAMES(refusal("2015-2-04"), "expected 2 digits for the month at character 6, found '2-04'");
  CHECK_REASON_NAMES(refusal("  2015-x"), "expected 2 digits for the month at character 8, found 'x'");
  CHECK_REASON_NAMES(refusal("2015-02/04"), "expected '-' at character 8, found '/04'");
  CHECK_REASON_NAMES(refusal("2015-02-04 17:51:00xyz"), "text left over after the ISO 8601 date-time: 'xyz'");
  CHECK_REASON_NAMES(refusal("2015-02-04  17:51"), "expected 2 digits for the hour at character 12, found ' 17:51'");
  CHECK_REASON_NAMES(refusal("2015-02-04 17"), "expected ':' at character 14, found the end of the text");
  CHECK_REASON_NAMES(refusal("\x01\xff"), "found '\\x01\\xff'");
  CHECK_REASON_NAMES(refusal(" \t "), "empty text");
  CHECK_REASON_NAMES(refusal("2015abc", "%Y"), "text left over after the format: 'abc'");
  CHECK_REASON_NAMES(refusal("4/2015", "%m-%Y"), "expected '-' at character 2, found '/2015'");
  CHECK_REASON_NAMES(refusal("x", "%m"), "expected 1 or 2 digits for %m at character 1, found 'x'");
}

TEST_CASE("timestamps: strftime-style formats") {
  CHECK(seconds("16/12/2006 17:24:00", "%d/%m/%Y %H:%M:%S") == 1166289840);
  CHECK(seconds("16/12/2006 7:4:0", "%d/%m/%Y %H:%M:%S") == 1166289840 - 10 * 3600 - 20 * 60);
  CHECK(seconds("20150204T175100", "%Y%m%dT%H%M%S") == 1423072260);
  CHECK(seconds("2015-02-04 17:51:00.25 +0200", "%Y-%m-%d %H:%M:%S.%f %z") == 1423065060.25);
  CHECK(seconds("2015-02-04 17:51:00 -05:30", "%Y-%m-%d %H:%M:%S %z") == 1423092060);
  CHECK(seconds("2015-02-04 17:51:00 Z", "%Y-%m-%d %H:%M:%S %z") == 1423072260);
  CHECK(seconds("5%", "%M%%") == 300);
  CHECK(seconds("2015", "%Y") == seconds("2015-01-01"));
}

TEST_CASE("timestamps: %y pivots at 69 as POSIX does") {
  CHECK(seconds("69-07-20", "%y-%m-%d") == -14256000);   // 1969-07-20
  CHECK(seconds("68-01-01", "%y-%m-%d") == 3092601600);  // 2068-01-01
  CHECK(seconds("00-02-29", "%y-%m-%d") == 951782400);   // 2000-02-29
  CHECK_REASON_NAMES(refusal("7-01-01", "%y-%m-%d"), "expected 2 digits for %y at character 1");
}

TEST_CASE("timestamps: English month names, any case") {
  CHECK(seconds("04 Feb 2015 17:51", "%d %b %Y %H:%M") == 1423072260);
  CHECK(seconds("4 FEB 2015", "%d %b %Y") == seconds("2015-02-04"));
  CHECK(seconds("february 4, 2015", "%B %d, %Y") == seconds("2015-02-04"));
  CHECK(seconds("September 30 2015", "%B %d %Y") == seconds("2015-09-30"));
  CHECK(seconds("Dec-31-1999 23:59:59", "%b-%d-%Y %H:%M:%S") == 946684799);
  CHECK_REASON_NAMES(refusal("Sept 30 2015", "%b %d %Y"), "expected ' ' at character 4, found 't 30 2015'");
  CHECK_REASON_NAMES(refusal("Foo 30 2015", "%b %d %Y"), "expected an English month abbreviation for %b at character 1");
  CHECK_REASON_NAMES(refusal("Feb 30 2015", "%B %d %Y"), "expected an English month name for %B");
  CHECK_REASON_NAMES(refusal("Feb 30 2015", "%b %d %Y"), "day 30 is out of range for month 2 of 2015");
}

TEST_CASE("timestamps: 12-hour clock (12 AM is midnight, 12 PM is noon)") {
  CHECK(seconds("12:00 AM", "%I:%M %p") == 0);
  CHECK(seconds("12:30 am", "%I:%M %p") == 30 * 60);
  CHECK(seconds("12:00 PM", "%I:%M %p") == 12 * 3600);
  CHECK(seconds("1:15 pm", "%I:%M %p") == 13 * 3600 + 15 * 60);
  CHECK(seconds("11:59:59PM", "%I:%M:%S%p") == 86399);
  CHECK(seconds("2015-02-04 05:51:00 PM", "%Y-%m-%d %I:%M:%S %p") == 1423072260);
  CHECK_REASON_NAMES(refusal("13:00 PM", "%I:%M %p"), "hour 13 is out of range 1-12 for %I");
  CHECK_REASON_NAMES(refusal("0:00 AM", "%I:%M %p"), "hour 0 is out of range 1-12 for %I");
  CHECK_REASON_NAMES(refusal("1:00 XM", "%I:%M %p"), "expected AM or PM for %p at character 6, found 'XM'");
}

TEST_CASE("timestamps: a time-only format gives seconds within a day; missing fields default to 1970-01-01") {
  CHECK(seconds("17:51:30", "%H:%M:%S") == 17 * 3600 + 51 * 60 + 30);
  CHECK(seconds("00:00:01.5", "%H:%M:%S.%f") == 1.5);
  CHECK(seconds("23:59", "%H:%M") == 86340);
  CHECK(seconds("02-04", "%m-%d") == seconds("1970-02-04"));
  CHECK_REASON_NAMES(refusal("02-29", "%m-%d"), "day 29 is out of range for month 2 of 1970");
}

TEST_CASE("timestamps: invalid formats throw from check_timestamp_format naming the directive") {
  CHECK_NOTHROW(check_timestamp_format(""));
  CHECK_NOTHROW(check_timestamp_format("%d/%m/%Y %H:%M:%S"));
  CHECK_NOTHROW(check_timestamp_format("%Y-%m-%d %I:%M:%S.%f %p %z 100%%"));
  CHECK_NOTHROW(check_timestamp_format("%B %d %y"));
  CHECK_NOTHROW(check_timestamp_format("%H:%M:%S"));
  CHECK_ERROR_NAMES(check_timestamp_format("%Y-%q"), "timestamp format '%Y-%q': unknown directive %q (known: %Y");
  CHECK_ERROR_NAMES(check_timestamp_format("%j %Y"), "unknown directive %j");
  CHECK_ERROR_NAMES(check_timestamp_format("%Y-%m-%"), "timestamp format '%Y-%m-%': it ends with a lone %");
  CHECK_ERROR_NAMES(check_timestamp_format("%d/%m/%d"), "the day is given twice (%d and %d)");
  CHECK_ERROR_NAMES(check_timestamp_format("%Y %y"), "the year is given twice (%Y and %y)");
  CHECK_ERROR_NAMES(check_timestamp_format("%m %b"), "the month is given twice (%m and %b)");
  CHECK_ERROR_NAMES(check_timestamp_format("%H %I %p"), "the hour is given twice (%H and %I)");
  CHECK_ERROR_NAMES(check_timestamp_format("%d %Y"), "a day (%d) without a month");
  CHECK_ERROR_NAMES(check_timestamp_format("%I:%M"), "%I (12-hour clock) without %p (AM/PM)");
  CHECK_ERROR_NAMES(check_timestamp_format("%H:%M %p"), "%p (AM/PM) without %I (12-hour clock)");
  CHECK_ERROR_NAMES(check_timestamp_format("%\x01"), "unknown directive %\\x01");
}

TEST_CASE("timestamps: any bytes, any format: nullopt with a reason, never an exception") {
  std::string why;
  CHECK_FALSE(parse_timestamp("2015", "%q", &why).has_value());
  CHECK_REASON_NAMES(why, "unknown directive %q");
  CHECK_FALSE(parse_timestamp("2015", "%Y%", &why).has_value());
  CHECK_REASON_NAMES(why, "lone %");
  CHECK_FALSE(parse_timestamp("x", "", nullptr).has_value());  // no reason wanted
  CHECK_REASON_NAMES(refusal("99999999999999999999999999-01-01"), "expected '-' at character 5");
  CHECK_REASON_NAMES(refusal("1:99999999999999999999", "%H:%f"), "more than 9 digits for %f");
  const std::string valid = "2015-02-04T17:51:00.123+02:00";
  const std::vector<std::string> formats = {"", "%Y-%m-%dT%H:%M:%S.%f%z", "%b %B %p %I %y", "%%%"};
  std::mt19937 random(7);
  for (int trial = 0; trial < 3000; ++trial) {
    std::string text = valid.substr(0, random() % (valid.size() + 1));
    for (char& c : text)
      if (random() % 8 == 0) c = static_cast<char>(random() % 256);
    for (const std::string& format : formats) CHECK_NOTHROW((void)parse_timestamp(text, format, &why));
  }
}
