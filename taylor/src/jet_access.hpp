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
};

}  // namespace tide::detail
