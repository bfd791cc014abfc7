// The op table: every primitive the tape records, in one X-macro list. It generates the Op enum,
// the op names and the op count, the public functions of the ops with a common signature (on
// Tensor, Var and Jet: op_surface.hpp), and the Taylor fast path of linear ops; the backward rules
// (autodiff/), the Taylor rules (taylor/), the backends and the all-ops test harness are all keyed
// by it, and a missing entry anywhere is a compile error (switch without default, -Werror=switch)
// or a failing coverage test. docs/design.md ("Recipe: a new op") lists the files a new op touches.
//
// The table is split by signature; TIDE_OP_TABLE is all of them, in this order.
//   TIDE_UNARY_OPS        name(x)                     generated on Tensor, Var and Jet
//   TIDE_UNARY_PARAM_OPS  unary with scalar parameters; hand-written (own public names, defaults)
//   TIDE_BINARY_OPS       name(a, b), broadcasting    generated
//   TIDE_COMPARE_OPS      name(a, b), 0/1 masks       generated
//   TIDE_REDUCE_OPS       name(x, axes, keepdim)      generated
//   TIDE_OTHER_OPS, TIDE_SHAPE_OPS: each its own arguments; hand-written
//
// Columns: X(name, kind, saves, linear)
//   kind  : unary (elementwise, one input, up to two scalar parameters), binary (elementwise with
//           broadcasting), compare (binary, result is a 0/1 mask, no gradient), reduce (over an
//           axis set), shape (views and data movement), other.
//   saves : which values the backward rule reads (in0 | in1 | in2 | out). Saved values are
//           version-checked: modifying one in place before backward is reported.
//   linear: true when the op is linear in its floating inputs (no constant term), so every Taylor
//           coefficient maps through the op itself: Taylor mode applies it once to the whole
//           coefficient stack and it needs no rule in taylor/src/rules.hpp.
#pragma once
#include <array>
#include <cstdint>
#include <string_view>

namespace tide {

namespace saves {
inline constexpr std::uint8_t none = 0, in0 = 1, in1 = 2, in2 = 4, out = 8;
}

// clang-format off
#define TIDE_UNARY_OPS(X)                                  \
  X(neg,          unary,   saves::none, true)              \
  X(abs,          unary,   saves::in0,  false)             \
  X(sign,         unary,   saves::none, false)             \
  X(exp,          unary,   saves::out,  false)             \
  X(expm1,        unary,   saves::out,  false)             \
  X(log,          unary,   saves::in0,  false)             \
  X(log1p,        unary,   saves::in0,  false)             \
  X(sqrt,         unary,   saves::out,  false)             \
  X(rsqrt,        unary,   saves::out,  false)             \
  X(square,       unary,   saves::in0,  false)             \
  X(reciprocal,   unary,   saves::out,  false)             \
  X(tanh,         unary,   saves::out,  false)             \
  X(sigmoid,      unary,   saves::out,  false)             \
  X(softplus,     unary,   saves::in0,  false)             \
  X(relu,         unary,   saves::in0,  false)             \
  X(silu,         unary,   saves::in0,  false)             \
  X(gelu,         unary,   saves::in0,  false) /* erf form */ \
  X(erf,          unary,   saves::in0,  false)             \
  X(sin,          unary,   saves::in0,  false)             \
  X(cos,          unary,   saves::in0,  false)

// add_scalar is affine, not linear: its constant belongs to coefficient 0 only.
#define TIDE_UNARY_PARAM_OPS(X)                            \
  X(leaky_relu,   unary,   saves::in0,  false) /* p0: slope  */ \
  X(elu,          unary,   saves::in0,  false) /* p0: alpha  */ \
  X(pow_scalar,   unary,   saves::in0,  false) /* p0: power  */ \
  X(add_scalar,   unary,   saves::none, false) /* p0         */ \
  X(mul_scalar,   unary,   saves::none, true)  /* p0         */ \
  X(clamp,        unary,   saves::in0,  false) /* p0, p1     */

#define TIDE_BINARY_OPS(X)                                 \
  X(add,          binary,  saves::none, true)              \
  X(sub,          binary,  saves::none, true)              \
  X(mul,          binary,  saves::in0 | saves::in1, false) \
  X(div,          binary,  saves::in0 | saves::in1, false) \
  X(maximum,      binary,  saves::in0 | saves::in1, false) \
  X(minimum,      binary,  saves::in0 | saves::in1, false)

// Comparisons: 0/1 masks in the operands' dtype.
#define TIDE_COMPARE_OPS(X)                                \
  X(eq,           compare, saves::none, false)             \
  X(ne,           compare, saves::none, false)             \
  X(lt,           compare, saves::none, false)             \
  X(le,           compare, saves::none, false)             \
  X(gt,           compare, saves::none, false)             \
  X(ge,           compare, saves::none, false)

// Reductions over an axis set.
#define TIDE_REDUCE_OPS(X)                                 \
  X(sum,          reduce,  saves::none, true)              \
  X(max,          reduce,  saves::in0 | saves::out, false) \
  X(min,          reduce,  saves::in0 | saves::out, false)

// where(cond, a, b); a[..., M, K] @ b[..., K, N]; cast to a dtype.
#define TIDE_OTHER_OPS(X)                                  \
  X(where,        other,   saves::in0,  false)             \
  X(matmul,       other,   saves::in0 | saves::in1, false) \
  X(cast,         other,   saves::none, true)

// Shape and data movement. The index ops take the i64 index as input 1.
#define TIDE_SHAPE_OPS(X)                                  \
  X(reshape,      shape,   saves::none, true)              \
  X(permute,      shape,   saves::none, true)              \
  X(slice,        shape,   saves::none, true)              \
  X(slice_scatter,shape,   saves::none, true) /* adjoint of slice */        \
  X(broadcast_to, shape,   saves::none, true)              \
  X(concat,       shape,   saves::none, true)              \
  X(index_select, shape,   saves::in1,  true)              \
  X(index_add,    shape,   saves::in1,  true) /* adjoint of index_select */ \
  X(gather,       shape,   saves::in1,  true)              \
  X(scatter_add,  shape,   saves::in1,  true) /* adjoint of gather */

#define TIDE_OP_TABLE(X)                                   \
  TIDE_UNARY_OPS(X) TIDE_UNARY_PARAM_OPS(X) TIDE_BINARY_OPS(X) TIDE_COMPARE_OPS(X) \
  TIDE_REDUCE_OPS(X) TIDE_OTHER_OPS(X) TIDE_SHAPE_OPS(X)
// clang-format on

// `case Op::name:` for every row it is applied to. A kernel switch that serves one kind lists the
// other kinds with it instead of a default, so -Werror=switch still flags an op of its own kind
// that has no case:  TIDE_BINARY_OPS(TIDE_OP_CASE) ... return;
#define TIDE_OP_CASE(name, ...) case Op::name:
// `case Op::name:` for the linear ops only (the linear column): TIDE_OP_TABLE(TIDE_LINEAR_OP_CASE).
#define TIDE_LINEAR_OP_CASE(name, kind, saves, linear) TIDE_LINEAR_OP_CASE_##linear(name)
#define TIDE_LINEAR_OP_CASE_true(name) case Op::name:
#define TIDE_LINEAR_OP_CASE_false(name)
// The ops no elementwise kernel serves.
#define TIDE_NON_ELEMENTWISE_OPS(X) TIDE_REDUCE_OPS(X) TIDE_OTHER_OPS(X) TIDE_SHAPE_OPS(X)

enum class OpKind : std::uint8_t { unary, binary, compare, reduce, shape, other };

enum class Op : std::uint16_t {
#define TIDE_X(name, kind, sv, lin) name,
  TIDE_OP_TABLE(TIDE_X)
#undef TIDE_X
};

inline constexpr int op_count = 0
#define TIDE_X(name, kind, sv, lin) +1
    TIDE_OP_TABLE(TIDE_X)
#undef TIDE_X
    ;

struct OpInfo {
  std::string_view name;
  OpKind kind;
  std::uint8_t saves;
  bool linear;
};

inline constexpr std::array<OpInfo, op_count> op_infos = {{
#define TIDE_X(name, kind, sv, lin) OpInfo{#name, OpKind::kind, sv, lin},
    TIDE_OP_TABLE(TIDE_X)
#undef TIDE_X
}};

constexpr const OpInfo& op_info(Op op) { return op_infos[static_cast<int>(op)]; }
constexpr std::string_view op_name(Op op) { return op_info(op).name; }

// Where a saved value sits among an op's saved values: input i (0..2), or the output as i = 3.
inline constexpr int max_saved_values = 2;
constexpr int saved_index(Op op, int i) {
  const unsigned below = op_info(op).saves & ((1u << i) - 1u);
  return static_cast<int>(((below >> 0) & 1u) + ((below >> 1) & 1u) + ((below >> 2) & 1u));
}
constexpr bool saves_fit() {
  for (const OpInfo& info : op_infos)
    if (((info.saves & 1) + ((info.saves >> 1) & 1) + ((info.saves >> 2) & 1) + ((info.saves >> 3) & 1)) > max_saved_values)
      return false;
  return true;
}
static_assert(saves_fit(), "an op saves more values than a tape node holds (max_saved_values)");

}  // namespace tide
