// The all-ops harness: one or more cases per op of the op table, each checked in f64 against
// central finite differences for the gradient and for the second derivative (grad of grad via
// create_graph). Later layers add columns (Taylor rules, CUDA vs CPU) over the same cases.
#pragma once
#include "tide/tide.hpp"
#include <functional>
#include <string>
#include <vector>

namespace tide::testing {

// A case's function, written once as a generic lambda and kept for Vars (gradients) and Jets
// (Taylor rules).
struct CaseFn {
  std::function<Var(const std::vector<Var>&)> var;
  std::function<Jet(const std::vector<Jet>&)> jet;
  CaseFn() = default;
  template <class F> CaseFn(F f) : var(f), jet(f) {}
  Var operator()(const std::vector<Var>& x) const { return var(x); }
  Jet operator()(const std::vector<Jet>& x) const { return jet(x); }
};

struct OpCase {
  Op op;
  std::string label;                                   // what the case exercises
  std::function<std::vector<Tensor>(Generator&)> inputs;  // f64 inputs
  std::vector<bool> differentiable;                    // per input; empty = all
  CaseFn fn;
  bool has_gradient = true;   // false: the op passes no gradient (comparisons, sign)
  double step = 1e-6;         // finite-difference step
  double tolerance = 1e-6;    // relative to max(1, |reference|)
};

// Every op of the op table has at least one case here.
const std::vector<OpCase>& op_cases();
// Composite functions (built from primitives) checked the same way.
const std::vector<OpCase>& composite_cases();

// Input makers.
Tensor any(Generator& g, const Shape& s, double lo = -2.0, double hi = 2.0);
Tensor positive(Generator& g, const Shape& s, double lo = 0.3, double hi = 2.0);
// Magnitudes in [lo, hi] with random sign: keeps inputs away from kinks at 0.
Tensor away_from_zero(Generator& g, const Shape& s, double lo = 0.2, double hi = 2.0);

}  // namespace tide::testing
