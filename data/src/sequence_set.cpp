#include "tide/data/sequence_set.hpp"
#include "column_scale.hpp"
#include "split_parts.hpp"
#include "tide/core/error.hpp"
#include "tide/core/random.hpp"
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

namespace tide::data {
namespace {

// Rows index[0], index[1], ... of t along axis 0, as a fresh contiguous CPU tensor.
Tensor take_rows(const Tensor& t, const std::vector<std::int64_t>& index) {
  const Tensor src = t.to(Device::cpu()).contiguous();
  Shape shape = src.shape();
  shape[0] = static_cast<std::int64_t>(index.size());
  Tensor out = Tensor::empty(shape, src.dtype(), Device::cpu());
  const std::size_t row_bytes =
      static_cast<std::size_t>(src.size(0) == 0 ? 0 : src.numel() / src.size(0)) * dtype_size(src.dtype());
  const auto* from = static_cast<const unsigned char*>(src.raw_data());
  auto* to = static_cast<unsigned char*>(out.raw_data());
  for (std::size_t j = 0; j < index.size(); ++j)
    if (row_bytes) std::memcpy(to + j * row_bytes, from + static_cast<std::size_t>(index[j]) * row_bytes, row_bytes);
  return out;
}

std::vector<double> host_values(const Tensor& t) { return t.to(Device::cpu()).to_vector(); }

}  // namespace

std::int64_t SequenceSet::outputs() const {
  if (task == Task::classification) return classes;
  return y.defined() ? y.size(y.rank() - 1) : 0;
}

SequenceSet SequenceSet::subset(const std::vector<std::int64_t>& index) const {
  for (std::int64_t i : index)
    if (i < 0 || i >= size()) fail("sequence set '{}': subset index {} outside [0, {})", name, i, size());
  SequenceSet out;
  out.name = name;
  out.task = task;
  out.per_step = per_step;
  out.classes = classes;
  out.x = take_rows(x, index);
  out.dt = take_rows(dt, index);
  out.mask = take_rows(mask, index);
  out.y = take_rows(y, index);
  return out;
}

SequenceSet SequenceSet::slice(std::int64_t begin, std::int64_t end) const {
  if (begin < 0 || end < begin || end > size())
    fail("sequence set '{}': slice [{}, {}) outside [0, {}]", name, begin, end, size());
  std::vector<std::int64_t> index(static_cast<std::size_t>(end - begin));
  std::iota(index.begin(), index.end(), begin);
  return subset(index);
}

void SequenceSet::validate() const {
  if (!x.defined() || !dt.defined() || !mask.defined() || !y.defined())
    fail("sequence set '{}': x, dt, mask and y must all be defined", name);
  if (x.rank() != 3) fail("sequence set '{}': x must be [N, T, F], got {}", name, x.str());
  const std::int64_t n = x.size(0), steps = x.size(1);
  for (const auto& [tensor, what] : {std::pair{&dt, "dt"}, std::pair{&mask, "mask"}})
    if (tensor->shape() != Shape{n, steps})
      fail("sequence set '{}': {} must be [{}, {}] to match x {}, got {}", name, what, n, steps, x.str(), tensor->str());
  for (const auto& [tensor, what] : {std::pair{&x, "x"}, std::pair{&dt, "dt"}, std::pair{&mask, "mask"}})
    if (!is_floating(tensor->dtype())) fail("sequence set '{}': {} must be floating, got {}", name, what, tensor->str());

  const std::vector<double> xs = host_values(x), dts = host_values(dt), ms = host_values(mask);
  for (std::size_t i = 0; i < xs.size(); ++i)
    if (!std::isfinite(xs[i])) fail("sequence set '{}': x holds {} at flat index {}", name, xs[i], i);
  std::vector<std::int64_t> length(static_cast<std::size_t>(n), 0);
  for (std::int64_t s = 0; s < n; ++s) {
    bool padding = false;
    for (std::int64_t t = 0; t < steps; ++t) {
      const auto i = static_cast<std::size_t>(s * steps + t);
      if (ms[i] != 0.0 && ms[i] != 1.0) fail("sequence set '{}': mask[{}, {}] = {} is not 0 or 1", name, s, t, ms[i]);
      if (!std::isfinite(dts[i]) || dts[i] < 0.0)
        fail("sequence set '{}': dt[{}, {}] = {} (must be finite and >= 0)", name, s, t, dts[i]);
      if (ms[i] == 0.0) padding = true;
      else if (padding) fail("sequence set '{}': sequence {} has a valid step {} after padding", name, s, t);
      else ++length[static_cast<std::size_t>(s)];
    }
    if (steps > 0 && length[static_cast<std::size_t>(s)] == 0)
      fail("sequence set '{}': sequence {} has no valid step", name, s);
  }

  if (task == Task::classification) {
    const Shape want = per_step ? Shape{n, steps} : Shape{n};
    if (y.dtype() != DType::i64 || y.shape() != want)
      fail("sequence set '{}': classification y must be i64{}, got {}", name, want.str(), y.str());
    if (classes < 1) fail("sequence set '{}': classes = {} (must be at least 1)", name, classes);
    const std::vector<std::int64_t> ys = y.to(Device::cpu()).to_indices();
    for (std::int64_t s = 0; s < n; ++s)
      for (std::int64_t t = 0; t < (per_step ? length[static_cast<std::size_t>(s)] : 1); ++t) {
        const std::int64_t label = ys[static_cast<std::size_t>(per_step ? s * steps + t : s)];
        if (label < 0 || label >= classes)
          fail("sequence set '{}': label {} of sequence {} step {} outside [0, {})", name, label, s, t, classes);
      }
  } else {
    if (!is_floating(y.dtype()) || y.rank() != (per_step ? 3 : 2) || y.size(0) != n ||
        (per_step && y.size(1) != steps))
      fail("sequence set '{}': regression y must be floating [{}{}, O], got {}", name, n,
           per_step ? fmt::format(", {}", steps) : std::string(), y.str());
    const std::vector<double> ys = host_values(y);
    for (std::size_t i = 0; i < ys.size(); ++i)
      if (!std::isfinite(ys[i])) fail("sequence set '{}': y holds {} at flat index {}", name, ys[i], i);
  }
}

std::vector<std::int64_t> permutation(std::int64_t n, std::uint64_t seed) {
  if (n < 0) fail("permutation: n = {} is negative", n);
  // Sorting n Philox uniforms gives a uniformly random order (ties, at probability ~n^2 2^-53,
  // fall back to index order, so the result is still a permutation and still deterministic).
  Generator generator(seed);
  const std::vector<double> key = generator.uniform(Shape{n}, 0.0, 1.0, DType::f64, Device::cpu()).to_vector();
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
    return key[static_cast<std::size_t>(a)] < key[static_cast<std::size_t>(b)];
  });
  return order;
}

std::int64_t part_rows(double fraction, std::int64_t n) {
  // a relative nudge far above a double's rounding (1e-16) and far below one row's share of n
  return static_cast<std::int64_t>(std::floor(fraction * static_cast<double>(n) * (1 + 1e-12)));
}

SplitRows split_rows(std::int64_t n, double val_fraction, double test_fraction, std::uint64_t seed,
                     const std::string& what) {
  if (!(val_fraction >= 0.0 && test_fraction >= 0.0 && val_fraction + test_fraction <= 1.0))
    fail("split of '{}': val_fraction {} and test_fraction {} must be >= 0 with a sum <= 1", what, val_fraction,
         test_fraction);
  const std::int64_t n_val = part_rows(val_fraction, n), n_test = std::min(part_rows(test_fraction, n), n - n_val);
  const std::vector<std::int64_t> order = permutation(n, seed);
  const auto part = [&](std::int64_t begin, std::int64_t end) {
    return std::vector<std::int64_t>(order.begin() + begin, order.begin() + end);
  };
  return SplitRows{part(n_val + n_test, n), part(0, n_val), part(n_val, n_val + n_test)};
}

Split split(const SequenceSet& all, double val_fraction, double test_fraction, std::uint64_t seed) {
  return detail::split_parts<Split>(all, val_fraction, test_fraction, seed);
}

Standardizer Standardizer::fit(const SequenceSet& set) {
  const std::int64_t n = set.size(), steps = set.steps(), features = set.features();
  const std::vector<double> xs = host_values(set.x), ms = host_values(set.mask);
  const auto F = static_cast<std::size_t>(features);
  detail::ColumnMoments moments(F);
  for (int pass = 0; pass < detail::ColumnMoments::passes; ++pass)  // over the valid steps
    for (std::int64_t i = 0; i < n * steps; ++i)
      if (ms[static_cast<std::size_t>(i)] != 0.0)
        for (std::size_t f = 0; f < F; ++f) moments.add(pass, f, xs[static_cast<std::size_t>(i) * F + f]);
  if (std::none_of(ms.begin(), ms.end(), [](double m) { return m != 0.0; }))
    fail("Standardizer::fit: sequence set '{}' has no valid step", set.name);
  Standardizer out;
  for (std::size_t f = 0; f < F; ++f) out.mean.push_back(moments.mean(f)), out.std.push_back(moments.std_or_one(f));
  return out;
}

void Standardizer::apply(SequenceSet& set) const {
  const std::int64_t n = set.size(), steps = set.steps(), features = set.features();
  if (static_cast<std::int64_t>(mean.size()) != features || std.size() != mean.size())
    fail("Standardizer::apply: fitted on {} features, sequence set '{}' has {}", mean.size(), set.name, features);
  std::vector<double> xs = host_values(set.x);
  const std::vector<double> ms = host_values(set.mask);
  for (std::int64_t i = 0; i < n * steps; ++i)
    if (ms[static_cast<std::size_t>(i)] != 0.0)
      for (std::int64_t f = 0; f < features; ++f) {
        double& v = xs[static_cast<std::size_t>(i * features + f)];
        v = detail::standardised(v, mean[static_cast<std::size_t>(f)], std[static_cast<std::size_t>(f)]);
      }
  set.x = Tensor::from_vector(xs, set.x.shape(), set.x.dtype(), set.x.device());
}

Standardizer standardise(Split& split) {
  Standardizer s = Standardizer::fit(split.train);
  s.apply(split.train);
  s.apply(split.val);
  s.apply(split.test);
  return s;
}

}  // namespace tide::data
