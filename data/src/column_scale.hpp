// The statistics that standardise a column: its mean and standard deviation, or 1 for a column
// that is constant in the rows it was fitted on. Shared by Standardiser, Standardizer and
// VariableScaler.
#pragma once
#include <cmath>
#include <cstddef>
#include <vector>

namespace tide::data::detail {

// `constant`: every fitted value was the same. The std of such a column is not always 0: n copies
// of 0.1 average to 0.1 plus a rounding step, so their std is ~1e-17 and dividing by it would blow
// a later 0.1 + 1 up to ~1e16. A column that varies keeps its std, however small next to its mean
// (seconds since 1970 that differ by milliseconds).
inline double std_or_one(double std, bool constant) { return !constant && std > 0 ? std : 1.0; }

// Each column's mean and population std (numpy's default) from its values, added in two passes:
// every value (add), then every value again (add_deviation), so the variance sums deviations
// from the mean (E[x^2] - mean^2 cancels when the mean is large). The sums are long double:
// x86-64's 80-bit extended format reaches ~1e4932, so a column of finite doubles near the
// double range (1e200 squared, 1.5e308 summed) neither overflows nor loses its spread (in
// double, 1e200s gave a std of inf and standardised to zeros, 1.5e308s a mean of inf and NaN).
class ColumnMoments {
public:
  explicit ColumnMoments(std::size_t columns)
      : sum_(columns, 0.0L), squares_(columns, 0.0L), count_(columns, 0.0), first_(columns, 0.0), constant_(columns, true) {}
  void add(std::size_t c, double v) {
    if (count_[c] == 0) first_[c] = v;
    constant_[c] = constant_[c] && v == first_[c];
    sum_[c] += v, count_[c] += 1;
  }
  void add_deviation(std::size_t c, double v) {
    const long double d = v - sum_[c] / count_[c];
    squares_[c] += d * d;
  }
  double count(std::size_t c) const { return count_[c]; }
  // (both undefined for a column without values)
  double mean(std::size_t c) const { return static_cast<double>(sum_[c] / count_[c]); }
  double std_or_one(std::size_t c) const {
    return detail::std_or_one(static_cast<double>(std::sqrt(squares_[c] / count_[c])), constant_[c]);
  }

private:
  std::vector<long double> sum_, squares_;
  std::vector<double> count_, first_;
  std::vector<bool> constant_;
};

// (v - mean) / std without the overflow of v - mean in double (values of opposite sign near the
// double range); a result beyond the double range is inf.
inline double standardised(double v, double mean, double std) {
  return static_cast<double>((static_cast<long double>(v) - mean) / std);
}

}  // namespace tide::data::detail
