// `tide bench taylor`: the Taylor-mode cost study. For a tanh MLP dynamics z' = f(z, t) it times
// d^K z/dt^K by the incremental Taylor form, the re-run form and nested jvps, each as a multiple
// of one evaluation of f, for K = 1..kmax, with the three results' largest disagreement.
#pragma once
#include "peers.hpp"
#include <string>
#include <vector>

namespace tide::cli {

struct TaylorSize {
  std::string name;
  int d = 64, h = 64, layers = 2, batch = 256;
};

struct BenchTaylorOptions {
  bool json = false;
  int repeats = 5;
  int kmax = 8;
  int nested_kmax = 8;                // nested jvps past this K are not timed (2^(K-1) copies)
  std::vector<TaylorSize> sizes;      // empty: the default and latent-ODE sizes
  std::string svg;                    // write the cost plot of the first size here
  PeerOptions peers;                  // enabled: the first size against JAX instead (K <= 6)
};

int run_bench_taylor(const BenchTaylorOptions& options);
// The --peers form (bench_taylor_peers.cpp).
int run_bench_taylor_peers(const BenchTaylorOptions& options);

}  // namespace tide::cli
