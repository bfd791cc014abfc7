// CSV files: a small RFC-4180 reader (quoted fields with "" escapes and line breaks, CRLF or LF, a
// header row, a UTF-8 byte-order mark skipped) and a loader that cuts a user's own time series
// into windows. Every error names the file, the line and the column.
#pragma once
#include "tide/data/sequence_set.hpp"
#include <cstdint>
#include <string>
#include <system_error>
#include <string_view>
#include <vector>

namespace tide::data {

struct CsvOptions {
  char delimiter = ',';
  bool header = true;  // without one, columns are named "0", "1", ... (their 0-based positions)
  // A header row of numbers only ("2019,2020") is taken for a data row and refused, unless this
  // says the file has a header (a dataset's "header": true, given explicitly); one that mixes
  // numbers or date-times with text is read as names, with a note (CsvTable::header_note) and,
  // when most of it is values, a warning on stderr, unless this is set.
  bool numeric_header = false;
  // What that refusal suggests (empty: the csv dataset's "header" keys); a reader without them
  // says how to add a line of names.
  std::string no_header_fix = {};
  char comment = '\0';  // lines starting with this character are skipped like blank ones ('\0': none)
  // only before the header (np.savetxt writes its header= text as a '# x,y' comment line): after
  // the header such a line is data, so a row starting with the character (an Excel "#N/A") is
  // read, not silently dropped. Without a header row, comments are skipped nowhere.
  bool comments_before_header_only = false;
  // A header one field shorter than every row names the columns after the first, which holds a
  // row index (as pandas reads such a file); that first column is named "(index)". When every
  // row's extra last field is empty instead, the rows end with a delimiter: that field is dropped.
  // A first column without a name (",x,y": pandas' to_csv writes its index so) is an index too:
  // no default feature (CsvTable::is_index).
  bool implicit_index = true;
  // the decimal mark of numbers: ',' for "2,6" (then the delimiter must differ, and a number with
  // a '.' is an error, not 2.6 nor a thousands separator)
  char decimal = '.';
};

// A column of a table: by its header name, or by its 0-based position (as pandas' usecols and
// iloc count; messages show positions 1-based, as editors do). Empty (no name, no index): none.
// Positions count an inferred "(index)" column (CsvOptions::implicit_index) as 0, which is
// refused: it holds row numbers, and a position meant for the first named column picks it.
struct CsvColumn {
  std::string name;
  std::int64_t index = -1;
  CsvColumn() = default;
  CsvColumn(std::string n) : name(std::move(n)) {}
  CsvColumn(const char* n) : name(n) {}
  CsvColumn(int i) : index(i) {}
  CsvColumn(std::int64_t i) : index(i) {}
  bool empty() const { return name.empty() && index < 0; }
};

struct CsvTable {
  std::string source;  // the file name errors show
  char decimal = '.';  // numbers' decimal mark (CsvOptions::decimal)
  bool named = true;   // false without a header row: the names are the 0-based positions
  bool inferred_index = false;  // column 0 is "(index)", added for a header one field shorter than the rows
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;  // every row has header.size() fields
  std::vector<std::int64_t> lines;             // the file line on which each row starts (1-based)
  // A header row that holds numbers (other than pandas' positions 0..n-1, and not said to be a
  // header) may be a data row: what a failed lookup by name adds about it; empty otherwise.
  std::string header_note;

  std::size_t column(std::string_view name) const;  // throws naming the file, the key and the columns
  std::size_t column_index(const CsvColumn& c) const;  // by name or position; throws naming the columns
  // Whether column c holds a row index, not data (never a default feature): the inferred
  // "(index)", or a first column without a name (pandas' to_csv index).
  bool is_index(std::size_t c) const;
  // "file:line: column c ('name')" for a cell (row and column 0-based, shown 1-based); without a
  // header, "file:line: column c (index c - 1)", the index a config picks it by.
  std::string where(std::size_t row, std::size_t column) const;
  // The cell as a finite number; throws naming where() for an empty, non-numeric, NaN or inf cell.
  // `hint` is added to the message of text that is no number (a caller's guess at the cause).
  double number(std::size_t row, std::size_t column, std::string_view hint = {}) const;
  // For a cell error on the first row of a table read without a header: a note that the row may be
  // one (a file's names read as data when "header" is false); otherwise empty.
  std::string header_hint(std::size_t row) const;
};

// Text as a number with `decimal` as its decimal mark ("2,6" reads as 2.6 with ','; "2.6" is then
// invalid), a leading '+' allowed: std::errc() when all of it is one, else result_out_of_range or
// invalid_argument.
std::errc parse_number(std::string_view text, char decimal, double& value);

// Blank lines are skipped; a row with a different number of fields than the header, an
// unterminated quote or text after a closing quote throws tide::Error naming file:line:column, as
// does a header row of only numbers (a file without one, as np.savetxt writes it; pandas' default
// names 0, 1, ..., n-1 are a header).
CsvTable parse_csv(std::string_view text, const std::string& source, const CsvOptions& options = {});
CsvTable read_csv(const std::string& path, const CsvOptions& options = {});  // plain or gzipped

// A missing feature or regression-target cell (one of CsvSequenceSpec::missing_values): an error
// naming file:line:column, the sequence's previous value in that column (an error on a
// sequence's first row), 0, or the row dropped (a missing time, id or label too; the next row's dt
// then spans the gap). An empty time cell is missing whatever missing_values holds.
enum class MissingPolicy { error, fill_previous, zero, drop };

struct CsvSequenceSpec {
  // Time: none (dt = 1), one column, or several joined with a space (a date column and a time
  // column). Numbers are used as written; text is a date-time (timestamps.hpp) in time_format
  // ("" = ISO 8601) and dt is in time_unit seconds. Non-decreasing within a sequence.
  std::vector<CsvColumn> time_columns;
  std::string time_format;
  double time_unit = 0;                      // seconds per unit of dt for date-times (0: seconds)
  // numeric; empty: every column that is not a time, id or target column, not in `exclude` and
  // not an index column (CsvTable::is_index)
  std::vector<CsvColumn> feature_columns, exclude;
  std::vector<CsvColumn> target_columns;     // classification: exactly one label column
  // Classification: labels map to class ids 0..C-1 in sorted order (numerically when every label
  // is an integer, so -1 / 1 become 0 / 1, as scikit-learn's LabelEncoder does), or in the order of
  // `classes` when given (a label outside it is an error; they are compared as the labels are, so
  // "1.0" names label 1, and two that name one label are an error). Labels that are numbers but
  // not integers are an error (a regression target?), as is a single class.
  std::vector<std::string> classes;
  Task task = Task::classification;
  CsvColumn id_column;                       // rows grouped by id (first appearance order); empty: one sequence
  std::int64_t window = 32, stride = 32;     // windows start at 0, stride, ... while they fit; a
                                             // sequence shorter than the window gives one padded window
  bool per_step = true;                      // a target per step, or the window's last valid step's
  MissingPolicy missing = MissingPolicy::error;
  std::vector<std::string> missing_values = {"", "?", "NA", "N/A", "NaN", "nan", "NULL", "null"};
  // The target is no target but a feature read in its place (mujoco's next-step targets are built
  // later; a file to predict lacks its targets): a column in both roles is no error then, and an
  // error about its cells gives a feature's hints, not a target's (no "set \"task\"").
  bool stand_in_target = false;
  // A file to predict with a trained run (tide predict --data): its config can no longer change,
  // so an error about a missing cell says to fix the file, not to set "missing".
  bool predicting = false;
  // Windows also cover each sequence's last rows: when the last window ends before them, one more
  // starts at the next stride position, padded (prediction files: every row gets a prediction).
  bool pad_tail = false;
  // The dtype of the sets' x. f64 keeps a column with a large offset (seconds since 1970, a
  // latitude to 1e-6) exact until it is standardised; cast it to f32 after (csv_split does).
  DType x_dtype = DType::f32;
  CsvOptions csv;
};

// dt: the time since the previous row of the same sequence (0 on a sequence's first row), or 1
// without a time column. Feature standardisation is left to the caller, fitted on the training
// part only: see Standardizer and standardise(Split&). class_names, when given, receives the
// label of each class id (pass them as spec.classes to load a validation or test file).
SequenceSet load_csv_sequences(const std::string& path, const CsvSequenceSpec& spec,
                               std::vector<std::string>* class_names = nullptr);
// The same, and `resolved`: the spec with every column as this file names it (the default
// features filled in, exclude cleared, the classes found). Reading another file of the same
// table with it matches columns by name, whatever their order there.
SequenceSet load_csv_sequences(const std::string& path, const CsvSequenceSpec& spec, std::vector<std::string>* class_names,
                               CsvSequenceSpec* resolved);
// The file's windows split into train / val / test. Windows that do not overlap are split at
// random (split(), seeded); overlapping ones (stride < window, a sequence longer than the window)
// would share rows across the parts, so each sequence's rows are split by time instead: its first
// rows to train, the next val_fraction of them to val, the last test_fraction to test, each part
// cut into windows of its own.
Split load_csv_split(const std::string& path, const CsvSequenceSpec& spec, double val_fraction, double test_fraction,
                     std::uint64_t seed, std::vector<std::string>* class_names = nullptr, CsvSequenceSpec* resolved = nullptr);

}  // namespace tide::data
