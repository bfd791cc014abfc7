// What the checkpointed (gradients.cpp) and adjoint (adjoint.cpp) gradient kinds share: both run
// the forward solve without a tape and record one custom node whose backward pass evaluates f
// again, with the parameters' values then.
#pragma once
#include "solve_internal.hpp"
#include "tide/autodiff/custom.hpp"
#include "tide/autodiff/node.hpp"
#include <cstdint>
#include <vector>

namespace tide::detail {

// [first, params...]
std::vector<Var> with_params(Var first, const std::vector<Var>& params);
// acc[i - skip] += grads[i] for i >= skip (a fresh copy where acc[i - skip] is undefined).
void accumulate(std::vector<Tensor>& acc, const std::vector<Var>& grads, std::size_t skip);
// An i64 index tensor of `v` on `device`.
Tensor indices(const std::vector<std::int64_t>& v, Device device);
// Rows `flat` (t * B + b) of g [T, B, D].
Tensor rows_of_g(const Tensor& g, const std::vector<std::int64_t>& flat);
// These backward passes keep their own tapes, so their results are first order only: a recorded
// backward (create_graph) is refused, naming the kind.
void refuse_double_backward(const char* kind);
// The parameters' versions when the solve ended, and the check that none was modified in place
// before the backward pass evaluates f with it again.
SavedVersions param_versions(const std::vector<Var>& params);
void check_param_versions(const SavedVersions& versions, const std::vector<Var>& params, const char* op);
// Each re-run of f (recorded from `since`) reads no tensor requiring grad but the parameters.
void check_reads_only_params(const std::vector<Var>& outputs, std::uint64_t since, const std::vector<Var>& params,
                             const char* kind);
// The gradients of a re-run of f recorded from `since`, its inputs taken as independent.
std::vector<Var> rerun_grad(const std::vector<Var>& outputs, const std::vector<Var>& inputs, const std::vector<Var>& cot,
                            std::uint64_t since);
// Padded outputs (mask 0) repeat the sample's last valid state: their cotangents moved to it.
Tensor fold_padding(const Tensor& g_in, const Grid& grid);

}  // namespace tide::detail
