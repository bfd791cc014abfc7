// What the models that integrate a state through one solve per block share (the CNF and the ODE
// image classifier): the solver options of a CnfSolve, the noise seeds, and the regularisers'
// integrands and metrics (K, B, R_K as TayNODE's tables list them).
#pragma once
#include "tide/models/cnf.hpp"

namespace tide::models::detail {

// The solve's options for one block; `trace` off for sampling and for models without a density.
SolveOptions solve_options(const CnfSolve& how, Regularisers reg, bool trace, std::uint64_t seed);
// A seed for one solve's noise from the caller's generator (advanced, so the next solve differs).
std::uint64_t next_seed(Generator* gen);
// The integrands a pass computes: the weighted ones in training, K, B and R_2 when an evaluation
// reports them.
Regularisers regularisers_for(bool train, bool report, const Training& t);
// The regularisers' values per example (K, B, R_K) as metrics, and in training their weighted
// means added to the loss.
void add_regularisers(BatchLoss& out, const FlowPass& p, const Regularisers& reg, const Training* weights, double n);
double mean_of(const Var& per_sample);
// STEER: T' ~ U(T - b, T + b) drawn with `gen` (b capped at 0.99 T so time keeps its direction);
// T itself when steer = 0. T is [1].
Var steered_end_time(const Var& T, double steer, Generator* gen);

}  // namespace tide::models::detail
