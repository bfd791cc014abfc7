// `tide bench solvers`: what a neural-ODE user pays for solve(). Time per dynamics call of an
// adaptive solve (forward, and with a discrete gradient), one RK4 step of a mid-size MLP and its
// gradient, one training iteration of torchdiffeq's spiral demo, and how the adjoint's memory grows.
#pragma once
#include "peers.hpp"

namespace tide::cli {

struct BenchSolversOptions {
  bool json = false;  // one JSON object on stdout instead of the text table
  int repeats = 5;    // samples per timed figure; the median is reported
  PeerOptions peers;  // enabled: the workloads against PyTorch + torchdiffeq and JAX + diffrax instead
};

// Runs the benchmark and prints its report on stdout. Returns the process exit code.
int run_bench_solvers(const BenchSolversOptions& options);
// The --peers form (bench_solver_peers.cpp).
int run_bench_solver_peers(const BenchSolversOptions& options);

}  // namespace tide::cli
