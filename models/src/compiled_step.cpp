// CompiledStep (cell.hpp): a cell's step traced into compiled plans, eager where it cannot be.
#include "tide/models/cell.hpp"

namespace tide::models {

CompiledStep::CompiledStep(CellPtr cell, bool enabled)
    : cell_(std::move(cell)), enabled_(enabled), nfe_(std::make_shared<std::int64_t>(0)) {
  if (!cell_) fail("CompiledStep: no cell given");
  // Owns what it uses: the cell and the counter outlive any copy of this object.
  fn_ = compile([cell = cell_, nfe = nfe_](const std::vector<Var>& in) {
    OdeRegulariser counter{OdeRegularisation{}};
    const Var next = cell->step(in[0], in[1], in[2], &counter);
    *nfe = counter.nfe();  // fixed steps: the same for every call of the trace
    return next;
  });
}

bool CompiledStep::compiles(const OdeRegulariser* regulariser) const {
  if (!enabled_ || !untraceable_.empty() || (regulariser && regulariser->weights().any())) return false;
  const OdeSpec* spec = cell_->ode();
  return !spec || explicit_steps(*spec);
}

Var CompiledStep::operator()(const Var& x, const Var& state, const Var& dt, OdeRegulariser* regulariser) const {
  if (!compiles(regulariser)) return cell_->step(x, state, dt, regulariser);
  cell_->check_step(x, state, dt);  // the eager step's shape errors, before a trace would meet them
  Var next;
  try {
    next = fn_({x, state, dt});
  } catch (const std::exception& e) {
    // A step that cannot be traced (a custom function reading values, drawing noise) runs eagerly
    // from now on; an error of the step itself comes back from the eager run.
    next = cell_->step(x, state, dt, regulariser);
    untraceable_ = e.what();
    return next;
  }
  if (regulariser) regulariser->count(*nfe_);
  return next;
}

}  // namespace tide::models
