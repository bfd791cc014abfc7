#include "data_test_util.hpp"
#include "tide/data/sequence_set.hpp"
#include <algorithm>
#include <cmath>
#include <limits>

using namespace tide;
using namespace tide::data;

namespace {

// Three sequences of up to 3 steps, 2 features, per-sequence labels; sequence 1 has 2 valid steps.
SequenceSet small_set() {
  SequenceSet s;
  s.name = "small";
  s.classes = 3;
  s.x = Tensor::from_vector({1, 10, 2, 20, 3, 30,  4, 40, 5, 50, 0, 0,  6, 60, 7, 70, 8, 80}, Shape{3, 3, 2});
  s.dt = Tensor::from_vector({1, 1, 1, 1, 2, 0, 1, 1, 1}, Shape{3, 3});
  s.mask = Tensor::from_vector({1, 1, 1, 1, 1, 0, 1, 1, 1}, Shape{3, 3});
  s.y = Tensor::from_indices({0, 2, 1}, Shape{3});
  return s;
}

}  // namespace

TEST_CASE("validate accepts a consistent set and names the set on each kind of inconsistency") {
  small_set().validate();
  SequenceSet s = small_set();
  s.mask = Tensor::from_vector({1, 1, 1, 1, 0, 1, 1, 1, 1}, Shape{3, 3});
  CHECK_ERROR_NAMES(s.validate(), "'small': sequence 1 has a valid step 2 after padding");
  s = small_set();
  s.mask = Tensor::from_vector({1, 1, 1, 1, 0.5, 0, 1, 1, 1}, Shape{3, 3});
  CHECK_ERROR_NAMES(s.validate(), "mask[1, 1] = 0.5");
  s = small_set();
  s.dt = Tensor::from_vector({1, 1, 1, 1, -1, 0, 1, 1, 1}, Shape{3, 3});
  CHECK_ERROR_NAMES(s.validate(), "dt[1, 1] = -1");
  s = small_set();
  s.x = Tensor::from_vector({1, 10, 2, 20, 3, 30, 4, 40, 5, std::nan(""), 0, 0, 6, 60, 7, 70, 8, 80}, Shape{3, 3, 2});
  CHECK_ERROR_NAMES(s.validate(), "x holds nan at flat index 9");
  s = small_set();
  s.y = Tensor::from_indices({0, 3, 1}, Shape{3});
  CHECK_ERROR_NAMES(s.validate(), "label 3 of sequence 1");
  s = small_set();
  s.y = Tensor::from_indices({0, 2}, Shape{2});
  CHECK_ERROR_NAMES(s.validate(), "classification y must be i64[3]");
  s = small_set();
  s.dt = Tensor::zeros(Shape{3, 2});
  CHECK_ERROR_NAMES(s.validate(), "dt must be [3, 3]");
  s = small_set();
  s.mask = Tensor::from_vector({1, 1, 1, 0, 0, 0, 1, 1, 1}, Shape{3, 3});
  CHECK_ERROR_NAMES(s.validate(), "sequence 1 has no valid step");
  s = small_set();
  s.task = Task::regression;
  s.y = Tensor::from_vector({1, 2, std::numeric_limits<double>::infinity()}, Shape{3, 1});
  CHECK_ERROR_NAMES(s.validate(), "y holds inf");
}

TEST_CASE("subset and slice copy the chosen sequences in order") {
  const SequenceSet s = small_set();
  const SequenceSet t = s.subset({2, 0});
  t.validate();
  CHECK(t.size() == 2);
  CHECK(t.x.to_vector() == std::vector<double>{6, 60, 7, 70, 8, 80, 1, 10, 2, 20, 3, 30});
  CHECK(t.y.to_indices() == std::vector<std::int64_t>{1, 0});
  CHECK_FALSE(t.x.shares_storage_with(s.x));
  const SequenceSet u = s.slice(1, 3);
  CHECK(u.mask.to_vector() == std::vector<double>{1, 1, 0, 1, 1, 1});
  CHECK(u.dt.to_vector() == std::vector<double>{1, 2, 0, 1, 1, 1});
  CHECK(s.slice(1, 1).size() == 0);
  CHECK_ERROR_NAMES(s.subset({3}), "subset index 3 outside [0, 3)");
  CHECK_ERROR_NAMES(s.slice(2, 4), "slice [2, 4)");
  CHECK(s.outputs() == 3);
}

TEST_CASE("permutation is a seeded permutation, the same for the same seed") {
  const auto p = permutation(1000, 7);
  auto sorted = p;
  std::sort(sorted.begin(), sorted.end());
  for (std::int64_t i = 0; i < 1000; ++i) CHECK(sorted[static_cast<std::size_t>(i)] == i);
  CHECK(permutation(1000, 7) == p);
  CHECK(permutation(1000, 8) != p);
  std::int64_t fixed = 0;
  for (std::int64_t i = 0; i < 1000; ++i) fixed += p[static_cast<std::size_t>(i)] == i;
  CHECK(fixed < 10);  // a random permutation has about one fixed point
}

TEST_CASE("split takes val, then test, then train from the permutation") {
  SequenceSet all;
  all.name = "ids";
  all.classes = 100;
  std::vector<double> x(100);
  std::vector<std::int64_t> y(100);
  for (int i = 0; i < 100; ++i) x[static_cast<std::size_t>(i)] = i, y[static_cast<std::size_t>(i)] = i;
  all.x = Tensor::from_vector(x, Shape{100, 1, 1});
  all.dt = Tensor::ones(Shape{100, 1});
  all.mask = Tensor::ones(Shape{100, 1});
  all.y = Tensor::from_indices(y, Shape{100});
  const Split s = split(all, 0.1, 0.15, 3);
  CHECK(s.val.size() == 10);
  CHECK(s.test.size() == 15);
  CHECK(s.train.size() == 75);
  CHECK(s.train.name == "ids/train");
  const auto p = permutation(100, 3);
  CHECK(s.val.y.to_indices() == std::vector<std::int64_t>(p.begin(), p.begin() + 10));
  CHECK(s.test.y.to_indices() == std::vector<std::int64_t>(p.begin() + 10, p.begin() + 25));
  CHECK(s.train.y.to_indices() == std::vector<std::int64_t>(p.begin() + 25, p.end()));
  CHECK_ERROR_NAMES(split(all, 0.6, 0.6, 0), "split of 'ids'");
  // 0.29 * 100 and 0.57 * 100 are 28.999... and 56.999... in doubles: 29 and 57 rows are meant
  const Split odd = split(all, 0.29, 0.57, 3);
  CHECK(odd.val.size() == 29);
  CHECK(odd.test.size() == 57);
  CHECK(odd.train.size() == 14);
  CHECK(part_rows(0.7, 100) == 70);
  CHECK(part_rows(0.15, 7) == 1);
  CHECK(part_rows(0.0, 100) == 0);
}

TEST_CASE("Standardizer uses valid steps only and leaves padding at 0") {
  SequenceSet s = small_set();
  // feature 0 over the 8 valid steps: 1 2 3 4 5 6 7 8 -> mean 4.5, population variance 5.25
  const Standardizer st = Standardizer::fit(s);
  CHECK(st.mean[0] == doctest::Approx(4.5));
  CHECK(st.std[0] == doctest::Approx(std::sqrt(5.25)));
  CHECK(st.mean[1] == doctest::Approx(45.0));
  CHECK(st.std[1] == doctest::Approx(10 * std::sqrt(5.25)));
  st.apply(s);
  const auto x = s.x.to_vector();
  CHECK(x[0] == doctest::Approx((1 - 4.5) / std::sqrt(5.25)));
  CHECK(x[10] == 0.0);  // padding
  CHECK(x[11] == 0.0);
  SequenceSet constant = small_set();
  constant.x.fill_(2.0);
  CHECK(Standardizer::fit(constant).std[0] == 1.0);
  // f64 copies of 0.1: their mean rounds, so their std is ~1e-17, not 0; still a constant feature
  constant.x = Tensor::full(constant.x.shape(), 0.1, DType::f64);
  CHECK(Standardizer::fit(constant).std[0] == 1.0);
  CHECK(Standardizer::fit(constant).std[1] == 1.0);
  Split parts{small_set(), small_set().slice(0, 1), small_set().slice(2, 3)};
  const Standardizer fitted = standardise(parts);
  CHECK(fitted.mean[0] == doctest::Approx(4.5));
  CHECK(parts.test.x.to_vector()[0] == doctest::Approx((6 - 4.5) / std::sqrt(5.25)));
}
