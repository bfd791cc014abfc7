// CSV sequences: the first bytes pick a CsvSequenceSpec (task, missing-value policy, window,
// stride, which columns are features, target, time and id), the rest is the file that
// load_csv_sequences reads (plain or gzipped). The result validates, or the error names the file.
#include "fuzz_util.hpp"
#include "tide/data/csv.hpp"
#include <limits>

using namespace tide;
using namespace tide::data;

namespace {

// A column of the text's header row by a byte (the names "a", "b", ... when the text has none).
std::string column(const std::vector<std::string>& header, std::uint8_t pick) {
  if (header.empty()) return std::string(1, static_cast<char>('a' + pick % 4));
  return header[pick % header.size()];
}

// Mostly small, sometimes invalid or large. Every window pads each short sequence to its length,
// so windows stay where the memory that takes is modest; strides go to the limits.
std::int64_t window(std::uint8_t b) {
  static constexpr std::int64_t other[] = {0, -1, 100, 1000, 4096, std::numeric_limits<std::int64_t>::min()};
  return b < 250 ? 1 + b % 40 : other[b - 250];
}
std::int64_t stride(std::uint8_t b) {
  static constexpr std::int64_t other[] = {0, -1, 1 << 20, std::numeric_limits<std::int64_t>::max() / 2,
                                           std::numeric_limits<std::int64_t>::max(), std::numeric_limits<std::int64_t>::min()};
  return b < 250 ? 1 + b % 40 : other[b - 250];
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const fuzz::TempFile file("csv-sequences", ".csv");
  fuzz::Bytes in(data, size);
  const std::uint8_t flags = in.byte();
  CsvSequenceSpec spec;
  spec.task = flags & 1 ? Task::regression : Task::classification;
  spec.per_step = (flags & 2) == 0;
  spec.missing = static_cast<MissingPolicy>((flags >> 2) % 4);
  spec.csv.implicit_index = (flags & 0x80) == 0;
  spec.csv.delimiter = flags & 16 ? ';' : ',';
  spec.window = window(in.byte());
  spec.stride = stride(in.byte());
  const std::uint8_t picks[] = {in.byte(), in.byte(), in.byte(), in.byte(), in.byte(), in.byte()};
  spec.csv.decimal = picks[3] & 0x20 ? ',' : '.';
  const std::string_view text = in.rest();
  std::vector<std::string> header;
  try {
    header = parse_csv(text, "header", spec.csv).header;
  } catch (const Error&) {
  }
  if (picks[0] % 5 != 4)  // else the default: every column no other role takes
    for (int f = 0; f <= picks[0] % 3; ++f) spec.feature_columns.push_back(column(header, picks[1 + f]));
  spec.target_columns.push_back(column(header, picks[4]));
  if (spec.task == Task::regression && (picks[0] & 0x10)) spec.target_columns.push_back(column(header, picks[3]));
  if (flags & 0x20) {  // numbers or date-times, in one column or a date and a time column
    static constexpr const char* formats[] = {"", "%d/%m/%Y %H:%M:%S", "%Y-%m-%dT%H:%M:%S%z", "%H:%M", "%b %d %Y %I:%M %p", "%y%j"};
    spec.time_columns = {column(header, picks[5])};
    if (picks[2] & 0x80) spec.time_columns.push_back(column(header, picks[2]));
    spec.time_format = formats[picks[3] % 6];
    spec.time_unit = picks[3] & 0x40 ? 60.0 : 0.0;
  }
  if (flags & 0x40) spec.id_column = column(header, picks[5] / 7);

  const std::string& path = file.write(text);
  std::vector<std::string> class_names;
  fuzz::succeeds_or_names(path, [&] {
    const SequenceSet set = load_csv_sequences(path, spec, &class_names);
    set.validate();
    if (set.steps() != spec.window) fuzz::bug("windows of another length than the spec's");
    if (spec.task == Task::classification && static_cast<std::int64_t>(class_names.size()) != set.classes)
      fuzz::bug("class names and classes disagree");
  });
  return 0;
}
