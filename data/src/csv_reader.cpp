#include "file_bytes.hpp"
#include "shown_text.hpp"
#include "tide/core/error.hpp"
#include "tide/data/config_object.hpp"
#include "tide/data/csv.hpp"
#include "tide/data/timestamps.hpp"
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <locale.h>

namespace tide::data {
namespace {

using detail::shown;
using detail::trimmed;

// A number from_chars found out of range: one too small for a double (1e-400) is a signed zero,
// as NumPy and pandas read it (a subnormal, should a library refuse one, itself); one too large
// stays out of range. `text` is a whole number in C form, read in the C locale whatever the
// program's.
std::errc underflow_to_zero(std::string_view text, double& value) {
  static const locale_t c_locale = newlocale(LC_NUMERIC_MASK, "C", locale_t{});
  if (c_locale == locale_t{}) return std::errc::result_out_of_range;
  const std::string copy(text);
  const double v = strtod_l(copy.c_str(), nullptr, c_locale);
  if (std::isinf(v)) return std::errc::result_out_of_range;
  value = v;
  return std::errc();
}

// Splits the text into records. A record is the fields of one logical row and the line it starts on.
class Parser {
public:
  Parser(std::string_view text, const std::string& source, char delimiter, char comment)
      : text_(text), source_(source), delimiter_(delimiter), comment_(comment) {
    if (text_.substr(0, 3) == "\xEF\xBB\xBF") text_.remove_prefix(3);  // UTF-8 byte-order mark
  }

  // Lines starting with the comment character are data from here on.
  void end_comments() { comment_ = '\0'; }

  // The next non-blank record; false at the end of the text.
  bool next(std::vector<std::string>& fields, std::int64_t& line) {
    while (pos_ < text_.size()) {
      if (comment_ != '\0' && text_[pos_] == comment_) {
        skip_line();
        continue;
      }
      fields.clear();
      line = line_;
      read_record(fields);
      if (!(fields.size() == 1 && fields[0].empty() && !last_quoted_)) return true;
    }
    return false;
  }

private:
  bool at_line_end() const { return pos_ >= text_.size() || text_[pos_] == '\n' || text_[pos_] == '\r'; }
  void consume_line_end() {  // LF, CRLF or a lone CR
    if (pos_ < text_.size() && text_[pos_] == '\r') ++pos_;
    if (pos_ < text_.size() && text_[pos_] == '\n') ++pos_;
    ++line_;
    line_start_ = pos_;
  }
  void skip_line() {
    while (!at_line_end()) ++pos_;
    consume_line_end();
  }
  std::int64_t column() const { return static_cast<std::int64_t>(pos_ - line_start_) + 1; }

  void read_record(std::vector<std::string>& fields) {
    while (true) {
      std::string field;
      last_quoted_ = pos_ < text_.size() && text_[pos_] == '"';
      if (last_quoted_) read_quoted(field);
      else
        while (!at_line_end() && text_[pos_] != delimiter_) field += text_[pos_++];
      fields.push_back(std::move(field));
      if (pos_ < text_.size() && text_[pos_] == delimiter_) {
        ++pos_;
        continue;
      }
      if (pos_ < text_.size()) consume_line_end();
      return;
    }
  }

  void read_quoted(std::string& field) {
    const std::int64_t open_line = line_, open_column = column();
    ++pos_;
    while (true) {
      if (pos_ >= text_.size())
        fail("{}:{}:{}: quoted field never closed (no matching \")", source_, open_line, open_column);
      const char c = text_[pos_];
      if (c == '"') {
        if (pos_ + 1 < text_.size() && text_[pos_ + 1] == '"') {
          field += '"';
          pos_ += 2;
          continue;
        }
        ++pos_;
        if (!at_line_end() && text_[pos_] != delimiter_)
          fail("{}:{}:{}: unexpected '{}' after a closing quote (expected '{}' or the end of the line)", source_,
               line_, column(), shown(text_.substr(pos_, 1)), delimiter_);
        return;
      }
      if (c == '\n' || c == '\r') {
        field += '\n';
        consume_line_end();
        continue;
      }
      field += c;
      ++pos_;
    }
  }

  std::string_view text_;
  const std::string& source_;
  char delimiter_, comment_;
  std::size_t pos_ = 0, line_start_ = 0;
  std::int64_t line_ = 1;
  bool last_quoted_ = false;
};

// A header field that is a number (out of a double's range too): no name one writes, but a value.
bool is_number_field(const std::string& f, char decimal) {
  double v = 0;
  const std::errc ec = parse_number(f, decimal, v);
  return ec == std::errc::result_out_of_range || (ec == std::errc() && std::isfinite(v));
}

// A header row made only of numbers is a data row (np.savetxt writes none, or '# x,y' as a
// comment): taking it for names would lose that row silently. pandas' default names 0, 1, ...,
// n-1 are numbers too, and are a header.
void check_not_numbers(const CsvTable& table, std::int64_t line, const CsvOptions& options) {
  const auto number = [&](const std::string& f) { return is_number_field(f, options.decimal); };
  if (options.numeric_header) return;
  bool positions = true;
  for (std::size_t c = 0; c < table.header.size(); ++c) {
    if (!number(table.header[c])) return;
    positions = positions && table.header[c] == std::to_string(c);
  }
  if (positions) return;
  std::string row;
  for (const std::string& f : table.header) row += (row.empty() ? "" : ", ") + shown(f, 20);
  const std::string fix = !options.no_header_fix.empty() ? options.no_header_fix
                          : "add a first line naming the columns, read it without one (\"header\": false: columns by "
                            "0-based index), or say it is a header (\"header\": true)";
  fail("{}:{}: the header row holds only numbers ({}): the file seems to have no header row; {}{}", table.source, line,
       shown(row, 80), fix,
       options.comment == '\0' ? std::string()
                                : fmt::format(" (lines starting with '{}' are comments and skipped, so '{} x,y' names none)",
                                              options.comment, options.comment));
}

// A header row that mixes values with text ("0,2024-01-01T00:01:00,19.5,mild") is read as the
// names, since years and codes are legal ones; but it may be a file's first data row, lost from
// the data. Its values are numbers and date-times, but for column numbers (a field equal to its
// 0- or 1-based position: pandas' names, after its unnamed index column too, the UCI gesture
// files' "1,2,...,32,Phase"). Sets the
// note a failed lookup by name adds, and warns (stderr) when most fields are values, where a run
// that picks columns by position would never hear of it.
void note_data_like_header(CsvTable& table, std::int64_t line, const CsvOptions& options) {
  if (options.numeric_header) return;  // "header": true, given explicitly
  std::string values;
  std::size_t count = 0;
  // pandas' to_csv writes an empty name for its row index first (",0,1,2"): the names after it
  // count from there
  const std::size_t shift = !table.header.empty() && table.header[0].empty() ? 1 : 0;
  for (std::size_t c = 0; c < table.header.size(); ++c) {
    const std::string& f = table.header[c];
    if (f == std::to_string(c) || f == std::to_string(c + 1) || (c >= shift && f == std::to_string(c - shift))) continue;
    if (!is_number_field(f, options.decimal) && (f.empty() || !parse_timestamp(f, "", nullptr))) continue;
    if (++count <= 3) values += fmt::format("{}'{}'", values.empty() ? "" : ", ", shown(f, 20));
  }
  if (count == 0) return;
  if (count > 3) values += ", ...";
  const std::string fix = options.no_header_fix.empty()
                              ? "if the file has no header row, set \"header\": false and pick the columns by 0-based index"
                              : "if it is a data row, " + options.no_header_fix;
  table.header_note = fmt::format("; the first line looks like data (it holds {}): {}", values, fix);
  if (2 * count > table.header.size())
    fmt::print(stderr, "warning: {}:{}: the header row looks like data ({} of its {} fields are numbers or date-times: {}); "
                       "it is read as the column names, not as a row; {}\n",
               table.source, line, count, table.header.size(), values, fix);
}

// A header one field shorter than the first data row names the columns after a row index (as
// pandas reads it): "(index)" is added in front. When every row's extra last field is empty, the
// rows end with a delimiter instead: those empty fields are dropped. True when the index was added.
bool add_implicit_index(CsvTable& table) {
  const std::size_t width = table.header.size() + 1;
  if (table.rows.empty() || table.rows[0].size() != width) return false;
  const bool trailing = std::all_of(table.rows.begin(), table.rows.end(), [&](const std::vector<std::string>& row) {
    return row.size() == width && trimmed(row.back()).empty();
  });
  if (trailing) {
    for (auto& row : table.rows) row.pop_back();
    return false;
  }
  table.header.insert(table.header.begin(), "(index)");
  return true;
}

}  // namespace

std::size_t CsvTable::column(std::string_view name) const {
  std::size_t found = header.size();
  for (std::size_t c = 0; c < header.size(); ++c)
    if (header[c] == name) {
      if (found != header.size()) fail("{}: column '{}' appears more than once in the header", source, name);
      found = c;
    }
  if (found == header.size()) {
    std::string names, near;
    const auto lower = [](std::string_view s) {
      std::string out(s);
      std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      return out;
    };
    for (const auto& h : header) {
      names += fmt::format("{}'{}'", names.empty() ? "" : ", ", shown(h));
      if (near.empty() && lower(h) == lower(name)) near = h;
    }
    if (near.empty()) near = nearest_name(std::string(name), header);  // a typo, as config keys are matched
    fail("{}: no column named '{}'{} (columns: {}){}", source, shown(name),
         near.empty() ? "" : fmt::format(" (did you mean '{}'?)", shown(near)), names, header_note);
  }
  return found;
}

std::size_t CsvTable::column_index(const CsvColumn& c) const {
  if (c.index < 0) return column(c.name);
  if (c.index >= static_cast<std::int64_t>(header.size())) {
    // a column named by a number ("2022") written as a JSON number is a position
    const bool named_so = named && std::find(header.begin(), header.end(), std::to_string(c.index)) != header.end();
    fail("{}: column index {} is past the last column (the file has {}, indices 0..{}){}", source, c.index, header.size(),
         header.size() - 1,
         named_so ? fmt::format("; to pick the column named '{}', write the name as a string: \"{}\"", c.index, c.index) : "");
  }
  // a position meant for the first named column would silently pick the row numbers
  if (c.index == 0 && inferred_index)
    fail("{}: column index 0 is the row index '(index)' (the header is one field shorter than the rows); positions "
         "count it, so the first named column '{}' is index 1", source, shown(header.size() > 1 ? header[1] : ""));
  return static_cast<std::size_t>(c.index);
}

bool CsvTable::is_index(std::size_t c) const {
  return c == 0 && (inferred_index || (named && header.size() > 1 && header[0].empty()));
}

std::string CsvTable::where(std::size_t row, std::size_t col) const {
  if (!named) return fmt::format("{}:{}: column {} (index {})", source, lines.at(row), col + 1, col);
  return fmt::format("{}:{}: column {} ('{}')", source, lines.at(row), col + 1, shown(header.at(col)));
}

std::errc parse_number(std::string_view text, char decimal, double& value) {
  // with a decimal comma a '.' is no decimal point but a thousands separator (or a mix-up)
  if (decimal != '.' && text.find('.') != std::string_view::npos) return std::errc::invalid_argument;
  std::string with_point;
  if (decimal != '.' && text.find(decimal) != std::string_view::npos) {
    with_point.assign(text);
    std::replace(with_point.begin(), with_point.end(), decimal, '.');
    text = with_point;
  }
  if (text.size() > 1 && text.front() == '+' && text[1] != '-') text.remove_prefix(1);
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec == std::errc::result_out_of_range && end == text.data() + text.size()) return underflow_to_zero(text, value);
  if (ec != std::errc()) return ec;
  return end == text.data() + text.size() && !text.empty() ? std::errc() : std::errc::invalid_argument;
}

std::string CsvTable::header_hint(std::size_t row) const {
  if (named || row != 0) return "";
  return " (the first row, read as data since \"header\" is false: if it names the columns, leave \"header\" out)";
}

double CsvTable::number(std::size_t row, std::size_t col, std::string_view hint) const {
  const std::string_view cell = trimmed(rows.at(row).at(col));
  if (cell.empty()) fail("{}: empty cell where a number is expected{}", where(row, col), hint);
  double value = 0.0;
  const std::errc ec = parse_number(cell, decimal, value);
  if (ec == std::errc::result_out_of_range)
    fail("{}: '{}' is out of the range of a double", where(row, col), shown(cell));
  if (ec != std::errc() && decimal != '.' && cell.find('.') != std::string_view::npos)
    fail("{}: '{}' has a '.', but the decimal mark is '{}' (write 2{}5, without thousands separators)", where(row, col),
         shown(cell), decimal, decimal);
  if (ec != std::errc()) fail("{}: '{}' is not a number{}{}", where(row, col), shown(cell), hint, header_hint(row));
  if (!std::isfinite(value)) fail("{}: '{}' is not a finite number", where(row, col), shown(cell));
  return value;
}

CsvTable parse_csv(std::string_view text, const std::string& source, const CsvOptions& options) {
  if (options.delimiter == '"' || options.delimiter == '\n' || options.delimiter == '\r')
    fail("{}: the CSV delimiter cannot be a quote or a line break", source);
  if (options.comment != '\0' && (options.comment == '"' || options.comment == '\n' || options.comment == '\r' ||
                                   options.comment == options.delimiter))
    fail("{}: the CSV comment character cannot be a quote, a line break or the delimiter", source);
  if (options.decimal != '.' && (options.decimal == options.delimiter || options.decimal == '"' || options.decimal == '\n'))
    fail("{}: the decimal mark cannot be the delimiter, a quote or a line break", source);
  CsvTable table;
  table.source = source;
  table.decimal = options.decimal;
  table.named = options.header;
  Parser parser(text, source, options.delimiter, options.comment);
  std::vector<std::string> fields;
  std::int64_t line = 0;
  if (options.header) {
    if (!parser.next(fields, line)) fail("{}: empty file (a header row was expected)", source);
    for (const auto& f : fields) table.header.emplace_back(trimmed(f));
    check_not_numbers(table, line, options);
    note_data_like_header(table, line, options);
  }
  if (options.comments_before_header_only) parser.end_comments();
  while (parser.next(fields, line)) {
    table.rows.push_back(fields);
    table.lines.push_back(line);
  }
  if (table.header.empty() && !table.rows.empty())  // no header row: the first row fixes the width
    for (std::size_t c = 0; c < table.rows[0].size(); ++c) table.header.push_back(std::to_string(c));
  const bool indexed = options.header && options.implicit_index && add_implicit_index(table);
  table.inferred_index = indexed;
  for (std::size_t r = 0; r < table.rows.size(); ++r)
    if (table.rows[r].size() != table.header.size())
      fail("{}:{}: {} fields, expected {} ({})", source, table.lines[r], table.rows[r].size(), table.header.size(),
           !options.header ? "as in the first row"
           : indexed ? fmt::format("the header's {}, plus the index column '(index)' inferred from the first data row, "
                                   "line {}, which has one field more than the header", table.header.size() - 1, table.lines[0])
                     : "as in the header");
  return table;
}

CsvTable read_csv(const std::string& path, const CsvOptions& options) {
  return parse_csv(detail::read_file_bytes(path), path, options);
}

}  // namespace tide::data
