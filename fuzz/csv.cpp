// CSV tables in memory: the first byte picks the delimiter and whether there is a header row, the
// rest is the text given to parse_csv. A table that parses is rectangular, with a line per row;
// its cells read as numbers or fail naming the source, and so do its column lookups.
#include "fuzz_util.hpp"
#include "tide/data/csv.hpp"

using namespace tide;
using namespace tide::data;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Bytes in(data, size);
  const std::uint8_t options = in.byte();
  static constexpr char delimiters[] = {',', ';', '\t', '|', ' ', '"', '\n', 'a'};  // '"' and '\n' are refused
  CsvOptions csv;
  csv.delimiter = delimiters[options % 8];
  csv.header = (options & 8) == 0;
  const std::string source = "fuzz.csv";
  CsvTable table;
  if (!fuzz::succeeds_or_names(source, [&] { table = parse_csv(in.rest(), source, csv); })) return 0;
  if (table.source != source || table.lines.size() != table.rows.size()) fuzz::bug("rows and lines disagree");
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    if (table.rows[r].size() != table.header.size()) fuzz::bug("a row of another width than the header");
    if (table.lines[r] < 1 || (r > 0 && table.lines[r] <= table.lines[r - 1])) fuzz::bug("row lines out of order");
  }
  std::size_t cells = 0;
  for (std::size_t r = 0; r < table.rows.size() && cells < 4096; ++r)
    for (std::size_t c = 0; c < table.header.size() && cells < 4096; ++c, ++cells)
      fuzz::succeeds_or_names(source, [&] { (void)table.number(r, c); });
  for (std::size_t c = 0; c < table.header.size() && c < 64; ++c)
    fuzz::succeeds_or_names(source, [&] {
      if (table.header[table.column(table.header[c])] != table.header[c]) fuzz::bug("column() finds another column");
    });
  fuzz::succeeds_or_names(source, [&] { (void)table.column("no such column"); });
  return 0;
}
