// One fixed step of an explicit Runge-Kutta method, as one would write it by hand: the stages and
// the update are fused linear combinations, the time is a device-side constant, and nothing is read
// back to the host. That makes it the unit to capture as a CUDA Graph (cuda.hpp) and replay: a
// fixed-step solve on the GPU is then one graph launch per step. With gradients enabled the step is
// recorded like any other composition of ops.
#pragma once
#include "tide/solvers/dynamics.hpp"
#include "tide/solvers/tableau.hpp"

namespace tide {

// y(t + h) by `method`, which must be explicit (not kvaerno3 or ltc_fused; an adaptive method takes
// its propagated solution). The dynamics see t + c_i h as a [B, 1] column on y's device.
Var explicit_step(const Dynamics& f, const Var& y, double t, double h, Method method = Method::rk4);

// The LTC fused semi-implicit Euler update z <- (z + h c) / (1 + h a) of dz/dt = -a z + c (Hasani
// et al. 2021, algorithm 1), with a including any constant part. Method::ltc_fused steps with it;
// models that unfold it themselves (models/ltc.cpp) call it too.
Var ltc_fused_update(const Var& z, const Var& a, const Var& c, const Var& h);

}  // namespace tide
