// Elementwise kernels. Each op is one line: the loop macros below turn it into a plain loop that
// GCC auto-vectorises in each target clone (see vecmath.hpp for the vectorisable transcendentals).
#include "elementwise.hpp"
#include "clones.hpp"
#include "vecmath.hpp"
#include "../float_factor.hpp"
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>


namespace tide::cpu {
namespace {

constexpr double inv_sqrt2 = 0.70710678118654752440;

// Whether every x[i] <= hi (NaN is not): one vectorised pass, no early exit.
template <class T> __attribute__((always_inline)) inline bool all_at_most(const T* x, std::int64_t n, T hi) {
  int above = 0;
  for (std::int64_t i = 0; i < n; ++i) above |= !(x[i] <= hi);
  return above == 0;
}

// y[i] = second(v, first(v)), v = x[i] (+ c[i % period] when Shifted), for the ops vecmath.hpp
// writes in two stages: first over a block of up to 256 elements into a buffer, then second. Each
// stage's loop has half the chain of dependent FMAs, so more iterations overlap (on Zen 3, per
// float element: softplus 0.97 -> 0.67 ns, sigmoid 0.84 -> 0.73, tanh 0.58 -> 0.53). The operations
// are the one-pass op's; the compiler can no longer contract a multiply and an add across the two
// stages, so a value may differ from the one-pass loop's in the last bit.
template <bool Shifted, class T, class First, class Second>
__attribute__((always_inline)) inline void staged_run(const T* x, [[maybe_unused]] const T* c, [[maybe_unused]] std::int64_t period,
                                                      T* y, std::int64_t n, First first, Second second) {
  constexpr std::int64_t block = 256;
  T e[block];
  std::int64_t step = n;  // a bias's period (dense repeats a short one over whole rows first)
  if constexpr (Shifted) step = period;
  for (std::int64_t g = 0; g < n; g += step) {
    const std::int64_t group = std::min(step, n - g);
    for (std::int64_t s = 0; s < group; s += block) {
      const std::int64_t len = std::min(block, group - s);
      const T* xs = x + g + s;
      T* ys = y + g + s;
      const auto v = [&](std::int64_t i) {
        if constexpr (Shifted) return xs[i] + c[s + i];
        else return xs[i];
      };
      for (std::int64_t i = 0; i < len; ++i) e[i] = first(v(i));
      for (std::int64_t i = 0; i < len; ++i) ys[i] = second(v(i), e[i]);
    }
  }
}

// y[i] = op(x[i]), or op(x[i] + c[i % period]) when Shifted (a bias added in the same pass).
template <bool Shifted, class T>
__attribute__((always_inline)) inline void unary_impl(Op op, const T* x, [[maybe_unused]] const T* c,
                                                      [[maybe_unused]] std::int64_t period, T* y,
                                                      std::int64_t n, T p0, T p1) {
#define TIDE_MAP(expr)                                                  \
  if constexpr (Shifted) {                                              \
    for (std::int64_t g = 0; g < n; g += period) {                      \
      const std::int64_t len = std::min(period, n - g);                 \
      const T* xg = x + g;                                              \
      T* yg = y + g;                                                    \
      for (std::int64_t i = 0; i < len; ++i) {                          \
        const T v = xg[i] + c[i];                                       \
        yg[i] = (expr);                                                 \
      }                                                                 \
    }                                                                   \
  } else {                                                              \
    for (std::int64_t i = 0; i < n; ++i) {                              \
      const T v = x[i];                                                 \
      y[i] = (expr);                                                    \
    }                                                                   \
  }                                                                     \
  return;
  switch (op) {
    case Op::neg: TIDE_MAP(-v)
    case Op::abs: TIDE_MAP(std::fabs(v))
    case Op::sign: TIDE_MAP(v > T(0) ? T(1) : (v < T(0) ? T(-1) : v))  // sign(0) = 0, NaN -> NaN
    case Op::exp: TIDE_MAP(vm::exp(v))
    case Op::expm1:  // a call with no large input (softplus's derivative, -expm1(-y)) takes the cheaper form
      if (!Shifted && all_at_most(x, n, T(vm::Traits<T>::expm1_hi))) { TIDE_MAP(vm::expm1_upto_hi(v)) }
      TIDE_MAP(vm::expm1(v))
    case Op::log: TIDE_MAP(vm::log(v))
    case Op::log1p: TIDE_MAP(vm::log1p(v))
    case Op::sqrt: TIDE_MAP(std::sqrt(v))
    case Op::rsqrt: TIDE_MAP(T(1) / std::sqrt(v))
    case Op::square: TIDE_MAP(v * v)
    case Op::reciprocal: TIDE_MAP(T(1) / v)
#define TIDE_STAGED(name, second_expr)                                                                      \
  staged_run<Shifted>(x, c, period, y, n, [](T u) { return vm::name##_first(u); }, [](T u, T e) { return second_expr; }); \
  return;
    case Op::tanh: TIDE_STAGED(tanh, vm::tanh_second(u, e))
    case Op::sigmoid: TIDE_STAGED(sigmoid, vm::sigmoid_second(u, e))
    case Op::softplus: TIDE_STAGED(softplus, vm::softplus_second(u, e))
    case Op::relu: TIDE_MAP(v > T(0) ? v : (v != v ? v : T(0)))
    case Op::leaky_relu: TIDE_MAP(v > T(0) ? v : v * p0)
    case Op::elu: TIDE_MAP(v > T(0) ? v : p0 * vm::expm1_upto_hi(v))
    case Op::silu: TIDE_STAGED(sigmoid, u * vm::sigmoid_second(u, e))
    case Op::gelu: TIDE_MAP(T(0.5) * v * std::erfc(-v * T(inv_sqrt2)))  // 1 + erf(u) = erfc(-u): no cancellation in the left tail (where gelu itself is ill-conditioned, ~x^2 ulp per ulp of x)
    case Op::erf: TIDE_MAP(std::erf(v))
    case Op::sin: TIDE_MAP(std::sin(v))
    case Op::cos: TIDE_MAP(std::cos(v))
    case Op::pow_scalar:
      if (p0 == T(2)) { TIDE_MAP(v * v) }
      if (p0 == T(1)) { TIDE_MAP(v) }
      // sqrt, with std::pow's values where they differ: pow(-0, 0.5) = +0, pow(-inf, 0.5) = +inf
      if (p0 == T(0.5)) { TIDE_MAP(v == -std::numeric_limits<T>::infinity() ? -v : std::sqrt(v + T(0))) }
      if (p0 == T(-1)) { TIDE_MAP(T(1) / v) }
      if (p0 == T(3)) { TIDE_MAP(v * v * v) }
      TIDE_MAP(std::pow(v, p0))
    case Op::add_scalar: TIDE_MAP(v + p0)
    case Op::mul_scalar: TIDE_MAP(v * p0)
    case Op::clamp: TIDE_MAP(v < p0 ? p0 : (v > p1 ? p1 : v))
    // Other kinds never reach this kernel; listed instead of a default so that a unary op
    // without a case above does not compile (-Werror=switch).
    TIDE_BINARY_OPS(TIDE_OP_CASE) TIDE_COMPARE_OPS(TIDE_OP_CASE) TIDE_NON_ELEMENTWISE_OPS(TIDE_OP_CASE) return;
  }
#undef TIDE_MAP
#undef TIDE_STAGED
}

template <class T>
__attribute__((always_inline)) inline void binary_impl(Op op, const T* a, std::int64_t sa,
                                                       const T* b, std::int64_t sb, T* y,
                                                       std::int64_t sy, std::int64_t n) {
  // Four loop shapes per op: both unit-stride, one operand broadcast, or general strides.
#define TIDE_ZIP(expr)                                                                        \
  if (sa == 1 && sb == 1 && sy == 1) {                                                        \
    for (std::int64_t i = 0; i < n; ++i) { const T u = a[i], v = b[i]; y[i] = (expr); }       \
  } else if (sa == 1 && sb == 0 && sy == 1) {                                                 \
    const T v = b[0];                                                                         \
    for (std::int64_t i = 0; i < n; ++i) { const T u = a[i]; y[i] = (expr); }                 \
  } else if (sa == 0 && sb == 1 && sy == 1) {                                                 \
    const T u = a[0];                                                                         \
    for (std::int64_t i = 0; i < n; ++i) { const T v = b[i]; y[i] = (expr); }                 \
  } else {                                                                                    \
    for (std::int64_t i = 0; i < n; ++i) { const T u = a[i * sa], v = b[i * sb]; y[i * sy] = (expr); } \
  }                                                                                           \
  return;
  switch (op) {
    case Op::add: TIDE_ZIP(u + v)
    case Op::sub: TIDE_ZIP(u - v)
    case Op::mul: TIDE_ZIP(u * v)
    case Op::div: TIDE_ZIP(u / v)
    case Op::maximum: TIDE_ZIP(u > v || u != u ? u : v)  // NaN propagates
    case Op::minimum: TIDE_ZIP(u < v || u != u ? u : v)
    case Op::eq: TIDE_ZIP(u == v ? T(1) : T(0))
    case Op::ne: TIDE_ZIP(u != v ? T(1) : T(0))
    case Op::lt: TIDE_ZIP(u < v ? T(1) : T(0))
    case Op::le: TIDE_ZIP(u <= v ? T(1) : T(0))
    case Op::gt: TIDE_ZIP(u > v ? T(1) : T(0))
    case Op::ge: TIDE_ZIP(u >= v ? T(1) : T(0))
    // Other kinds never reach this kernel (listed instead of a default, as in unary_impl).
    TIDE_UNARY_OPS(TIDE_OP_CASE) TIDE_UNARY_PARAM_OPS(TIDE_OP_CASE) TIDE_NON_ELEMENTWISE_OPS(TIDE_OP_CASE) return;
  }
#undef TIDE_ZIP
}

// f32 x times a factor float_factor_inexact (../float_factor.hpp) finds: formed in double, rounded once.
template <bool Shifted>
__attribute__((always_inline)) inline void scale_in_double(const float* x, [[maybe_unused]] const float* c, std::int64_t period,
                                                           float* y, std::int64_t n, double p0) {
  constexpr double largest = std::numeric_limits<float>::max();
  for (std::int64_t i = 0; i < n; ++i) {
    double v = x[i];
    if constexpr (Shifted) v = static_cast<double>(static_cast<float>(x[i] + c[i % period]));
    const double product = v * p0;
    y[i] = std::fabs(product) > largest ? static_cast<float>(std::copysign(HUGE_VAL, product)) : static_cast<float>(product);
  }
}

}  // namespace

TIDE_CLONES void unary_run(Op op, const float* x, float* y, std::int64_t n, double p0, double p1) {
  if (float_factor_inexact(op, p0)) return scale_in_double<false>(x, nullptr, 1, y, n, p0);
  unary_impl<false, float>(op, x, nullptr, 0, y, n, static_cast<float>(p0), static_cast<float>(p1));
}
TIDE_CLONES void unary_run(Op op, const double* x, double* y, std::int64_t n, double p0, double p1) {
  unary_impl<false, double>(op, x, nullptr, 0, y, n, p0, p1);
}
TIDE_CLONES void unary_shifted_run(Op op, const float* x, const float* c, std::int64_t period, float* y, std::int64_t n,
                                   double p0, double p1) {
  if (float_factor_inexact(op, p0)) return scale_in_double<true>(x, c, period, y, n, p0);
  unary_impl<true, float>(op, x, c, period, y, n, static_cast<float>(p0), static_cast<float>(p1));
}
TIDE_CLONES void unary_shifted_run(Op op, const double* x, const double* c, std::int64_t period, double* y, std::int64_t n,
                                   double p0, double p1) {
  unary_impl<true, double>(op, x, c, period, y, n, p0, p1);
}
TIDE_CLONES void binary_run(Op op, const float* a, std::int64_t sa, const float* b, std::int64_t sb,
                            float* y, std::int64_t sy, std::int64_t n) {
  binary_impl<float>(op, a, sa, b, sb, y, sy, n);
}
TIDE_CLONES void binary_run(Op op, const double* a, std::int64_t sa, const double* b,
                            std::int64_t sb, double* y, std::int64_t sy, std::int64_t n) {
  binary_impl<double>(op, a, sa, b, sb, y, sy, n);
}
TIDE_CLONES void binary_rows_run(Op op, const float* a, std::int64_t ra, std::int64_t sa, const float* b, std::int64_t rb,
                                 std::int64_t sb, float* y, std::int64_t ry, std::int64_t sy, std::int64_t rows, std::int64_t n) {
  for (std::int64_t r = 0; r < rows; ++r) binary_impl<float>(op, a + r * ra, sa, b + r * rb, sb, y + r * ry, sy, n);
}
TIDE_CLONES void binary_rows_run(Op op, const double* a, std::int64_t ra, std::int64_t sa, const double* b, std::int64_t rb,
                                 std::int64_t sb, double* y, std::int64_t ry, std::int64_t sy, std::int64_t rows, std::int64_t n) {
  for (std::int64_t r = 0; r < rows; ++r) binary_impl<double>(op, a + r * ra, sa, b + r * rb, sb, y + r * ry, sy, n);
}

namespace {
template <class T>
__attribute__((always_inline)) inline void chain_steps_impl(const ElementwiseStep* steps, std::size_t count, T* const* value,
                                                            std::size_t first, std::int64_t n) {
  for (std::size_t k = 0; k < count; ++k) {
    const ElementwiseStep& s = steps[k];
    const T* a = s.in[0] >= 0 ? value[s.in[0]] : nullptr;
    const T* b = s.in[1] >= 0 ? value[s.in[1]] : nullptr;
    T* y = value[first + k];
    switch (op_info(s.op).kind) {
      case OpKind::unary:
        if constexpr (std::is_same_v<T, float>)  // as unary_run: a factor outside float's normal range in double
          if (float_factor_inexact(s.op, s.p0)) {
            scale_in_double<false>(a, nullptr, 1, y, n, s.p0);
            break;
          }
        unary_impl<false, T>(s.op, a, nullptr, 0, y, n, static_cast<T>(s.p0), static_cast<T>(s.p1));
        break;
      case OpKind::binary: case OpKind::compare: binary_impl<T>(s.op, a, 1, b, 1, y, 1, n); break;
      case OpKind::other: {
        const T* c = value[s.in[2]];
        for (std::int64_t i = 0; i < n; ++i) y[i] = a[i] != T(0) ? b[i] : c[i];
        break;
      }
      case OpKind::reduce: case OpKind::shape: break;  // rejected by the caller
    }
  }
}
}  // namespace

TIDE_CLONES void chain_steps_run(const ElementwiseStep* steps, std::size_t count, float* const* value, std::size_t first,
                                 std::int64_t n) {
  chain_steps_impl<float>(steps, count, value, first, n);
}
TIDE_CLONES void chain_steps_run(const ElementwiseStep* steps, std::size_t count, double* const* value, std::size_t first,
                                 std::int64_t n) {
  chain_steps_impl<double>(steps, count, value, first, n);
}

namespace {
template <class T>
__attribute__((always_inline)) inline void add_rows_impl(T* y, const T* b, std::int64_t m, std::int64_t n) {
  // Rows of fewer than 16 elements (a [B, 4] layer) are added k at a time: the bias repeated k
  // times is one pattern of at least 64 elements, added at full vector width (the same sums).
  std::int64_t r = 0;
  constexpr std::int64_t pattern_min = 64;
  const std::int64_t k = n > 0 ? (pattern_min + n - 1) / n : 0;
  if (n > 0 && n < pattern_min / 4 && m >= 2 * k) {
    T pattern[2 * pattern_min];
    const std::int64_t p = k * n;
    repeat_row(b, n, pattern, p);
    for (; r + k <= m; r += k) {
      T* rows = y + r * n;
      for (std::int64_t j = 0; j < p; ++j) rows[j] += pattern[j];
    }
  }
  for (; r < m; ++r) {
    T* row = y + r * n;
    for (std::int64_t j = 0; j < n; ++j) row[j] += b[j];
  }
}
}  // namespace

TIDE_CLONES void add_rows(float* y, const float* b, std::int64_t m, std::int64_t n) { add_rows_impl(y, b, m, n); }
TIDE_CLONES void add_rows(double* y, const double* b, std::int64_t m, std::int64_t n) { add_rows_impl(y, b, m, n); }

namespace {
// Column sums of a row-major [m, n] block, each column's rows added in order. A block of K
// columns is summed in registers over all rows before it is stored: accumulating into the output
// row by row instead waits on a store per row (a bias gradient's [64, 32] sum took ~1 us that
// way). The sums are a plain array of fixed length, which GCC keeps in the target's own
// registers; GCC's 64-byte vector type, used here before, went through the stack on AVX2 (9% of
// an eager tiny gradient on Zen 3).
template <class T, int K>
__attribute__((always_inline)) inline void sum_column_block(const T* x, T* y, std::int64_t m, std::int64_t n) {
  T acc[K] = {};
  for (std::int64_t i = 0; i < m; ++i) {
    const T* r = x + i * n;
    for (int e = 0; e < K; ++e) acc[e] += r[e];
  }
  for (int e = 0; e < K; ++e) y[e] = acc[e];
}
// The last w < 2K columns: blocks of K, K/2, .., 1 columns.
template <class T, int K>
__attribute__((always_inline)) inline void sum_column_tail(const T* x, T* y, std::int64_t m, std::int64_t n, std::int64_t w) {
  if constexpr (K >= 1) {
    if (w >= K) {
      sum_column_block<T, K>(x, y, m, n);
      x += K, y += K, w -= K;
    }
    sum_column_tail<T, K / 2>(x, y, m, n, w);
  }
}
// Narrow rows (a bias gradient's [64, 32]) as column blocks summed in registers; rows wider than
// two blocks row by row into y, which reads x once, in order (column blocks over a [1025, 256] f32
// block read it as four strided passes, 1.6x slower than this). Either way each column's rows are
// added in order.
template <class T>
__attribute__((always_inline)) inline void sum_rows_block(const T* x, T* y, std::int64_t m, std::int64_t n) {
  constexpr int W = 256 / sizeof(T);  // columns per block: 8 AVX2 or 4 AVX-512 registers of sums (the baseline clone spills some)
  if (n > 2 * W) {
    std::fill(y, y + n, T(0));
    for (std::int64_t i = 0; i < m; ++i) {
      const T* r = x + i * n;
      for (std::int64_t j = 0; j < n; ++j) y[j] += r[j];
    }
    return;
  }
  std::int64_t j = 0;
  for (; j + W <= n; j += W) sum_column_block<T, W>(x + j, y + j, m, n);
  sum_column_tail<T, W / 2>(x + j, y + j, m, n, n - j);
}
// Up to 1,024 rows in order; more as the sum of the two halves' sums (pairwise, through the public
// function, so that each half runs in this CPU's clone), so that the rounding error grows with
// log m, not m (a serial float sum of 2^25 ones stopped at 2^24).
template <class T> __attribute__((always_inline)) inline void sum_rows_impl(const T* x, T* y, std::int64_t m, std::int64_t n) {
  if (m <= 1024) return sum_rows_block(x, y, m, n);
  const std::int64_t half = m / 2;
  sum_rows(x, y, half, n);
  std::vector<T> rest(static_cast<std::size_t>(n));
  sum_rows(x + half * n, rest.data(), m - half, n);
  for (std::int64_t j = 0; j < n; ++j) y[j] += rest[static_cast<std::size_t>(j)];
}
}  // namespace

TIDE_CLONES void sum_rows(const float* x, float* y, std::int64_t m, std::int64_t n) { sum_rows_impl(x, y, m, n); }
TIDE_CLONES void sum_rows(const double* x, double* y, std::int64_t m, std::int64_t n) { sum_rows_impl(x, y, m, n); }

}  // namespace tide::cpu
