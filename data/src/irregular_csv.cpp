// A long CSV table as irregular series (irregular.hpp): one sequence per id, rows in time order,
// every feature cell observed unless empty or blank.
#include "tide/data/csv.hpp"
#include "tide/data/irregular.hpp"
#include "shown_text.hpp"
#include "tide/core/error.hpp"
#include <fmt/ranges.h>
#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>

namespace tide::data {
namespace {

// Row r's sequence id: an integer that fits in 64 bits ("3", or "3.0" as pandas writes a float
// column). Ids read as doubles would make 1.2 and 1.7 one sequence, and 1e300 no integer at all.
std::int64_t sequence_id(const CsvTable& t, std::size_t r, std::size_t c) {
  const std::string_view cell = detail::trimmed(t.rows[r][c]);
  std::int64_t id = 0;
  const auto [end, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), id);
  if (ec == std::errc() && end == cell.data() + cell.size() && !cell.empty()) return id;
  const double v = t.number(r, c);
  if (v != std::floor(v) || std::fabs(v) > 9007199254740992.0)  // past 2^53 a double skips integers: write it as one
    fail("{}: id '{}' is not an integer (an id names a sequence: a whole number within 64 bits)", t.where(r, c),
         detail::shown(cell));
  return static_cast<std::int64_t>(v);
}

// Row r's cell of a feature column into its value and mask; false when the cell is empty or only
// blanks (not observed: "1, ,3" as a writer that pads its fields leaves it).
bool observe(const CsvTable& t, std::size_t r, std::size_t column, double& value, double& mask) {
  if (detail::trimmed(t.rows[r][column]).empty()) return false;
  const double v = t.number(r, column);
  if (!std::isfinite(static_cast<float>(v))) fail("{}: {} is out of the range of a 32-bit float", t.where(r, column), v);
  value = v, mask = 1.0;
  return true;
}

// Every sequence is padded to the longest one's rows: one long id among many short ones made a file
// of a few hundred KB ask for gigabytes. Refused when the padding is both large (past 2^26 cells,
// half a GiB of values alone) and most of it (over 8 padded rows per row read).
void check_padding(const std::string& path, std::int64_t N, std::int64_t T, std::int64_t D, std::int64_t rows, std::int64_t longest) {
  const double cells = static_cast<double>(N) * static_cast<double>(T) * static_cast<double>(std::max<std::int64_t>(D, 1));
  if (cells > 0x1p26 && static_cast<double>(N) * static_cast<double>(T) > 8.0 * static_cast<double>(rows))
    fail("{}: id {} has {} rows while the {} ids average {:.1f}: every sequence is padded to the longest, {} x {} steps for {} "
         "rows read; split the long sequence or leave it out", path, longest, T, N, static_cast<double>(rows) / static_cast<double>(N),
         N, T, rows);
}

}  // namespace

IrregularSet read_irregular_csv(const std::string& path, const std::string& time_column, const std::string& id_column,
                                std::vector<std::string> features, DType values_dtype) {
  CsvOptions options;
  options.no_header_fix = fmt::format("add a first line naming the columns ('{}', '{}' and the variables)", time_column, id_column);
  const CsvTable t = read_csv(path, options);
  const std::size_t tc = t.column(time_column), ic = t.column(id_column);
  if (features.empty())  // every other column but an index (inferred, or a first column without a name)
    for (std::size_t c = 0; c < t.header.size(); ++c)
      if (c != tc && c != ic && !t.is_index(c)) features.push_back(t.header[c]);
  std::vector<std::size_t> fc;
  for (const std::string& f : features) fc.push_back(t.column(f));
  std::map<std::int64_t, std::vector<std::size_t>> by_id;  // sequences in id order, rows in file order
  for (std::size_t r = 0; r < t.rows.size(); ++r) by_id[sequence_id(t, r, ic)].push_back(r);
  if (by_id.empty()) fail("{}: no rows", path);
  const auto N = static_cast<std::int64_t>(by_id.size()), D = static_cast<std::int64_t>(features.size());
  std::int64_t T = 1, longest = 0;
  for (const auto& [id, rows] : by_id)
    if (static_cast<std::int64_t>(rows.size()) > T) T = static_cast<std::int64_t>(rows.size()), longest = id;
  check_padding(path, N, T, D, static_cast<std::int64_t>(t.rows.size()), longest);
  IrregularSet s;
  s.name = path;
  s.variables = features;
  std::vector<double> times(static_cast<std::size_t>(N * T)), v(static_cast<std::size_t>(N * T * D), 0.0), m(v.size(), 0.0);
  std::vector<std::int64_t> lengths;
  std::int64_t n = 0;
  for (const auto& [id, rows] : by_id) {
    for (std::size_t k = 0; k < rows.size(); ++k) {
      const double time = t.number(rows[k], tc);
      if (!(time >= 0))  // found only after training, when a test batch reached the latent ODE
        fail("{}: time {} of id {} is before 0 (the latent ODE's z0 is the state at t = 0: shift the episode's times)",
             t.where(rows[k], tc), time, id);
      if (k > 0 && !(time > times[static_cast<std::size_t>(n * T) + k - 1]))
        fail("{}: time {} is not after the previous row's of id {}", t.where(rows[k], tc), time, id);
      times[static_cast<std::size_t>(n * T) + k] = time;
      bool observed = false;
      for (std::size_t d = 0; d < fc.size(); ++d) {
        const auto i = static_cast<std::size_t>((n * T + static_cast<std::int64_t>(k)) * D) + d;
        observed = observe(t, rows[k], fc[d], v[i], m[i]) || observed;
      }
      if (!observed)
        fail("{}:{}: the row observes no variable (every one of {} is empty): leave it out", path, t.lines[rows[k]],
             detail::shown(fmt::format("{}", fmt::join(features, ", ")), 120));
    }
    for (auto k = static_cast<std::int64_t>(rows.size()); k < T; ++k)
      times[static_cast<std::size_t>(n * T + k)] = times[static_cast<std::size_t>(n * T) + rows.size() - 1];
    lengths.push_back(static_cast<std::int64_t>(rows.size()));
    s.ids.push_back(static_cast<std::int64_t>(id));
    ++n;
  }
  s.times = Tensor::from_vector(times, Shape{N, T}, DType::f64);
  s.values = Tensor::from_vector(v, Shape{N, T, D}, values_dtype);
  s.mask = Tensor::from_vector(m, Shape{N, T, D}, DType::f32);
  s.lengths = Tensor::from_indices(lengths, Shape{N});
  s.validate();
  return s;
}

}  // namespace tide::data
