// Accuracy of the branch-free transcendentals in cpu/vecmath.hpp (tide::cpu::vm) for float and
// double: the largest error in ulps against the long-double C library over dense sweeps of each
// domain (linear sweeps, logarithmic sweeps of tiny and huge magnitudes, bit-pattern sweeps that
// include subnormals), both called directly and through the tensor ops (the library's own
// vectorised build), and the special values (NaN, +-inf, +-0, overflow, underflow).
// Set TIDE_PRINT_ULPS=1 to print the measured maxima.
#include "core_test_util.hpp"
#include "cpu/vecmath.hpp"
#include "tide/core/host_math.hpp"
#include <bit>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>

using namespace tide;
namespace vm = tide::cpu::vm;

namespace {

using L = long double;

// Error of `got` in units of the last place of T at the exact value `want`.
template <class T> double ulp_error(T got, L want) {
  if (std::isnan(want)) return std::isnan(got) ? 0.0 : INFINITY;
  // beyond T's range the exact value rounds to +-inf (or to +-max within half an ulp of it)
  const T rounded = static_cast<T>(want);
  if (std::isinf(rounded) || std::isinf(got)) return got == rounded ? 0.0 : INFINITY;
  int e;
  std::frexp(want, &e);  // |want| in [2^(e-1), 2^e)
  constexpr int digits = std::numeric_limits<T>::digits;
  const int min_exp = std::numeric_limits<T>::min_exponent - digits;  // exponent of denorm_min
  const L ulp = std::ldexp(L(1), std::max(e - digits, min_exp));
  return static_cast<double>(std::fabs(static_cast<L>(got) - want) / ulp);
}

template <class T> struct Sweep {
  std::vector<T> xs;
  void linear(double lo, double hi, int n) {
    for (int i = 0; i <= n; ++i) xs.push_back(static_cast<T>(lo + (hi - lo) * i / n));
  }
  // |x| from lo to hi evenly in log scale, both signs if `both`.
  void logarithmic(double lo, double hi, int n, bool both) {
    for (int i = 0; i <= n; ++i) {
      const T x = static_cast<T>(std::exp(std::log(lo) + (std::log(hi) - std::log(lo)) * i / n));
      if (x == T(0)) continue;
      xs.push_back(x);
      if (both) xs.push_back(-x);
    }
  }
  // Every positive finite T (including subnormals) at a fixed bit-pattern stride.
  void bit_patterns(int n) {
    using U = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
    const U top = std::bit_cast<U>(std::numeric_limits<T>::max());
    const U stride = top / static_cast<U>(n);
    for (U b = 1; b < top - stride; b += stride) xs.push_back(std::bit_cast<T>(b));
  }
};

struct Result {
  double max_ulps = 0;
  double worst_x = 0;
};

template <class T> Result measure(const std::vector<T>& xs, const std::vector<T>& got, const std::function<L(L)>& ref) {
  Result r;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const double e = ulp_error<T>(got[i], ref(static_cast<L>(xs[i])));
    if (e > r.max_ulps || std::isnan(e)) r = {e, static_cast<double>(xs[i])};
  }
  return r;
}

template <class T> void check_function(const std::string& name, T (*fn)(T), Op op, const std::function<L(L)>& ref,
                                       const Sweep<T>& sweep, double bound) {
  const std::string type = sizeof(T) == 4 ? "float" : "double";
  // direct calls (compiled in this test with the default target)
  std::vector<T> direct(sweep.xs.size());
  for (std::size_t i = 0; i < sweep.xs.size(); ++i) direct[i] = fn(sweep.xs[i]);
  const Result rd = measure<T>(sweep.xs, direct, ref);
  // through the tensor op (the library's vectorised kernels, in whichever clone this CPU picks)
  const std::vector<double> in(sweep.xs.begin(), sweep.xs.end());
  const Tensor x = Tensor::from_vector(in, Shape{static_cast<std::int64_t>(in.size())}, dtype_of<T>());
  const std::vector<double> out = unary(op, x).to_vector();
  const std::vector<T> via_op(out.begin(), out.end());
  const Result rt = measure<T>(sweep.xs, via_op, ref);
  if (std::getenv("TIDE_PRINT_ULPS"))
    std::printf("vm::%-8s %-6s %8zu points: max %.3f ulp at x=%.9g (direct), %.3f ulp at x=%.9g (tensor op)\n",
                name.c_str(), type.c_str(), sweep.xs.size(), rd.max_ulps, rd.worst_x, rt.max_ulps, rt.worst_x);
  CHECK_MESSAGE(rd.max_ulps <= bound, "vm::" << name << "<" << type << "> direct: " << rd.max_ulps << " ulp at x=" << rd.worst_x);
  CHECK_MESSAGE(rt.max_ulps <= bound, "vm::" << name << "<" << type << "> via op: " << rt.max_ulps << " ulp at x=" << rt.worst_x);
}

L ref_sigmoid(L x) { return 1 / (1 + std::exp(-x)); }
L ref_softplus(L x) { return std::max(x, L(0)) + std::log1p(std::exp(-std::fabs(x))); }

// Sweeps sized so that each function sees ~400k points per type.
template <class T> void check_all(double bound) {
  constexpr bool is_float = sizeof(T) == 4;
  const double exp_lo = is_float ? -110 : -760, exp_hi = is_float ? 95 : 720;
  const double huge = is_float ? 3e38 : 1e308, tiny = is_float ? 1e-45 : 5e-324;
  {
    Sweep<T> s;
    s.linear(exp_lo, exp_hi, 300000);
    s.logarithmic(tiny, 1e3, 100000, true);
    s.xs.insert(s.xs.end(), {T(0), T(-0.0), T(huge), T(-huge)});
    check_function<T>("exp", vm::exp<T>, Op::exp, [](L x) { return std::exp(x); }, s, bound);
    check_function<T>("expm1", vm::expm1<T>, Op::expm1, [](L x) { return std::expm1(x); }, s, bound);
    // no input above expm1_hi: the op takes its cheaper form (expm1_upto_hi)
    std::erase_if(s.xs, [](T x) { return !(x <= vm::Traits<T>::expm1_hi); });
    check_function<T>("expm1_upto_hi", vm::expm1_upto_hi<T>, Op::expm1, [](L x) { return std::expm1(x); }, s, bound);
  }
  {
    Sweep<T> s;
    s.bit_patterns(300000);
    s.linear(0.5, 2.0, 100000);  // around 1, where log is small
    check_function<T>("log", vm::log<T>, Op::log, [](L x) { return std::log(x); }, s, bound);
  }
  {
    Sweep<T> s;
    s.bit_patterns(200000);
    s.logarithmic(tiny, 1.0, 100000, false);
    for (T x : std::vector<T>(s.xs)) if (x < T(1)) s.xs.push_back(-x);  // (-1, 0)
    s.linear(-0.999, 3.0, 100000);
    check_function<T>("log1p", vm::log1p<T>, Op::log1p, [](L x) { return std::log1p(x); }, s, bound);
  }
  {
    Sweep<T> s;
    s.linear(-25, 25, 300000);
    s.logarithmic(tiny, huge, 100000, true);
    s.xs.push_back(T(-0.0));
    check_function<T>("tanh", vm::tanh<T>, Op::tanh, [](L x) { return std::tanh(x); }, s, bound);
  }
  {
    // sigmoid: down to where the result is still a normal number (see the underflow test below)
    Sweep<T> s;
    s.linear(is_float ? -87 : -708, exp_hi, 300000);
    s.logarithmic(tiny, is_float ? 87 : 708, 100000, true);
    check_function<T>("sigmoid", vm::sigmoid<T>, Op::sigmoid, ref_sigmoid, s, bound);
  }
  {
    Sweep<T> s;
    s.linear(exp_lo, exp_hi, 300000);
    s.logarithmic(tiny, huge, 100000, true);
    check_function<T>("softplus", vm::softplus<T>, Op::softplus, ref_softplus, s, bound);
  }
}

}  // namespace

TEST_CASE("vecmath float functions are within a few ulp of the C library") { check_all<float>(4.0); }
TEST_CASE("vecmath double functions are within a few ulp of the C library") { check_all<double>(4.0); }

TEST_CASE_TEMPLATE("vecmath special values", T, float, double) {
  const T nan = std::numeric_limits<T>::quiet_NaN(), inf = std::numeric_limits<T>::infinity();
  for (T (*f)(T) : {vm::exp<T>, vm::expm1<T>, vm::log<T>, vm::log1p<T>, vm::tanh<T>, vm::sigmoid<T>, vm::softplus<T>})
    CHECK(std::isnan(f(nan)));
  CHECK(vm::exp<T>(inf) == inf);
  CHECK(vm::exp<T>(-inf) == T(0));
  CHECK(vm::exp<T>(T(1000)) == inf);
  CHECK(vm::exp<T>(T(-1000)) == T(0));
  CHECK(vm::exp<T>(T(0)) == T(1));
  CHECK(vm::exp<T>(T(-0.0)) == T(1));
  CHECK(vm::exp<T>(std::numeric_limits<T>::max()) == inf);
  CHECK(vm::expm1<T>(inf) == inf);
  CHECK(vm::expm1<T>(-inf) == T(-1));
  CHECK(vm::expm1<T>(T(1000)) == inf);
  CHECK(vm::expm1<T>(T(-1000)) == T(-1));
  CHECK(vm::expm1<T>(T(0)) == T(0));
  CHECK(vm::expm1<T>(T(-0.0)) == T(0));
  CHECK(std::signbit(vm::expm1<T>(T(-0.0))));
  CHECK(vm::log<T>(T(0)) == -inf);
  CHECK(vm::log<T>(T(-0.0)) == -inf);
  CHECK(std::isnan(vm::log<T>(T(-1))));
  CHECK(std::isnan(vm::log<T>(-inf)));
  CHECK(vm::log<T>(inf) == inf);
  CHECK(vm::log<T>(T(1)) == T(0));
  CHECK(vm::log<T>(std::numeric_limits<T>::denorm_min()) ==
        doctest::Approx(std::log(static_cast<double>(std::numeric_limits<T>::denorm_min()))).epsilon(1e-6));
  CHECK(vm::log1p<T>(T(-1)) == -inf);
  CHECK(std::isnan(vm::log1p<T>(T(-2))));
  CHECK(vm::log1p<T>(inf) == inf);
  CHECK(vm::log1p<T>(T(0)) == T(0));
  CHECK(vm::log1p<T>(T(-0.0)) == T(0));
  CHECK(std::signbit(vm::log1p<T>(T(-0.0))));
  CHECK(vm::tanh<T>(inf) == T(1));
  CHECK(vm::tanh<T>(-inf) == T(-1));
  CHECK(vm::tanh<T>(T(0)) == T(0));
  CHECK(std::signbit(vm::tanh<T>(T(-0.0))));
  CHECK(vm::tanh<T>(T(50)) == T(1));
  CHECK(vm::sigmoid<T>(inf) == T(1));
  CHECK(vm::sigmoid<T>(-inf) == T(0));
  CHECK(vm::sigmoid<T>(T(0)) == T(0.5));
  CHECK(vm::softplus<T>(inf) == inf);
  CHECK(vm::softplus<T>(-inf) == T(0));
  // softplus(x) rounds to x for large x
  for (T x : {T(40), T(100), T(1e4), T(1e30), std::numeric_limits<T>::max()}) CHECK(vm::softplus<T>(x) == x);
  CHECK(vm::softplus<T>(T(0)) == doctest::Approx(std::log(2.0)));
}

// The expm1 kernel takes its cheaper form when no input is above expm1_hi (nor NaN): the same
// values, to the bit, as the whole-range form gives them (forced here by one large input at the
// end), -inf and -0 included; elu's negative side always takes the cheaper form.
TEST_CASE_TEMPLATE("vecmath expm1's cheaper form agrees with the whole-range one", T, float, double) {
  const T hi = vm::Traits<T>::expm1_hi;
  const double sub = std::numeric_limits<T>::denorm_min();
  std::vector<double> xs{-std::numeric_limits<double>::infinity(), -1e4, -200, -0.0, 0.0, 1e-30, hi, sub, -sub, 3 * sub};
  for (int i = 0; i <= 4000; ++i) xs.push_back(-100.0 + (static_cast<double>(hi) + 100.0) * i / 4000);
  const auto n = static_cast<std::int64_t>(xs.size());
  const std::vector<double> cheap = unary(Op::expm1, Tensor::from_vector(xs, Shape{n}, dtype_of<T>())).to_vector();
  std::vector<double> forced = xs;
  forced.push_back(static_cast<double>(hi) + 1);
  const std::vector<double> whole = unary(Op::expm1, Tensor::from_vector(forced, Shape{n + 1}, dtype_of<T>())).to_vector();
  const std::vector<double> elu = unary(Op::elu, Tensor::from_vector(xs, Shape{n}, dtype_of<T>()), 1.0).to_vector();
  for (std::size_t i = 0; i < xs.size(); ++i) {
    CHECK_MESSAGE(std::bit_cast<std::uint64_t>(cheap[i]) == std::bit_cast<std::uint64_t>(whole[i]), "x = " << xs[i]);
    if (!(xs[i] > 0)) CHECK_MESSAGE(std::bit_cast<std::uint64_t>(elu[i]) == std::bit_cast<std::uint64_t>(whole[i]), "elu at x = " << xs[i]);
  }
  CHECK(std::signbit(cheap[3]));
  CHECK(whole.back() == doctest::Approx(std::expm1(static_cast<double>(hi) + 1)).epsilon(1e-6));
  CHECK(cheap[7] == static_cast<double>(std::numeric_limits<T>::denorm_min()));  // expm1(x) = x for tiny x
  const Tensor odd = Tensor::from_vector(std::vector<double>{std::nan(""), -0.0}, Shape{2}, dtype_of<T>());
  CHECK(std::isnan(unary(Op::elu, odd, 1.0).to_vector()[0]));
  CHECK(std::signbit(unary(Op::elu, odd, 1.0).to_vector()[1]));
}

// Far in the negative tail sigmoid(x) ~ e^x: it must stay accurate while the result is a normal
// number (1 / (1 + e^-x) would underflow to zero once e^-x overflows), then decay monotonically.
TEST_CASE_TEMPLATE("vecmath sigmoid far in the negative tail", T, float, double) {
  const T start = sizeof(T) == 4 ? T(-80) : T(-700), stop = sizeof(T) == 4 ? T(-110) : T(-760);
  T prev = vm::sigmoid<T>(start);
  for (T x = start; x > stop; x -= T(0.25)) {
    const T y = vm::sigmoid<T>(x);
    CHECK(y >= T(0));
    CHECK(y <= prev);
    const L ref = ref_sigmoid(static_cast<L>(x));
    if (ref > static_cast<L>(std::numeric_limits<T>::min())) CHECK(std::abs(static_cast<L>(y) / ref - 1) < 1e-5L);
    prev = y;
  }
}

// pow_each (host_math.hpp): exp(e log x) for positive finite x, its error bounded by a few units of
// 2^-53 times (1 + |e log x|); other x through std::pow exactly.
TEST_CASE("pow_each against powl, and std::pow's values outside its domain") {
  std::vector<double> xs;
  for (int i = 0; i <= 20000; ++i) xs.push_back(std::exp(std::log(1e-12) + (std::log(1e12) - std::log(1e-12)) * i / 20000));
  for (double x : {5e-324, 2.2250738585072014e-308, 1e-300, 1.0, 1e300, 1.7976931348623157e308}) xs.push_back(x);
  for (double e : {-0.2, 0.2, -1.0 / 3, 0.5, -0.125, 2.5}) {
    std::vector<double> out(xs.size());
    pow_each(xs, e, out);
    double worst = 0;
    for (std::size_t i = 0; i < xs.size(); ++i) {
      const L want = std::pow(static_cast<L>(xs[i]), static_cast<L>(e));
      if (std::isinf(static_cast<double>(want)) || static_cast<double>(want) == 0.0) continue;  // beyond double
      const double units = static_cast<double>(std::fabs((static_cast<L>(out[i]) - want) / want)) / 0x1p-53;
      worst = std::max(worst, units / (1.0 + std::fabs(e * std::log(xs[i]))));
    }
    CHECK_MESSAGE(worst <= 4.0, "pow_each e=" << e << ": " << worst << " units of 2^-53 per (1 + |e log x|)");
  }
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  std::vector<double> odd{0.0, -0.0, -2.0, inf, -inf, nan}, out(odd.size());
  pow_each(odd, -0.2, out);
  for (std::size_t i = 0; i < odd.size(); ++i) {
    const double want = std::pow(odd[i], -0.2);
    CHECK(((std::isnan(want) && std::isnan(out[i])) || want == out[i]));
  }
  std::vector<double> in_place{4.0, 9.0};
  pow_each(in_place, 0.5, in_place);
  CHECK(in_place[0] == doctest::Approx(2.0).epsilon(1e-15));
  CHECK(in_place[1] == doctest::Approx(3.0).epsilon(1e-15));
  for (double e : {-0.2, 2.0, inf, nan}) {  // in place, values outside the vector form's domain, a non-finite e
    std::vector<double> v{0.0, -0.0, -2.0, inf, -inf, nan, 1.0, 0.5};
    const std::vector<double> x = v;
    pow_each(v, e, v);
    for (std::size_t i = 0; i < x.size(); ++i) {
      CAPTURE(e);
      CAPTURE(x[i]);
      const double want = std::pow(x[i], e);
      CHECK(((std::isnan(want) && std::isnan(v[i])) || want == v[i] || std::fabs(v[i] - want) <= 1e-15 * std::fabs(want)));
    }
  }
  std::vector<double> short_out(1);
  CHECK_THROWS_WITH(pow_each(odd, 2.0, short_out), doctest::Contains("6 values in, room for 1"));
}
