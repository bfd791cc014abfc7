// The public functions of the ops with a common signature, generated from the op table once for
// each value type (Tensor in core/ops.hpp, Var in autodiff/ops.hpp, Jet in taylor/jet_ops.hpp):
//   TIDE_UNARY_OPS                       name(x)
//   TIDE_BINARY_OPS, TIDE_COMPARE_OPS    name(a, b)
//   TIDE_REDUCE_OPS                      name(x, axes = {}, keepdim = false)   (empty axes: all)
// The including header defines TIDE_OP_VALUE as its type, with unary(), binary(), reduce() and
// axis_set() in scope, then expands TIDE_DECLARE_GENERATED_OPS. Ops with other signatures are
// written by hand next to it.
#pragma once
#include "tide/core/op_table.hpp"
#include <cstdint>
#include <vector>

#define TIDE_DECLARE_UNARY_OP(name, ...) \
  inline TIDE_OP_VALUE name(const TIDE_OP_VALUE& x) { return unary(Op::name, x); }
#define TIDE_DECLARE_BINARY_OP(name, ...) \
  inline TIDE_OP_VALUE name(const TIDE_OP_VALUE& a, const TIDE_OP_VALUE& b) { return binary(Op::name, a, b); }
#define TIDE_DECLARE_REDUCE_OP(name, ...)                                                              \
  inline TIDE_OP_VALUE name(const TIDE_OP_VALUE& x, const std::vector<std::int64_t>& axes = {},       \
                            bool keepdim = false) {                                                    \
    return reduce(Op::name, x, axis_set(axes, x.rank(), #name), keepdim);                            \
  }

#define TIDE_DECLARE_GENERATED_OPS                                               \
  TIDE_UNARY_OPS(TIDE_DECLARE_UNARY_OP)                                          \
  TIDE_BINARY_OPS(TIDE_DECLARE_BINARY_OP) TIDE_COMPARE_OPS(TIDE_DECLARE_BINARY_OP) \
  TIDE_REDUCE_OPS(TIDE_DECLARE_REDUCE_OP)
