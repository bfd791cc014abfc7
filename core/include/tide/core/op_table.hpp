// The op table: every primitive the tape records, in one X-macro list. It generates the Op enum,
// the op names and the op count; the backward rules (autodiff/), the backends and the all-ops test
// harness are all keyed by it, and a missing entry anywhere is a compile error (switch without
// default, -Werror=switch) or a failing coverage test.
//
// Columns: X(name, kind, saves)
//   kind  : unary (elementwise, one input, up to two scalar parameters), binary (elementwise with
//           broadcasting), compare (binary, result is a 0/1 mask, no gradient), reduce (over an
//           axis set), shape (views and data movement), other.
//   saves : which values the backward rule reads (in0 | in1 | in2 | out). Saved values are
//           version-checked: modifying one in place before backward is reported.
#pragma once
#include <array>
#include <cstdint>
#include <string_view>

namespace tide {

namespace saves {
inline constexpr std::uint8_t none = 0, in0 = 1, in1 = 2, in2 = 4, out = 8;
}

// clang-format off
#define TIDE_OP_TABLE(X)                                   \
  /* elementwise unary */                                  \
  X(neg,          unary,   saves::none)                    \
  X(abs,          unary,   saves::in0)                     \
  X(sign,         unary,   saves::none)                    \
  X(exp,          unary,   saves::out)                     \
  X(expm1,        unary,   saves::out)                     \
  X(log,          unary,   saves::in0)                     \
  X(log1p,        unary,   saves::in0)                     \
  X(sqrt,         unary,   saves::out)                     \
  X(rsqrt,        unary,   saves::out)                     \
  X(square,       unary,   saves::in0)                     \
  X(reciprocal,   unary,   saves::out)                     \
  X(tanh,         unary,   saves::out)                     \
  X(sigmoid,      unary,   saves::out)                     \
  X(softplus,     unary,   saves::in0)                     \
  X(relu,         unary,   saves::in0)                     \
  X(leaky_relu,   unary,   saves::in0)  /* p0: slope  */   \
  X(elu,          unary,   saves::in0)  /* p0: alpha  */   \
  X(silu,         unary,   saves::in0)                     \
  X(gelu,         unary,   saves::in0)  /* erf form   */   \
  X(erf,          unary,   saves::in0)                     \
  X(sin,          unary,   saves::in0)                     \
  X(cos,          unary,   saves::in0)                     \
  X(pow_scalar,   unary,   saves::in0)  /* p0: power  */   \
  X(add_scalar,   unary,   saves::none) /* p0         */   \
  X(mul_scalar,   unary,   saves::none) /* p0         */   \
  X(clamp,        unary,   saves::in0)  /* p0, p1     */   \
  /* elementwise binary with broadcasting */               \
  X(add,          binary,  saves::none)                    \
  X(sub,          binary,  saves::none)                    \
  X(mul,          binary,  saves::in0 | saves::in1)        \
  X(div,          binary,  saves::in0 | saves::in1)        \
  X(maximum,      binary,  saves::in0 | saves::in1)        \
  X(minimum,      binary,  saves::in0 | saves::in1)        \
  /* comparisons: 0/1 masks in the operands' dtype */      \
  X(eq,           compare, saves::none)                    \
  X(ne,           compare, saves::none)                    \
  X(lt,           compare, saves::none)                    \
  X(le,           compare, saves::none)                    \
  X(gt,           compare, saves::none)                    \
  X(ge,           compare, saves::none)                    \
  /* selection: where(cond, a, b) */                       \
  X(where,        other,   saves::in0)                     \
  /* reductions over an axis set */                        \
  X(sum,          reduce,  saves::none)                    \
  X(max,          reduce,  saves::in0 | saves::out)        \
  X(min,          reduce,  saves::in0 | saves::out)        \
  /* linear algebra */                                     \
  X(matmul,       other,   saves::in0 | saves::in1)        \
  /* shape and data movement */                            \
  X(reshape,      shape,   saves::none)                    \
  X(permute,      shape,   saves::none)                    \
  X(slice,        shape,   saves::none)                    \
  X(slice_scatter,shape,   saves::none) /* adjoint of slice */        \
  X(broadcast_to, shape,   saves::none)                    \
  X(concat,       shape,   saves::none)                    \
  X(index_select, shape,   saves::in1)  /* in1: the i64 index */  \
  X(index_add,    shape,   saves::in1)  /* adjoint of index_select */ \
  X(gather,       shape,   saves::in1)  /* in1: the i64 index */  \
  X(scatter_add,  shape,   saves::in1)  /* adjoint of gather */   \
  X(cast,         other,   saves::none)
// clang-format on

enum class OpKind : std::uint8_t { unary, binary, compare, reduce, shape, other };

enum class Op : std::uint16_t {
#define TIDE_X(name, kind, sv) name,
  TIDE_OP_TABLE(TIDE_X)
#undef TIDE_X
};

inline constexpr int op_count = 0
#define TIDE_X(name, kind, sv) +1
    TIDE_OP_TABLE(TIDE_X)
#undef TIDE_X
    ;

struct OpInfo {
  std::string_view name;
  OpKind kind;
  std::uint8_t saves;
};

inline constexpr std::array<OpInfo, op_count> op_infos = {{
#define TIDE_X(name, kind, sv) OpInfo{#name, OpKind::kind, sv},
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
