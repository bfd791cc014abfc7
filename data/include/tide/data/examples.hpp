// Examples: one split of a dataset, whatever its form (padded sequences, vectors, images), as the
// generic trainer sees it: a size, subsets by index for batches, and slices for evaluation. Each
// model family reads its own concrete form (SequenceExamples here; vectors and images next).
#pragma once
#include "tide/data/sequence_set.hpp"
#include <memory>

namespace tide::data {

class Examples {
public:
  virtual ~Examples() = default;
  virtual std::int64_t size() const = 0;
  // The examples at `index`, in that order.
  virtual std::shared_ptr<const Examples> subset(const std::vector<std::int64_t>& index) const = 0;
  // Examples begin..end-1.
  virtual std::shared_ptr<const Examples> slice(std::int64_t begin, std::int64_t end) const;
  // Classification: how many labelled predictions each class has (the valid steps of per-step
  // labels; sequences, images or series otherwise), for class weights. Empty without class labels.
  virtual std::vector<double> class_counts() const { return {}; }
};

// Counts of class ids 0..classes-1 among `labels` where `mask` (when given) is nonzero.
std::vector<double> count_classes(const Tensor& labels, std::int64_t classes, const Tensor& mask = {});
using ExamplesPtr = std::shared_ptr<const Examples>;

// Padded, irregularly sampled sequences (sequence_set.hpp).
class SequenceExamples final : public Examples {
public:
  explicit SequenceExamples(SequenceSet set) : set_(std::move(set)) {}
  std::int64_t size() const override { return set_.size(); }
  ExamplesPtr subset(const std::vector<std::int64_t>& index) const override;
  ExamplesPtr slice(std::int64_t begin, std::int64_t end) const override;
  std::vector<double> class_counts() const override;
  const SequenceSet& set() const { return set_; }

private:
  SequenceSet set_;
};

// The sequences of `examples`; throws naming `what` when they are of another form.
const SequenceSet& sequences_of(const Examples& examples, const std::string& what);

// A dataset's three splits and a one-line description (dataset, sizes, steps, features).
struct Dataset {
  ExamplesPtr train, val, test;
  std::string description;
  std::vector<std::string> class_names;  // classification from labelled files: the label of each class id
  std::vector<std::string> target_names;  // csv data: the target columns' names (regression: one per output)
  // false for a file predicted without its targets (load_dataset_with_test_file): the test split's
  // y is then a placeholder (class 0, or 0.0), not to be scored or shown
  bool test_has_targets = true;
  const ExamplesPtr& split(const std::string& name) const;  // "train", "val" or "test"
};

}  // namespace tide::data
