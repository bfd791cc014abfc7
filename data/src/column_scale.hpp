// The statistics that standardise a column: its mean and standard deviation, or 1 for a column
// that is constant in the rows it was fitted on. Shared by Standardiser, Standardizer and
// VariableScaler.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

namespace tide::data::detail {

// `constant`: every fitted value was the same. The std of such a column is not always 0: n copies
// of 0.1 average to 0.1 plus a rounding step, so their std is ~1e-17 and dividing by it would blow
// a later 0.1 + 1 up to ~1e16. A column that varies keeps its std, however small next to its mean
// (seconds since 1970 that differ by milliseconds).
inline double std_or_one(double std, bool constant) { return !constant && std > 0 ? std : 1.0; }

// Each column's mean and population std (numpy's default) from its values, added in three passes
// over the same values: every value (add(0, c, v)), again (add(1, ...)), and again (add(2, ...)).
// The first finds each column's largest magnitude, whose power of 2 scales the column into
// [-1, 1] for the other two: the mean from the scaled values' sum, then the variance from their
// deviations from it (E[x^2] - mean^2 cancels when the mean is large). A power of 2 changes no
// rounding, and scaled values cannot overflow a sum: unscaled, a column of 1e200s gave a std of
// inf (standardised to zeros) and one of 1.5e308s a mean of inf (NaN).
class ColumnMoments {
public:
  static constexpr int passes = 3;
  explicit ColumnMoments(std::size_t columns)
      : largest_(columns, 0.0), scale_(columns, 1.0), sum_(columns, 0.0), squares_(columns, 0.0), count_(columns, 0.0),
        first_(columns, 0.0), constant_(columns, true) {}
  void add(int pass, std::size_t c, double v) {
    if (pass > pass_) start(pass);
    if (pass == 0) {
      if (count_[c] == 0) first_[c] = v;
      constant_[c] = constant_[c] && v == first_[c];
      largest_[c] = std::max(largest_[c], std::fabs(v));
      count_[c] += 1;
    } else if (pass == 1) {
      sum_[c] += v * scale_[c];
    } else {
      const double d = v * scale_[c] - sum_[c] / count_[c];
      squares_[c] += d * d;
    }
  }
  double count(std::size_t c) const { return count_[c]; }
  // (both undefined for a column without values)
  double mean(std::size_t c) const { return unscaled(c, sum_[c] / count_[c]); }
  double std_or_one(std::size_t c) const { return detail::std_or_one(unscaled(c, std::sqrt(squares_[c] / count_[c])), constant_[c]); }

private:
  int exponent(std::size_t c) const {
    int e = 0;
    (void)std::frexp(largest_[c], &e);  // largest = m 2^e, m in [0.5, 1) (e = 0 for 0)
    return e;
  }
  void start(int pass) {
    if (pass_ == 0)
      for (std::size_t c = 0; c < scale_.size(); ++c) scale_[c] = std::ldexp(1.0, -exponent(c));
    pass_ = pass;
  }
  double unscaled(std::size_t c, double v) const { return std::ldexp(v, exponent(c)); }

  int pass_ = 0;
  std::vector<double> largest_, scale_, sum_, squares_, count_, first_;
  std::vector<bool> constant_;
};

// (v - mean) / std without the overflow of v - mean (values of opposite signs near the double
// range): halved first then, which is exact. A result beyond the double range is inf.
inline double standardised(double v, double mean, double std) {
  const double d = v - mean;
  return std::isfinite(d) ? d / std : (v * 0.5 - mean * 0.5) / std * 2.0;
}

}  // namespace tide::data::detail
