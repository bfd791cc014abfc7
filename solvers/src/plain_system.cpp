// The system a plain solve integrates: the user's dynamics, with their output checked against the
// state (integrate.hpp).
#include "integrate.hpp"
#include "tide/solvers/compile_dynamics.hpp"

namespace tide::detail {

void check_dynamics_output(const Var& out, const Var& z, std::int64_t width) {
  if (!out.defined() || out.rank() != 2 || out.size(0) != z.size(0) || out.size(1) != width * z.size(1))
    fail("solve: the dynamics returned {} for a state of shape {} (expected [{}, {}])", out.defined() ? out.shape().str() : "nothing",
         z.shape().str(), z.size(0), width * z.size(1));
  if (out.dtype() != z.dtype() || out.device() != z.device())
    fail("solve: the dynamics returned {} on {} for a {} state on {}; return the state's dtype and device", out.value().str(),
         out.device().str(), dtype_name(z.dtype()), z.device().str());
}

Var PlainSystem::eval(const Var& z, const Var& t, const Rows& rows) {
  Var out = f_(z, t, rows);
  check_dynamics_output(out, z, width_);
  return out;
}

Dynamics PlainSystem::compiled_step(const std::string& key, const std::function<Dynamics(const Dynamics&)>& make) {
  if (width_ != 1 || !is_compiled(f_)) return {};
  return compiled_variant(f_, key, make);
}

}  // namespace tide::detail
