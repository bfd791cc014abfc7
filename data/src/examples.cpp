#include "tide/data/examples.hpp"
#include "tide/core/error.hpp"
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
