// IrregularSet and IrregularExamples: subsets (re-padded to their longest sequence), checks, the
// seeded split and the per-variable normalisation.
#include "tide/data/irregular.hpp"
#include "column_scale.hpp"
#include "split_parts.hpp"
#include "tide/core/error.hpp"
#include "tide/core/named.hpp"
#include "tide/core/ops.hpp"
#include <algorithm>
#include <cmath>
#include <limits>

namespace tide::data {

namespace {

// set.tensor's rows at `rows`, trimmed to `steps` along axis 1 (a contiguous copy).
Tensor rows_of(const Tensor& t, const Tensor& rows, std::int64_t steps) {
  if (!t.defined()) return t;
  if (t.dtype() == DType::i64) {  // index_select is for floating tensors: labels and lengths by hand
    const std::vector<std::int64_t> all = t.to_indices();
    std::vector<std::int64_t> out;
    for (std::int64_t r : rows.to_indices()) out.push_back(all[static_cast<std::size_t>(r)]);
    return Tensor::from_indices(out, Shape{static_cast<std::int64_t>(out.size())});
  }
  const Tensor picked = index_select(t, 0, rows);
  return t.rank() >= 2 ? picked.slice(1, 0, steps).clone() : picked;
}

constexpr Named<Normalisation> kNormalisations[] = {
    {"minmax", Normalisation::minmax}, {"standard", Normalisation::standard}, {"none", Normalisation::none}};

}  // namespace

IrregularSet IrregularSet::subset(const std::vector<std::int64_t>& index) const {
  for (std::int64_t i : index)
    if (i < 0 || i >= size()) fail("irregular set '{}': subset index {} outside [0, {})", name, i, size());
  const Tensor rows = Tensor::from_indices(index, Shape{static_cast<std::int64_t>(index.size())});
  IrregularSet out{name, variables, classes, {}, {}, {}, {}, {}, {}};
  out.lengths = rows_of(lengths, rows, 0);
  std::int64_t steps = 1;
  for (std::int64_t l : out.lengths.to_indices()) steps = std::max(steps, l);
  steps = std::min(steps, this->steps());
  out.times = rows_of(times, rows, steps);
  out.values = rows_of(values, rows, steps);
  out.mask = rows_of(mask, rows, steps);
  out.labels = rows_of(labels, rows, steps);
  for (std::int64_t i : index)
    if (!ids.empty()) out.ids.push_back(ids[static_cast<std::size_t>(i)]);
  return out;
}

IrregularSet IrregularSet::slice(std::int64_t begin, std::int64_t end) const {
  if (begin < 0 || end < begin || end > size())
    fail("irregular set '{}': slice [{}, {}) outside [0, {}]", name, begin, end, size());
  std::vector<std::int64_t> index(static_cast<std::size_t>(end - begin));
  for (std::size_t i = 0; i < index.size(); ++i) index[i] = begin + static_cast<std::int64_t>(i);
  return subset(index);
}

namespace {

void check_shapes(const IrregularSet& s) {
  const std::int64_t N = s.size(), T = s.steps(), D = s.dims();
  const auto is = [](const Tensor& t, DType d, const Shape& shape) { return t.defined() && t.dtype() == d && t.shape() == shape; };
  if (!s.times.defined() || s.times.rank() != 2) fail("irregular set '{}': times must be f64 [N, T]", s.name);
  if (D < 1) fail("irregular set '{}': no variables named", s.name);
  if (!is(s.times, DType::f64, Shape{N, T})) fail("irregular set '{}': times must be f64 [N, T], got {}", s.name, s.times.str());
  if (!is(s.values, DType::f32, Shape{N, T, D}) && !is(s.values, DType::f64, Shape{N, T, D}))
    fail("irregular set '{}': values must be f32 (or f64 before scaling) [{}, {}, {}], got {}", s.name, N, T, D, s.values.defined() ? s.values.str() : "undefined");
  if (!is(s.mask, DType::f32, Shape{N, T, D}))
    fail("irregular set '{}': mask must be f32 [{}, {}, {}], got {}", s.name, N, T, D, s.mask.defined() ? s.mask.str() : "undefined");
  if (!is(s.lengths, DType::i64, Shape{N})) fail("irregular set '{}': lengths must be i64 [{}]", s.name, N);
  if (s.labelled() && !is(s.labels, DType::i64, Shape{N})) fail("irregular set '{}': labels must be i64 [{}], got {}", s.name, N, s.labels.str());
  if (!s.ids.empty() && static_cast<std::int64_t>(s.ids.size()) != N) fail("irregular set '{}': {} ids for {} sequences", s.name, s.ids.size(), N);
}

// Sequence n's valid steps: finite increasing times, a 0/1 mask, values only where observed, each step observing something.
void check_sequence(const IrregularSet& s, std::int64_t n, std::int64_t length, const std::vector<double>& t,
                    const std::vector<double>& v, const std::vector<double>& m) {
  const std::int64_t T = s.steps(), D = s.dims();
  if (length < 1 || length > T) fail("irregular set '{}': sequence {} has length {} (expected 1..{})", s.name, n, length, T);
  for (std::int64_t k = 0; k < T; ++k) {
    const double tk = t[static_cast<std::size_t>(n * T + k)];
    if (!std::isfinite(tk)) fail("irregular set '{}': sequence {} step {} has time {}", s.name, n, k, tk);
    if (k > 0 && k < length && !(tk > t[static_cast<std::size_t>(n * T + k - 1)]))
      fail("irregular set '{}': sequence {} times not strictly increasing at step {} ({} after {})", s.name, n, k, tk,
           t[static_cast<std::size_t>(n * T + k - 1)]);
    double observed = 0;
    for (std::int64_t d = 0; d < D; ++d) {
      const std::size_t i = static_cast<std::size_t>((n * T + k) * D + d);
      if (m[i] != 0 && m[i] != 1) fail("irregular set '{}': mask {} at sequence {} step {} variable {}", s.name, m[i], n, k, d);
      if (!std::isfinite(v[i])) fail("irregular set '{}': value {} at sequence {} step {} variable {}", s.name, v[i], n, k, d);
      if ((m[i] == 0 || k >= length) && v[i] != 0)
        fail("irregular set '{}': value {} where nothing was observed (sequence {} step {} variable {})", s.name, v[i], n, k, d);
      if (k >= length && m[i] != 0) fail("irregular set '{}': sequence {} has a mask entry on padding step {}", s.name, n, k);
      observed += m[i];
    }
    if (k < length && observed == 0) fail("irregular set '{}': sequence {} step {} observes no variable", s.name, n, k);
  }
}

}  // namespace

void IrregularSet::validate() const {
  check_shapes(*this);
  const std::vector<double> t = times.to_vector(), v = values.to_vector(), m = mask.to_vector();
  const std::vector<std::int64_t> len = lengths.to_indices();
  for (std::int64_t n = 0; n < size(); ++n) check_sequence(*this, n, len[static_cast<std::size_t>(n)], t, v, m);
  if (labelled()) {
    const std::vector<std::int64_t> y = labels.to_indices();
    for (std::size_t n = 0; n < y.size(); ++n)
      if (y[n] < 0 || y[n] >= classes) fail("irregular set '{}': label {} of sequence {} outside [0, {})", name, y[n], n, classes);
  }
}

IrregularExamples::IrregularExamples(IrregularSet set) : set_(std::move(set)) {
  if (set_.values.defined() && set_.values.dtype() != DType::f32)
    fail("irregular set '{}': values are {}, the models read f32; scale the set first (VariableScaler::apply returns f32)",
         set_.name, set_.values.str());
}

ExamplesPtr IrregularExamples::subset(const std::vector<std::int64_t>& index) const {
  return std::make_shared<IrregularExamples>(set_.subset(index));
}

ExamplesPtr IrregularExamples::slice(std::int64_t begin, std::int64_t end) const {
  return std::make_shared<IrregularExamples>(set_.slice(begin, end));
}

std::vector<double> IrregularExamples::class_counts() const {
  return set_.labelled() ? count_classes(set_.labels, set_.classes) : std::vector<double>{};
}

const IrregularSet& irregular_of(const Examples& examples, const std::string& what) {
  const auto* e = dynamic_cast<const IrregularExamples*>(&examples);
  if (!e) fail("{}: expects irregular time series with per-variable masks (datasets physionet, periodic, or mujoco with \"form\": \"irregular\"), got another kind of examples", what);
  return e->set();
}

IrregularSplit split(const IrregularSet& all, double val_fraction, double test_fraction, std::uint64_t seed) {
  return detail::split_parts<IrregularSplit>(all, val_fraction, test_fraction, seed);
}

SequenceSet as_sequences(const IrregularSet& set) {
  if (!set.labelled()) fail("irregular set '{}': as sequences it needs per-sequence labels (PhysioNet: \"labels\": true)", set.name);
  const std::int64_t N = set.size(), T = set.steps();
  SequenceSet out;
  out.name = set.name;
  out.task = Task::classification;
  out.per_step = false;
  out.classes = set.classes;
  out.x = concat({set.values, set.mask}, 2);
  const std::vector<double> t = set.times.to_vector();
  const std::vector<std::int64_t> len = set.lengths.to_indices();
  std::vector<double> dt(static_cast<std::size_t>(N * T), 0.0), mask(dt.size(), 0.0);
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t k = 0; k < len[static_cast<std::size_t>(n)]; ++k) {
      const auto i = static_cast<std::size_t>(n * T + k);
      dt[i] = k == 0 ? t[i] : t[i] - t[i - 1];
      mask[i] = 1;
    }
  out.dt = Tensor::from_vector(dt, Shape{N, T}, DType::f32);
  out.mask = Tensor::from_vector(mask, Shape{N, T}, DType::f32);
  out.y = set.labels;
  return out;
}

std::vector<std::string> normalisation_names() { return names_of(kNormalisations); }
Normalisation normalisation_from_name(const std::string& name) { return lookup(kNormalisations, name, "normalisation"); }

VariableScaler VariableScaler::fit(const IrregularSet& train, Normalisation kind) {
  const auto D = static_cast<std::size_t>(train.dims());
  VariableScaler s{std::vector<double>(D, 0.0), std::vector<double>(D, 1.0)};
  if (kind == Normalisation::none) return s;
  const std::vector<double> v = train.values.to_vector(), m = train.mask.to_vector();
  std::vector<double> lo(D, INFINITY), hi(D, -INFINITY);
  detail::ColumnMoments moments(D);
  for (std::size_t i = 0; i < v.size(); ++i)
    if (m[i] != 0) lo[i % D] = std::min(lo[i % D], v[i]), hi[i % D] = std::max(hi[i % D], v[i]);
  for (int pass = 0; pass < detail::ColumnMoments::passes; ++pass)
    for (std::size_t i = 0; i < v.size(); ++i)
      if (m[i] != 0) moments.add(pass, i % D, v[i]);
  for (std::size_t d = 0; d < D; ++d) {
    if (moments.count(d) == 0) continue;
    if (kind == Normalisation::minmax) {
      s.shift[d] = lo[d];
      s.scale[d] = hi[d] > lo[d] ? hi[d] - lo[d] : 1.0;
      if (!std::isfinite(s.scale[d]))  // every value would scale to 0
        fail("{}: variable '{}' spans {:g} to {:g}, a range beyond a double's: \"minmax\" cannot scale it (use \"standard\")",
             train.name, d < train.variables.size() ? train.variables[d] : std::to_string(d), lo[d], hi[d]);
    } else {
      s.shift[d] = moments.mean(d);
      s.scale[d] = moments.std_or_one(d);
    }
  }
  return s;
}

void VariableScaler::apply(IrregularSet& set) const {
  const auto D = static_cast<std::size_t>(set.dims());
  if (shift.size() != D || scale.size() != D) fail("VariableScaler: fitted for {} variables, set '{}' has {}", shift.size(), set.name, D);
  // in double: values read as f64 (a variable far from 0) keep their variation until scaled
  std::vector<double> v = set.values.to_vector();
  const std::vector<double> m = set.mask.to_vector();
  for (std::size_t i = 0; i < v.size(); ++i)
    if (m[i] != 0) {
      v[i] = detail::standardised(v[i], shift[i % D], scale[i % D]);
      if (!std::isnan(v[i]) && !std::isfinite(static_cast<float>(v[i]))) {  // an inf in f32, silently (another part's outlier)
        const std::size_t d = i % D, T = static_cast<std::size_t>(set.steps());
        fail("{}: sequence {}, step {}: variable '{}' is {:g} after normalising with the training part's statistics, beyond "
             "the f32 range the models read", set.name, i / D / T, i / D % T, d < set.variables.size() ? set.variables[d] : std::to_string(d), v[i]);
      }
    }
  set.values = Tensor::from_vector(v, set.values.shape(), DType::f32, set.values.device());
}

}  // namespace tide::data
