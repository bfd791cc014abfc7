// Proleptic Gregorian calendar arithmetic shared by the date-time readers (timestamps.cpp, traffic.cpp).
#pragma once
#include <cstdint>

namespace tide::data::detail {

bool is_leap_year(int year);
int days_in_month(int year, int month);  // month 1..12
// Days from 1970-01-01 to year-month-day.
std::int64_t days_from_civil(int year, int month, int day);

}  // namespace tide::data::detail
