// Internal to the taylor layer: the parts of a Jet only Taylor mode's own code uses, its place on
// an incremental trace (ode_taylor) and construction from already stacked data. The public header
// only names JetAccess as a friend.
#pragma once
#include "tide/taylor/jet.hpp"
#include <vector>

namespace tide::detail {

struct JetAccess {
  // Values recorded on an incremental trace carry the trace and their slot on it (-1: not traced).
  static int trace_slot(const Jet& j) { return j.slot_; }
  static const TaylorTrace* trace(const Jet& j) { return j.trace_; }
  static Jet traced(const TaylorTrace* trace, int slot, Var primal);
  // A Jet from stacked data [K_0+1, ..., ...] and its level orders (checked).
  static Jet from_data(Var data, const std::vector<int>& orders);
  // Jet::from_series for a rule's own results: a level over coefficients that already carry every
  // level they need (no lifting above the open jvp levels).
  static Jet stacked_series(const std::vector<Jet>& coefficients);
  // The level orders (outermost first) of the duals of the innermost jvp running on this thread,
  // empty when none runs. A level made while one runs (by jvp or by a Jet constructor) goes above
  // it, even when its values are constants there: the values f closes over carry the open levels,
  // and a new level that took the place of one of them would be confused with it.
  static const std::vector<int>& open_orders();
  // The deepest level orders made inside the innermost running jvp (its duals', or a Taylor level's
  // made there by a Jet constructor): a jvp called there puts its dual above them, since f may
  // close over such a level. Empty when no jvp runs.
  static const std::vector<int>& open_high_water();
  // Records a level made by a Jet constructor while a jvp runs.
  static void note_level(const std::vector<int>& orders);
};

// Throws unless `levels` nested levels over a value of shape `value` fit in one tensor (levels +
// rank <= max_rank), naming both numbers and the shape; `what` is the caller ("jvp", or with an
// order, "nested_jvp (K = {})", formatted with K only when it throws: this runs on every jvp).
void check_levels_fit(int levels, const Shape& value, const char* what, int K = 0);

// Marks a jvp's dual level open while its function runs (a stack per thread, exception safe).
class OpenLevel {
public:
  explicit OpenLevel(std::vector<int> orders);
  ~OpenLevel();
  OpenLevel(const OpenLevel&) = delete;
  OpenLevel& operator=(const OpenLevel&) = delete;
};

}  // namespace tide::detail
