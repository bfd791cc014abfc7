// The solver layer: tableaus, options and solve().
#pragma once
#include "tide/solvers/compile_dynamics.hpp"
#include "tide/solvers/dynamics.hpp"
#include "tide/solvers/options.hpp"
#include "tide/solvers/solve.hpp"
#include "tide/solvers/step.hpp"
#include "tide/solvers/tableau.hpp"
