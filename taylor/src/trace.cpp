#include "trace.hpp"
#include "jet_access.hpp"

namespace tide {

using detail::JetAccess;
using taylor_detail::next_coefficient;

namespace {
thread_local TaylorTrace* active_trace = nullptr;
}

TaylorTrace* TaylorTrace::active() { return active_trace; }
TaylorTrace::Recording::Recording(TaylorTrace& trace) : previous_(active_trace) { active_trace = &trace; }
TaylorTrace::Recording::~Recording() { active_trace = previous_; }

Jet TaylorTrace::input(const Var& primal) {
  Node n;
  n.is_input = true;
  n.state.y.push_back(primal);
  nodes_.push_back(std::move(n));
  return JetAccess::traced(this, static_cast<int>(nodes_.size()) - 1, primal);
}

Jet TaylorTrace::polynomial(std::vector<Var> coefficients) {
  if (coefficients.empty()) fail("internal: TaylorTrace::polynomial needs coefficient 0");
  Node n;
  n.is_input = true;
  n.complete = true;
  n.state.y = std::move(coefficients);
  const Var primal = n.state.y[0];
  nodes_.push_back(std::move(n));
  return JetAccess::traced(this, static_cast<int>(nodes_.size()) - 1, primal);
}

void TaylorTrace::append(const Jet& input, Var coefficient) {
  Node& n = nodes_.at(static_cast<std::size_t>(slot_of(input)));
  if (!n.is_input || n.complete) fail("internal: TaylorTrace::append on a value that is not a growing input");
  n.state.y.push_back(std::move(coefficient));
}

int TaylorTrace::slot_of(const Jet& v) const {
  if (JetAccess::trace_slot(v) < 0) return -1;
  if (JetAccess::trace(v) != this)
    fail("Taylor trace: a value recorded on another trace (or after its recording ended) was used");
  return JetAccess::trace_slot(v);
}

Jet TaylorTrace::record(const OpCall& op, const std::vector<Jet>& inputs) {
  Node n;
  n.op = op;
  for (const Jet& x : inputs) {
    const int slot = slot_of(x);
    if (slot < 0 && x.levels() > 0)
      fail("{}: nested Jets (jvp inside the dynamics) cannot be mixed into the incremental Taylor trace; "
           "use TaylorForm::rerun", op_name(op.op));
    n.in.push_back(slot);
    n.constants.push_back(slot < 0 ? std::vector<Var>{x.data()} : std::vector<Var>{});
  }
  next_coefficient(n.op, 0, refs(n), n.state);
  const Var primal = n.state.y[0];
  nodes_.push_back(std::move(n));
  return JetAccess::traced(this, static_cast<int>(nodes_.size()) - 1, primal);
}

std::vector<SeriesRef<Var>> TaylorTrace::refs(const Node& n) const {
  std::vector<SeriesRef<Var>> r;
  r.reserve(n.in.size());
  for (std::size_t i = 0; i < n.in.size(); ++i) {
    if (n.in[i] < 0) {
      r.push_back({&n.constants[i], true});
    } else {
      const Node& src = nodes_[static_cast<std::size_t>(n.in[i])];
      r.push_back({&src.state.y, src.complete});
    }
  }
  return r;
}

void TaylorTrace::compute(int k) {
  for (Node& n : nodes_) {
    if (n.is_input || static_cast<int>(n.state.y.size()) > k) continue;
    next_coefficient(n.op, k, refs(n), n.state);
  }
}

Var TaylorTrace::coefficient(const Jet& value, int k) const {
  const int slot = slot_of(value);
  if (slot < 0) return k == 0 ? value.primal() : Var();
  const Node& n = nodes_[static_cast<std::size_t>(slot)];
  return SeriesRef<Var>{&n.state.y, n.complete}.at(k) ? n.state.y[static_cast<std::size_t>(k)] : Var();
}

}  // namespace tide
