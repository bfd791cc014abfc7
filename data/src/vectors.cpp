// VectorSet and VectorExamples, their seeded split and standardisation, and CSV tables read as
// vectors (the CSV reader of csv_reader.cpp does the tokenising).
#include "tide/data/vectors.hpp"
#include "column_scale.hpp"
#include "split_parts.hpp"
#include "tide/core/error.hpp"
#include "tide/core/ops.hpp"
#include "tide/data/csv.hpp"
#include <fmt/ranges.h>
#include <algorithm>
#include <cmath>
#include <cstdint>

namespace tide::data {

VectorSet VectorSet::subset(const std::vector<std::int64_t>& index) const {
  for (std::int64_t i : index)
    if (i < 0 || i >= size()) fail("vector set '{}': subset index {} outside [0, {})", name, i, size());
  VectorSet out{name, Tensor(), image, Tensor(), classes};
  const Tensor rows = Tensor::from_indices(index, Shape{static_cast<std::int64_t>(index.size())}, x.device());
  out.x = index_select(x, 0, rows);
  if (labelled()) {
    const std::vector<std::int64_t> all = labels.to_indices();
    std::vector<std::int64_t> picked;
    picked.reserve(index.size());
    for (std::int64_t i : index) picked.push_back(all[static_cast<std::size_t>(i)]);
    out.labels = Tensor::from_indices(picked, Shape{static_cast<std::int64_t>(index.size())}, labels.device());
  }
  return out;
}

VectorSet VectorSet::slice(std::int64_t begin, std::int64_t end) const {
  if (begin < 0 || end < begin || end > size())
    fail("vector set '{}': slice [{}, {}) outside [0, {}]", name, begin, end, size());
  return VectorSet{name, x.slice(0, begin, end).clone(), image,  // a copy, as subset's
                   labelled() ? labels.slice(0, begin, end).clone() : Tensor(), classes};
}

namespace {

void validate_labels(const VectorSet& s) {
  if (s.labels.dtype() != DType::i64 || s.labels.rank() != 1 || s.labels.size(0) != s.size())
    fail("vector set '{}': labels must be i64 [{}], got {}", s.name, s.size(), s.labels.str());
  const std::vector<std::int64_t> ids = s.labels.to_indices();
  for (std::size_t i = 0; i < ids.size(); ++i)
    if (ids[i] < 0 || ids[i] >= s.classes)
      fail("vector set '{}': label {} of row {} is outside [0, {})", s.name, ids[i], i, s.classes);
}

}  // namespace

void VectorSet::validate() const {
  if (!x.defined() || x.rank() != 2 || x.dtype() != DType::f64 || x.size(1) < 1)
    fail("vector set '{}': x must be f64 [N, D] with D >= 1, got {}", name, x.defined() ? x.str() : "undefined");
  std::int64_t pixels = 1;
  for (std::int64_t e : image) pixels = e > 0 && pixels <= INT64_MAX / e ? pixels * e : -1;
  if (is_image() && (image.size() != 3 || pixels != dims()))
    fail("vector set '{}': image shape {{{}}} must be {{channels, rows, cols}} with {} elements, as x {}", name,
         fmt::join(image, ", "), dims(), x.str());
  const std::vector<double> values = x.to_vector();
  const auto d = static_cast<std::size_t>(dims());
  for (std::size_t i = 0; i < values.size(); ++i) {
    const double v = values[i];
    if (!std::isfinite(v)) fail("vector set '{}': x holds {} at row {}, column {}", name, v, i / d, i % d);
    if (is_image() && !(v >= 0.0 && v <= 255.0 && v == std::floor(v)))
      fail("vector set '{}': image value {} at row {}, column {} is not a byte 0..255", name, v, i / d, i % d);
  }
  if (labelled()) validate_labels(*this);
}

ExamplesPtr VectorExamples::subset(const std::vector<std::int64_t>& index) const {
  return std::make_shared<VectorExamples>(set_.subset(index));
}

ExamplesPtr VectorExamples::slice(std::int64_t begin, std::int64_t end) const {
  return std::make_shared<VectorExamples>(set_.slice(begin, end));
}

std::vector<double> VectorExamples::class_counts() const {
  return set_.labelled() ? count_classes(set_.labels, set_.classes) : std::vector<double>{};
}

const VectorSet& vectors_of(const Examples& examples, const std::string& what) {
  const auto* v = dynamic_cast<const VectorExamples*>(&examples);
  if (!v)
    fail("{}: expects vectors (datasets toy, vectors, fashion_mnist with encoding images), got sequences or another "
         "kind of examples", what);
  return v->set();
}

VectorSplit split(const VectorSet& all, double val_fraction, double test_fraction, std::uint64_t seed) {
  return detail::split_parts<VectorSplit>(all, val_fraction, test_fraction, seed);
}

Standardiser Standardiser::fit(const Tensor& train) {
  if (!train.defined() || train.rank() != 2 || train.size(0) < 1)
    fail("Standardiser::fit: expects [N, D] vectors with N >= 1, got {}", train.defined() ? train.str() : "undefined");
  const auto d = static_cast<std::size_t>(train.size(1));
  const std::vector<double> x = train.to_vector();
  detail::ColumnMoments moments(d);
  for (int pass = 0; pass < detail::ColumnMoments::passes; ++pass)
    for (std::size_t i = 0; i < x.size(); ++i) moments.add(pass, i % d, x[i]);
  std::vector<double> mean(d), sd(d);
  for (std::size_t j = 0; j < d; ++j) mean[j] = moments.mean(j), sd[j] = moments.std_or_one(j);
  const Shape shape{static_cast<std::int64_t>(d)};
  return Standardiser{Tensor::from_vector(mean, shape, DType::f64, Device::cpu()),
                      Tensor::from_vector(sd, shape, DType::f64, Device::cpu())};
}

Tensor Standardiser::apply(const Tensor& x) const {
  if (!mean.defined() || !std.defined()) fail("Standardiser::apply: not fitted (mean and std undefined)");
  const auto d = static_cast<std::size_t>(mean.numel());
  if (!x.defined() || x.rank() != 2 || x.size(1) != mean.numel())
    fail("Standardiser::apply: fitted on {} columns, got {}", d, x.defined() ? x.str() : "undefined");
  std::vector<double> values = x.to_vector();
  const std::vector<double> m = mean.to_vector(), s = std.to_vector();
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = detail::standardised(values[i], m[i % d], s[i % d]);
  return Tensor::from_vector(values, x.shape(), DType::f64, x.device());
}

Tensor read_vectors_csv(const std::string& path, const std::vector<std::string>& columns) {
  CsvOptions options;
  options.comment = '#';
  options.comments_before_header_only = true;
  options.no_header_fix = "add a first line naming the columns (np.savetxt(path, x, delimiter=\",\", header=\"x,y\", "
                          "comments=\"\") writes one)";
  const CsvTable table = read_csv(path, options);
  std::vector<std::size_t> picked;
  if (columns.empty())  // every column but an index (inferred, or a first column without a name)
    for (std::size_t c = 0; c < table.header.size(); ++c)
      if (!table.is_index(c)) picked.push_back(c);
  for (const std::string& name : columns) {
    picked.push_back(table.column(name));
    // (two copies of a column would reach a model as two dimensions, a flow's density as a
    // singular one)
    if (std::count(picked.begin(), picked.end(), picked.back()) > 1) fail("{}: column '{}' is listed twice", path, name);
  }
  if (table.rows.empty()) fail("{}: a header row but no rows of numbers", path);
  const auto n = static_cast<std::int64_t>(table.rows.size()), d = static_cast<std::int64_t>(picked.size());
  std::vector<double> x;
  x.reserve(table.rows.size() * picked.size());
  for (std::size_t r = 0; r < table.rows.size(); ++r)
    for (std::size_t c : picked) x.push_back(table.number(r, c));
  return Tensor::from_vector(x, Shape{n, d}, DType::f64, Device::cpu());
}

}  // namespace tide::data
