#include "tide/data/examples.hpp"
#include "tide/core/error.hpp"
#include <algorithm>
#include <numeric>

namespace tide::data {

ExamplesPtr Examples::slice(std::int64_t begin, std::int64_t end) const {
  std::vector<std::int64_t> index(static_cast<std::size_t>(std::max<std::int64_t>(0, end - begin)));
  std::iota(index.begin(), index.end(), begin);
  return subset(index);
}

ExamplesPtr SequenceExamples::subset(const std::vector<std::int64_t>& index) const {
  return std::make_shared<SequenceExamples>(set_.subset(index));
}

ExamplesPtr SequenceExamples::slice(std::int64_t begin, std::int64_t end) const {
  return std::make_shared<SequenceExamples>(set_.slice(begin, end));
}

std::vector<double> SequenceExamples::class_counts() const {
  if (set_.task != Task::classification || !set_.y.defined()) return {};
  return count_classes(set_.y, set_.classes, set_.y.rank() == 2 ? set_.mask : Tensor{});
}

std::vector<double> count_classes(const Tensor& labels, std::int64_t classes, const Tensor& mask) {
  const std::vector<std::int64_t> y = labels.to_indices();
  const std::vector<double> m = mask.defined() ? mask.to_vector() : std::vector<double>(y.size(), 1.0);
  if (m.size() != y.size()) fail("count_classes: {} labels, {} mask entries", y.size(), m.size());
  std::vector<double> counts(static_cast<std::size_t>(std::max<std::int64_t>(classes, 0)), 0.0);
  for (std::size_t i = 0; i < y.size(); ++i) {
    if (m[i] == 0) continue;
    if (y[i] < 0 || y[i] >= classes) fail("count_classes: label {} at position {} is outside 0..{}", y[i], i, classes - 1);
    counts[static_cast<std::size_t>(y[i])] += 1;
  }
  return counts;
}

const SequenceSet& sequences_of(const Examples& examples, const std::string& what) {
  const auto* s = dynamic_cast<const SequenceExamples*>(&examples);
  if (!s)
    fail("{}: expects sequences (datasets xor, fashion_mnist with encoding event, traffic, gesture, person_activity, "
         "mujoco, csv), got vectors or another kind of examples", what);
  return s->set();
}

const ExamplesPtr& Dataset::split(const std::string& name) const {
  if (name == "train") return train;
  if (name == "val") return val;
  if (name == "test") return test;
  fail("unknown split '{}': known splits are train, val, test", name);
}

}  // namespace tide::data
