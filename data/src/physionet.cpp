// PhysioNet / CinC Challenge 2012 (irregular.hpp): records read from the .tar.gz archives with
// libarchive, parsed line by line into per-variable observations at (rounded) times, and padded
// into an IrregularSet with in-hospital mortality labels from the Outcomes files.
#include "tide/data/irregular.hpp"
#include "tide/core/error.hpp"
#include "digits.hpp"
#include <fmt/ranges.h>
#include <archive.h>
#include <archive_entry.h>
#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <unordered_map>

namespace tide::data {

namespace {

// The challenge's 37 time-series variables (Weight is also a general descriptor) and the four
// descriptors that are not time series.
const std::vector<std::string> kSeries = {
    "Albumin", "ALP", "ALT", "AST", "Bilirubin", "BUN", "Cholesterol", "Creatinine", "DiasABP", "FiO2",
    "GCS", "Glucose", "HCO3", "HCT", "HR", "K", "Lactate", "Mg", "MAP", "MechVent", "Na", "NIDiasABP",
    "NIMAP", "NISysABP", "PaCO2", "PaO2", "pH", "Platelets", "RespRate", "SaO2", "SysABP", "Temp",
    "TroponinI", "TroponinT", "Urine", "WBC", "Weight"};
const std::vector<std::string> kDescriptors = {"Age", "Gender", "Height", "ICUType"};

// One record: per rounded time, per variable, the sum and count of the values falling there.
struct Record {
  std::int64_t id = -1;
  std::map<std::int64_t, std::vector<std::pair<double, int>>> steps;  // time key -> per variable (sum, count)
  bool has_series = false;
};

// One line "HH:MM,Parameter,Value".
struct Line {
  std::int64_t minutes = 0;
  std::string param;
  double value = 0;
};

struct Parser {
  const PhysionetOptions& options;
  std::unordered_map<std::string, std::size_t> index;  // kept variable -> column
  std::size_t dims = 0;

  explicit Parser(const PhysionetOptions& o) : options(o) {
    for (const std::string& v : physionet_variables(o.descriptors)) index[v] = dims++;
  }

  // The rounded time key of `minutes` since admission (minutes, or multiples of the quantisation).
  // As the latent ODE code rounds: round(hours / quantisation) in Python, whose ties go to the even
  // neighbour (00:03 at 0.1 h is 0.5 steps: step 0, not 1), of hours computed as it does (h + m / 60).
  std::int64_t key(std::int64_t minutes) const {
    if (options.quantisation <= 0) return minutes;
    const double hours = static_cast<double>(minutes / 60) + static_cast<double>(minutes % 60) / 60.0;
    return static_cast<std::int64_t>(std::nearbyint(hours / options.quantisation));  // the default mode: ties to even
  }
  double hours(std::int64_t k) const {
    return options.quantisation <= 0 ? static_cast<double>(k) / 60.0 : static_cast<double>(k) * options.quantisation;
  }

  Record parse(const std::string& text, const std::string& where, std::int64_t file_id) const;
  void add(Record& r, const Line& l, const std::string& at) const;
};

std::int64_t parse_minutes(const std::string& field, const std::string& where) {
  const std::size_t colon = field.find(':');
  std::optional<int> h, m;
  if (colon != std::string::npos && field.size() - colon - 1 == 2) {
    h = detail::digits_only<int>(std::string_view(field).substr(0, colon));
    m = detail::digits_only<int>(std::string_view(field).substr(colon + 1));
  }
  if (!h || !m || *m > 59) fail("{}: time '{}' is not HH:MM", where, field);
  return static_cast<std::int64_t>(*h) * 60 + *m;
}

double parse_value(const std::string& field, const std::string& where) {
  double v = 0;
  const auto [p, ec] = std::from_chars(field.data(), field.data() + field.size(), v);
  if (ec != std::errc() || p != field.data() + field.size() || field.empty() || !std::isfinite(v))
    fail("{}: value '{}' is not a finite number", where, field);
  if (std::fabs(v) > 3.0e38) fail("{}: value '{}' is too large to store (f32)", where, field);
  return v;
}

Line parse_line(const std::string& line, const std::string& at) {
  const std::size_t c1 = line.find(','), c2 = c1 == std::string::npos ? c1 : line.find(',', c1 + 1);
  if (c2 == std::string::npos || line.find(',', c2 + 1) != std::string::npos)
    fail("{}: expected 3 fields 'HH:MM,Parameter,Value', got '{}'", at, line.substr(0, 60));
  return {parse_minutes(line.substr(0, c1), at), line.substr(c1 + 1, c2 - c1 - 1), parse_value(line.substr(c2 + 1), at)};
}

// Adds one observation to the record (descriptors left out or unknown are skipped).
void Parser::add(Record& r, const Line& l, const std::string& at) const {
  const bool descriptor = std::find(kDescriptors.begin(), kDescriptors.end(), l.param) != kDescriptors.end();
  const auto it = index.find(l.param);
  if (it == index.end()) {
    if (descriptor) return;  // a descriptor left out
    fail("{}: unknown parameter '{}'", at, l.param.substr(0, 40));
  }
  const bool admission = descriptor || (l.param == "Weight" && l.minutes == 0);
  if (admission && l.value == -1) return;  // "unknown"
  auto& step = r.steps[key(l.minutes)];
  if (step.empty()) step.assign(dims, {0.0, 0});
  step[it->second].first += l.value, step[it->second].second += 1;
  if (!admission) r.has_series = true;
}

Record Parser::parse(const std::string& text, const std::string& where, std::int64_t file_id) const {
  Record r;
  r.id = file_id;
  std::istringstream in(text);
  std::string line;
  std::int64_t number = 0, last_minutes = -1;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (number == 1 && line.starts_with("\xEF\xBB\xBF")) line.erase(0, 3);  // a UTF-8 byte order mark
    const std::string at = fmt::format("{} line {}", where, number);
    if (number == 1) {
      if (line != "Time,Parameter,Value") fail("{}: expected the header 'Time,Parameter,Value', got '{}'", at, line.substr(0, 60));
      continue;
    }
    if (line.empty()) continue;
    const Line l = parse_line(line, at);
    if (l.minutes < last_minutes) fail("{}: time {} comes after a later time (times out of order)", at, line.substr(0, line.find(',')));
    last_minutes = l.minutes;
    if (l.param != "RecordID") {
      add(r, l, at);
    } else if (l.value != static_cast<double>(file_id)) {
      fail("{}: RecordID {} does not match the member name's {}", at, l.value, file_id);
    }
  }
  if (number == 0) fail("{}: empty record", where);
  return r;
}

std::vector<std::string> comma_fields(const std::string& line) {
  std::vector<std::string> out(1);
  for (char c : line)
    if (c == ',') out.emplace_back();
    else out.back().push_back(c);
  for (std::string& f : out) {  // "RecordID, In-hospital_death" names the same columns
    const std::size_t b = f.find_first_not_of(" \t\r"), e = f.find_last_not_of(" \t\r");
    f = b == std::string::npos ? std::string() : f.substr(b, e - b + 1);
  }
  return out;
}

// A RecordID of an Outcomes file: a whole number ("132539.9" read as a double would name record
// 132539, and "1e20" is past any integer).
std::int64_t outcome_id(const std::string& field, const std::string& at) {
  const std::optional<std::int64_t> id = detail::digits_only<std::int64_t>(field);
  if (!id) fail("{}: RecordID '{}' is not a record number (digits only)", at, field.substr(0, 40));
  return *id;
}

// RecordID -> in-hospital death (0 / 1) from an Outcomes file, each read from the column its
// header names.
void read_outcomes(const std::string& path, std::unordered_map<std::int64_t, std::int64_t>& out) {
  std::ifstream in(path);
  if (!in) fail("physionet: cannot open outcomes file '{}'", path);
  std::string line;
  std::int64_t number = 0;
  std::vector<std::string> header;
  std::size_t id_column = 0, death_column = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (number == 1) {
      if (line.starts_with("\xEF\xBB\xBF")) line.erase(0, 3);
      header = comma_fields(line);
      id_column = static_cast<std::size_t>(std::find(header.begin(), header.end(), "RecordID") - header.begin());
      death_column = static_cast<std::size_t>(std::find(header.begin(), header.end(), "In-hospital_death") - header.begin());
      if (id_column == header.size() || death_column == header.size())
        fail("{} line 1: expected a header naming the columns RecordID and In-hospital_death, got '{}'", path, line.substr(0, 60));
      continue;
    }
    if (line.empty()) continue;
    const std::string at = fmt::format("{} line {}", path, number);
    const std::vector<std::string> fields = comma_fields(line);
    if (fields.size() != header.size()) fail("{}: expected {} fields as the header has, got {}", at, header.size(), fields.size());
    const std::int64_t id = outcome_id(fields[id_column], at);
    const double death = parse_value(fields[death_column], at);
    if (death != 0 && death != 1) fail("{}: In-hospital_death must be 0 or 1, got {}", at, death);
    const auto [it, fresh] = out.emplace(id, static_cast<std::int64_t>(death));
    if (!fresh && it->second != static_cast<std::int64_t>(death)) fail("{}: record {} has a second, different outcome", at, id);
  }
}

// The record id of a member named "<dir>/<digits>.txt" (or "<digits>.txt"); throws otherwise.
std::int64_t member_id(const std::string& archive, const std::string& name) {
  const std::size_t slash = name.rfind('/');
  const std::string base = slash == std::string::npos ? name : name.substr(slash + 1);
  const std::optional<std::int64_t> id =
      base.ends_with(".txt") ? detail::digits_only<std::int64_t>(std::string_view(base).substr(0, base.size() - 4)) : std::nullopt;
  if (!id) fail("{}: member '{}' is not a record '<RecordID>.txt'", archive, name.substr(0, 80));
  return *id;
}

using ArchivePtr = std::unique_ptr<archive, decltype(&archive_read_free)>;

// libarchive's message for the last error (it may have none).
const char* message_of(archive* a) {
  const char* m = archive_error_string(a);
  return m ? m : "no detail from libarchive";
}

// Every record of one archive, in member order.
void read_archive(const std::string& path, const Parser& parser, std::vector<Record>& out) {
  ArchivePtr a(archive_read_new(), archive_read_free);
  // tar, gzipped or plain: only the formats the challenge uses (libarchive's "all" filters would
  // also run external programs for some compressions)
  archive_read_support_filter_gzip(a.get());
  archive_read_support_format_tar(a.get());
  if (archive_read_open_filename(a.get(), path.c_str(), 1 << 16) != ARCHIVE_OK)
    fail("physionet: cannot open archive '{}': {}", path, message_of(a.get()));
  archive_entry* entry = nullptr;
  std::string last = "(its start)";
  for (;;) {
    const int r = archive_read_next_header(a.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) fail("{}: unreadable after member '{}' (truncated or corrupt?): {}", path, last, message_of(a.get()));
    const std::string name = archive_entry_pathname(entry) ? archive_entry_pathname(entry) : "";
    last = name;
    if (archive_entry_filetype(entry) == AE_IFDIR) continue;
    const std::int64_t id = member_id(path, name);
    std::string text;
    char buffer[1 << 15];
    for (;;) {
      const la_ssize_t n = archive_read_data(a.get(), buffer, sizeof buffer);
      if (n < 0) fail("{}: member '{}' is unreadable (truncated or corrupt?): {}", path, name, message_of(a.get()));
      if (n == 0) break;
      text.append(buffer, static_cast<std::size_t>(n));
    }
    out.push_back(parser.parse(text, path + ": " + name, id));
  }
}

// The records as one padded set.
IrregularSet assemble(const std::vector<Record>& records, const Parser& parser) {
  IrregularSet s;
  s.name = "physionet";
  s.variables = physionet_variables(parser.options.descriptors);
  std::int64_t T = 1;
  for (const Record& r : records) T = std::max<std::int64_t>(T, static_cast<std::int64_t>(r.steps.size()));
  const auto N = static_cast<std::int64_t>(records.size()), D = static_cast<std::int64_t>(parser.dims);
  s.values = Tensor::zeros(Shape{N, T, D}, DType::f32);
  s.mask = Tensor::zeros(Shape{N, T, D}, DType::f32);
  std::vector<double> times(static_cast<std::size_t>(N * T));
  std::vector<std::int64_t> lengths(static_cast<std::size_t>(N));
  float* v = s.values.data<float>();
  float* m = s.mask.data<float>();
  for (std::int64_t n = 0; n < N; ++n) {
    const Record& r = records[static_cast<std::size_t>(n)];
    std::int64_t k = 0;
    for (const auto& [key, step] : r.steps) {
      times[static_cast<std::size_t>(n * T + k)] = parser.hours(key) / parser.options.time_unit;
      for (std::int64_t d = 0; d < D; ++d) {
        const auto [sum, count] = step[static_cast<std::size_t>(d)];
        if (count == 0) continue;
        v[(n * T + k) * D + d] = static_cast<float>(sum / count);
        m[(n * T + k) * D + d] = 1.0f;
      }
      ++k;
    }
    lengths[static_cast<std::size_t>(n)] = k;
    for (std::int64_t j = k; j < T; ++j) times[static_cast<std::size_t>(n * T + j)] = times[static_cast<std::size_t>(n * T + k - 1)];
    s.ids.push_back(r.id);
  }
  s.times = Tensor::from_vector(times, Shape{N, T}, DType::f64);
  s.lengths = Tensor::from_indices(lengths, Shape{N});
  return s;
}

// The records' in-hospital death labels from the outcomes files; every record needs a row.
Tensor mortality(const std::vector<Record>& records, const std::vector<std::string>& outcomes) {
  std::unordered_map<std::int64_t, std::int64_t> death;
  for (const std::string& path : outcomes) read_outcomes(path, death);
  std::vector<std::int64_t> labels;
  for (const Record& r : records) {
    const auto it = death.find(r.id);
    if (it == death.end()) fail("physionet: record {} has no row in the outcomes files ({})", r.id, fmt::join(outcomes, ", "));
    labels.push_back(it->second);
  }
  return Tensor::from_indices(labels, Shape{static_cast<std::int64_t>(labels.size())});
}

}  // namespace

std::vector<std::string> physionet_variables(bool descriptors) {
  std::vector<std::string> out = descriptors ? kDescriptors : std::vector<std::string>{};
  out.insert(out.end(), kSeries.begin(), kSeries.end());
  return out;
}

PhysionetData read_physionet(const std::vector<std::string>& archives, const std::vector<std::string>& outcomes,
                             const PhysionetOptions& options) {
  if (archives.empty()) fail("physionet: no archives given (set-a.tar.gz, set-b.tar.gz)");
  // below a second a key is no coarser than the minutes, and minutes / quantisation overflows the key
  if (!(options.quantisation == 0 || (options.quantisation >= 1.0 / 3600 && options.quantisation <= 48)))
    fail("physionet: quantisation must be 0 (exact minutes) or from 1/3600 (one second) to 48 hours, got {}", options.quantisation);
  if (!(options.time_unit > 0)) fail("physionet: time_unit must be > 0 hours, got {}", options.time_unit);
  const Parser parser(options);
  std::vector<Record> all;
  for (const std::string& path : archives) read_archive(path, parser, all);
  std::unordered_map<std::int64_t, int> seen;
  for (const Record& r : all)
    if (++seen[r.id] > 1) fail("physionet: record {} appears more than once in {}", r.id, fmt::join(archives, ", "));
  PhysionetData out;
  std::vector<Record> kept;
  for (Record& r : all) {
    if (r.has_series) kept.push_back(std::move(r));
    else out.without_series.push_back(r.id);
  }
  if (kept.empty()) fail("physionet: no record with time series in {}", fmt::join(archives, ", "));
  out.set = assemble(kept, parser);
  if (!outcomes.empty()) {
    out.set.labels = mortality(kept, outcomes);
    out.set.classes = 2;
  }
  return out;
}

}  // namespace tide::data
