// The time columns of a CSV table read row by row (csv_sequences.cpp's row_times): the cells of a
// row's date-time, the date-time itself, a numeric time, and a column's zones checked.
#pragma once
#include "shown_text.hpp"
#include "tide/data/csv.hpp"
#include "tide/data/timestamps.hpp"
#include <string>
#include <string_view>
#include <vector>

namespace tide::data::detail {

// Row r's time cells, joined with a space (a date column and a time column make one date-time).
std::string time_text(const CsvTable& table, std::size_t r, const std::vector<std::size_t>& columns);

// Row r's date-time (seconds since 1970) in `format` (empty: ISO 8601); an error names the cell.
Timestamp date_time(const CsvTable& table, std::size_t r, const std::vector<std::size_t>& columns, const std::string& format);

// Row r's time written as a number in column k: digits with a decimal mark exactly (whole units and
// the fraction apart); one with an exponent as a double, refused at 2^53 or more in magnitude.
Timestamp numeric_time(const CsvTable& table, std::size_t r, std::size_t k);

// Refuses a column whose date-times (of `rows`, indexed by table row) mix zoned and naive ones.
void check_zones(const CsvTable& table, const std::vector<std::size_t>& rows, const std::vector<std::size_t>& columns,
                 const std::vector<Timestamp>& times);

}  // namespace tide::data::detail
