// CSV files: a small RFC-4180 reader (quoted fields with "" escapes and line breaks, CRLF or LF, a
// header row, a UTF-8 byte-order mark skipped) and a loader that cuts a user's own time series
// into windows. Every error names the file, the line and the column.
#pragma once
#include "tide/data/sequence_set.hpp"
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tide::data {

struct CsvOptions {
  char delimiter = ',';
  bool header = true;  // without one, columns are named "1", "2", ... (1-based)
  char comment = '\0';  // lines starting with this character are skipped like blank ones ('\0': none)
};

struct CsvTable {
  std::string source;  // the file name errors show
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;  // every row has header.size() fields
  std::vector<std::int64_t> lines;             // the file line on which each row starts (1-based)

  std::size_t column(std::string_view name) const;  // throws naming the file, the key and the columns
  // "file:line: column c ('name')" for a cell (row and column 0-based, shown 1-based).
  std::string where(std::size_t row, std::size_t column) const;
  // The cell as a finite number; throws naming where() for an empty, non-numeric, NaN or inf cell.
  double number(std::size_t row, std::size_t column) const;
};

// Blank lines are skipped; a row with a different number of fields than the header, an
// unterminated quote or text after a closing quote throws tide::Error naming file:line:column.
CsvTable parse_csv(std::string_view text, const std::string& source, const CsvOptions& options = {});
CsvTable read_csv(const std::string& path, const CsvOptions& options = {});  // plain or gzipped

// An empty feature or regression-target cell: an error naming file:line:column, the sequence's
// previous value in that column (an error on a sequence's first row), or 0.
enum class MissingPolicy { error, fill_previous, zero };

struct CsvSequenceSpec {
  std::string time_column;                   // numeric, non-decreasing within a sequence; empty: dt = 1
  std::vector<std::string> feature_columns;  // numeric
  std::vector<std::string> target_columns;   // classification: exactly one label column
  Task task = Task::classification;          // labels map to class ids in sorted order (numerically
                                             // when every label is an integer, else as strings)
  std::string id_column;                     // rows grouped by id (first appearance order); empty: one sequence
  std::int64_t window = 32, stride = 32;     // windows start at 0, stride, ... while they fit; a
                                             // sequence shorter than the window gives one padded window
  bool per_step = true;                      // a target per step, or the window's last valid step's
  MissingPolicy missing = MissingPolicy::error;
  CsvOptions csv;
};

// dt: the time since the previous row of the same sequence (0 on a sequence's first row), or 1
// without a time column. Feature standardisation is left to the caller, fitted on the training
// part only: see Standardizer and standardise(Split&). class_names, when given, receives the
// label of each class id.
SequenceSet load_csv_sequences(const std::string& path, const CsvSequenceSpec& spec,
                               std::vector<std::string>* class_names = nullptr);

}  // namespace tide::data
