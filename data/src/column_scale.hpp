// The divisor that standardises a column: its standard deviation, or 1 for a column that is
// constant in the rows it was fitted on. Shared by Standardiser, Standardizer and VariableScaler.
#pragma once
#include <cmath>

namespace tide::data::detail {

// `constant`: every fitted value was the same. The std of such a column is not always 0: n copies
// of 0.1 average to 0.1 plus a rounding step, so their std is ~1e-17 and dividing by it would blow
// a later 0.1 + 1 up to ~1e16. A std within 1e-12 of the mean's size is such rounding too (a sum
// of many copies rounds more than once), not a spread of the data.
inline double std_or_one(double std, double mean, bool constant) {
  return !constant && std > 1e-12 * std::fabs(mean) ? std : 1.0;
}

}  // namespace tide::data::detail
