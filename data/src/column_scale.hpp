// The divisor that standardises a column: its standard deviation, or 1 for a column that is
// constant in the rows it was fitted on. Shared by Standardiser, Standardizer and VariableScaler.
#pragma once
#include <cmath>

namespace tide::data::detail {

// `constant`: every fitted value was the same. The std of such a column is not always 0: n copies
// of 0.1 average to 0.1 plus a rounding step, so their std is ~1e-17 and dividing by it would blow
// a later 0.1 + 1 up to ~1e16. A column that varies keeps its std, however small next to its mean
// (seconds since 1970 that differ by milliseconds).
inline double std_or_one(double std, bool constant) { return !constant && std > 0 ? std : 1.0; }

}  // namespace tide::data::detail
