// TaylorTrace: the incremental form of Taylor mode. The dynamics are run once on traced Jets,
// which records each op with its inputs and computes coefficient 0; compute(k) then raises every
// recorded op by one order, keeping all lower coefficients (and auxiliary series) it already
// holds, so K orders cost O(K^2) elementwise work and K evaluations' worth of linear algebra.
#pragma once
#include "rules.hpp"

namespace tide {

using taylor_detail::NodeState;
using taylor_detail::SeriesRef;

class TaylorTrace {
public:
  // An input whose coefficients are supplied one order at a time (the ODE state).
  Jet input(const Var& primal);
  // An input that is a known polynomial (time: t0 + 1 * t): zero past the given coefficients.
  Jet polynomial(std::vector<Var> coefficients);
  // Supplies the next coefficient of an input made by input().
  void append(const Jet& input, Var coefficient);

  Jet record(const OpCall& op, const std::vector<Jet>& inputs);
  // Coefficient k of every recorded op (inputs must already hold order k).
  void compute(int k);
  // Coefficient k of a recorded value or a constant; undefined is an exact zero.
  Var coefficient(const Jet& value, int k) const;

  static TaylorTrace* active();

  // While alive, Jet ops on this trace's values are recorded.
  class Recording {
  public:
    explicit Recording(TaylorTrace& trace);
    ~Recording();
    Recording(const Recording&) = delete;
    Recording& operator=(const Recording&) = delete;
  private:
    TaylorTrace* previous_;
  };

private:
  struct Node {
    OpCall op;
    bool is_input = false;
    bool complete = false;                   // inputs: zero past the stored coefficients
    std::vector<int> in;                     // slot of each input, -1 for a constant
    std::vector<std::vector<Var>> constants; // a constant input's series (its value alone)
    NodeState<Var> state;
  };
  int slot_of(const Jet& v) const;
  std::vector<SeriesRef<Var>> refs(const Node& n) const;
  std::vector<Node> nodes_;
};

}  // namespace tide
