// The Taylor layer: Jets, their ops, forward mode, ODE-solution coefficients and estimators.
#pragma once
#include "tide/taylor/estimators.hpp"
#include "tide/taylor/forward.hpp"
#include "tide/taylor/jet.hpp"
#include "tide/taylor/jet_op.hpp"
#include "tide/taylor/jet_ops.hpp"
#include "tide/taylor/ode_taylor.hpp"
