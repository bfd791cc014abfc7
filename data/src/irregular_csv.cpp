// A long CSV table as irregular series (irregular.hpp): one sequence per id, rows in time order,
// every feature cell observed unless empty.
#include "tide/data/csv.hpp"
#include "tide/data/irregular.hpp"
#include "tide/core/error.hpp"
#include <algorithm>
#include <map>

namespace tide::data {

IrregularSet read_irregular_csv(const std::string& path, const std::string& time_column, const std::string& id_column,
                                std::vector<std::string> features) {
  const CsvTable t = read_csv(path);
  const std::size_t tc = t.column(time_column), ic = t.column(id_column);
  if (features.empty())
    for (const std::string& h : t.header)
      if (h != time_column && h != id_column) features.push_back(h);
  std::vector<std::size_t> fc;
  for (const std::string& f : features) fc.push_back(t.column(f));
  std::map<double, std::vector<std::size_t>> by_id;  // sequences in id order, rows in file order
  for (std::size_t r = 0; r < t.rows.size(); ++r) by_id[t.number(r, ic)].push_back(r);
  if (by_id.empty()) fail("{}: no rows", path);
  const auto N = static_cast<std::int64_t>(by_id.size()), D = static_cast<std::int64_t>(features.size());
  std::int64_t T = 1;
  for (const auto& [id, rows] : by_id) T = std::max<std::int64_t>(T, static_cast<std::int64_t>(rows.size()));
  IrregularSet s;
  s.name = path;
  s.variables = features;
  s.values = Tensor::zeros(Shape{N, T, D}, DType::f32);
  s.mask = Tensor::zeros(Shape{N, T, D}, DType::f32);
  std::vector<double> times(static_cast<std::size_t>(N * T));
  std::vector<std::int64_t> lengths;
  float* v = s.values.data<float>();
  float* m = s.mask.data<float>();
  std::int64_t n = 0;
  for (const auto& [id, rows] : by_id) {
    for (std::size_t k = 0; k < rows.size(); ++k) {
      const double time = t.number(rows[k], tc);
      if (k > 0 && !(time > times[static_cast<std::size_t>(n * T) + k - 1]))
        fail("{}: time {} is not after the previous row's of id {:g}", t.where(rows[k], tc), time, id);
      times[static_cast<std::size_t>(n * T) + k] = time;
      for (std::size_t d = 0; d < fc.size(); ++d) {
        if (t.rows[rows[k]][fc[d]].empty()) continue;  // not observed
        const auto i = static_cast<std::size_t>((n * T + static_cast<std::int64_t>(k)) * D) + d;
        v[i] = static_cast<float>(t.number(rows[k], fc[d]));
        m[i] = 1.0f;
      }
    }
    for (auto k = static_cast<std::int64_t>(rows.size()); k < T; ++k)
      times[static_cast<std::size_t>(n * T + k)] = times[static_cast<std::size_t>(n * T) + rows.size() - 1];
    lengths.push_back(static_cast<std::int64_t>(rows.size()));
    s.ids.push_back(static_cast<std::int64_t>(id));
    ++n;
  }
  s.times = Tensor::from_vector(times, Shape{N, T}, DType::f64);
  s.lengths = Tensor::from_indices(lengths, Shape{N});
  s.validate();
  return s;
}

}  // namespace tide::data
