// Elementwise unary ops (core/ops.hpp) in f32 and f64 against reference formulas evaluated in long
// double with the std:: functions, over small, moderate and large magnitudes, on contiguous
// tensors and on non-contiguous views (a transpose and a stepped slice).
#include "core_test_util.hpp"
#include <functional>
#include <limits>

using namespace tide;
using tide::test::check_exact;

namespace {

using Ref = std::function<long double(long double)>;
enum class Domain { all, positive, above_minus_one };

struct UnaryCase {
  const char* name;
  std::function<Tensor(const Tensor&)> op;
  Ref ref;
  Domain domain = Domain::all;
  double rel_ulps = 4;  // allowed relative error in units of the dtype's epsilon
  double abs_ulps = 0;  // allowed absolute error: abs_ulps * eps * (1 + |x|), for cancelling forms
};

std::vector<double> inputs(Domain d) {
  std::vector<double> v;
  if (d == Domain::all) {
    for (double m : {0.0, 1e-30, 1e-8, 1e-3, 0.1, 0.5, 1.0, 2.0, 3.7, 10.0, 20.0, 50.0, 80.0}) {
      v.push_back(m);
      v.push_back(-m);
    }
    for (int i = -100; i <= 100; ++i) v.push_back(0.1 * i + 0.013);
  } else {
    const double lo = d == Domain::positive ? 0.0 : -1.0;
    for (double m : {1e-30, 1e-8, 1e-3, 0.1, 0.5, 1.0, 2.0, 3.7, 10.0, 1e3, 1e8, 1e30})
      v.push_back(lo + m);
    for (int i = 1; i <= 200; ++i) v.push_back(lo + 0.05 * i + 0.0017);
  }
  if (v.size() % 2) v.push_back(v.back() * 0.5);  // even count: viewable as [n/2, 2]
  return v;
}

constexpr long double sqrt1_2 = 0.707106781186547524400844362104849039L;

std::vector<UnaryCase> unary_cases() {
  using L = long double;
  return {
      {"neg", [](const Tensor& x) { return neg(x); }, [](L v) { return -v; }},
      {"operator-", [](const Tensor& x) { return -x; }, [](L v) { return -v; }},
      {"abs", [](const Tensor& x) { return abs(x); }, [](L v) { return std::fabs(v); }},
      {"sign", [](const Tensor& x) { return sign(x); }, [](L v) { return L(v > 0) - L(v < 0); }},
      {"exp", [](const Tensor& x) { return exp(x); }, [](L v) { return std::exp(v); }},
      {"expm1", [](const Tensor& x) { return expm1(x); }, [](L v) { return std::expm1(v); }},
      {"log", [](const Tensor& x) { return log(x); }, [](L v) { return std::log(v); }, Domain::positive},
      {"log1p", [](const Tensor& x) { return log1p(x); }, [](L v) { return std::log1p(v); }, Domain::above_minus_one},
      {"sqrt", [](const Tensor& x) { return sqrt(x); }, [](L v) { return std::sqrt(v); }, Domain::positive},
      {"rsqrt", [](const Tensor& x) { return rsqrt(x); }, [](L v) { return 1 / std::sqrt(v); }, Domain::positive},
      {"square", [](const Tensor& x) { return square(x); }, [](L v) { return v * v; }},
      {"reciprocal", [](const Tensor& x) { return reciprocal(x); }, [](L v) { return 1 / v; }, Domain::positive},
      {"tanh", [](const Tensor& x) { return tanh(x); }, [](L v) { return std::tanh(v); }},
      {"sigmoid", [](const Tensor& x) { return sigmoid(x); }, [](L v) { return 1 / (1 + std::exp(-v)); }},
      {"softplus", [](const Tensor& x) { return softplus(x); },
       [](L v) { return std::max(v, L(0)) + std::log1p(std::exp(-std::fabs(v))); }},
      {"relu", [](const Tensor& x) { return relu(x); }, [](L v) { return v > 0 ? v : L(0); }},
      {"leaky_relu", [](const Tensor& x) { return leaky_relu(x, 0.125); }, [](L v) { return v > 0 ? v : v / 8; }},
      {"leaky_relu default", [](const Tensor& x) { return leaky_relu(x); }, [](L v) { return v > 0 ? v : v * 0.01L; }},
      {"elu", [](const Tensor& x) { return elu(x, 1.5); }, [](L v) { return v > 0 ? v : 1.5L * std::expm1(v); }},
      {"silu", [](const Tensor& x) { return silu(x); }, [](L v) { return v / (1 + std::exp(-v)); }},
      // the left tail is ill-conditioned (erfc(u) has condition ~2u^2): an absolute error of a few eps * |x|
      // is allowed here; the tail's relative accuracy is checked below
      {"gelu", [](const Tensor& x) { return gelu(x); }, [](L v) { return v * std::erfc(-v * sqrt1_2) / 2; },
       Domain::all, 4, 4},
      {"erf", [](const Tensor& x) { return erf(x); }, [](L v) { return std::erf(v); }},
      {"sin", [](const Tensor& x) { return sin(x); }, [](L v) { return std::sin(v); }},
      {"cos", [](const Tensor& x) { return cos(x); }, [](L v) { return std::cos(v); }},
      {"pow 2", [](const Tensor& x) { return pow(x, 2.0); }, [](L v) { return v * v; }},
      {"pow 3", [](const Tensor& x) { return pow(x, 3.0); }, [](L v) { return v * v * v; }},
      {"pow 1", [](const Tensor& x) { return pow(x, 1.0); }, [](L v) { return v; }},
      {"pow 0.5", [](const Tensor& x) { return pow(x, 0.5); }, [](L v) { return std::sqrt(v); }, Domain::positive},
      {"pow -1", [](const Tensor& x) { return pow(x, -1.0); }, [](L v) { return 1 / v; }, Domain::positive},
      {"pow 2.5", [](const Tensor& x) { return pow(x, 2.5); }, [](L v) { return std::pow(v, 2.5L); }, Domain::positive},
      {"pow -1.5", [](const Tensor& x) { return pow(x, -1.5); }, [](L v) { return std::pow(v, -1.5L); }, Domain::positive},
      {"pow 0", [](const Tensor& x) { return pow(x, 0.0); }, [](L) { return L(1); }},
      {"clamp", [](const Tensor& x) { return clamp(x, -2.0, 0.75); }, [](L v) { return std::clamp(v, L(-2), L(0.75)); }},
      {"add_scalar", [](const Tensor& x) { return add_scalar(x, 0.25); }, [](L v) { return v + 0.25L; }},
      {"operator+ scalar", [](const Tensor& x) { return 2.0 + x; }, [](L v) { return v + 2; }},
      {"operator- scalar", [](const Tensor& x) { return x - 2.0; }, [](L v) { return v - 2; }},
      {"mul_scalar", [](const Tensor& x) { return mul_scalar(x, -3.0); }, [](L v) { return -3 * v; }},
      {"operator/ scalar", [](const Tensor& x) { return x / 4.0; }, [](L v) { return v / 4; }},
  };
}

// Checks out[i] == ref(x[i]) for every element, where xs are the inputs as stored (rounded to the
// dtype) in the order the output lists them.
void check_against_ref(const UnaryCase& c, DType dtype, const std::vector<double>& xs, const Tensor& out) {
  const double eps = dtype == DType::f32 ? std::numeric_limits<float>::epsilon() : std::numeric_limits<double>::epsilon();
  const double tiny = dtype == DType::f32 ? std::numeric_limits<float>::min() : std::numeric_limits<double>::min();
  const std::vector<double> got = out.to_vector();
  REQUIRE(got.size() == xs.size());
  int bad = 0;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const long double r = c.ref(static_cast<long double>(xs[i]));
    // the reference rounded to the output dtype (this is where f32 overflows to inf)
    const double want = dtype == DType::f32 ? static_cast<double>(static_cast<float>(r)) : static_cast<double>(r);
    const double atol = tiny + c.abs_ulps * eps * (1 + std::fabs(xs[i]));
    if (!tide::test::close(got[i], want, c.rel_ulps * eps, atol) && bad++ < 3)
      FAIL_CHECK(c.name << " " << dtype_name(dtype) << " at x=" << xs[i] << ": got " << got[i]
                        << ", expected " << want);
  }
  CHECK_MESSAGE(bad == 0, c.name << " " << dtype_name(dtype) << ": " << bad << " mismatches");
}

std::vector<double> rounded(const std::vector<double>& v, DType dtype) {
  return Tensor::from_vector(v, Shape{static_cast<std::int64_t>(v.size())}, dtype).to_vector();
}

}  // namespace

TEST_CASE("unary ops match long-double references in f32 and f64") {
  for (const UnaryCase& c : unary_cases()) {
    for (DType dtype : {DType::f32, DType::f64}) {
      const std::vector<double> xs = rounded(inputs(c.domain), dtype);
      const Tensor x = Tensor::from_vector(xs, Shape{static_cast<std::int64_t>(xs.size())}, dtype);
      const Tensor y = c.op(x);
      CHECK(y.dtype() == dtype);
      CHECK(y.shape() == x.shape());
      check_against_ref(c, dtype, xs, y);
    }
  }
}

TEST_CASE("gelu's left tail does not cancel to -0: relative error within the tail's own condition") {
  // 0.5 x (1 + erf(x / sqrt2)) rounded to -0 from x = -11.5 (f32) and -35.8 (f64); 0.5 x erfc(-x / sqrt2) does not
  for (DType dtype : {DType::f32, DType::f64}) {
    const double eps = dtype == DType::f32 ? std::numeric_limits<float>::epsilon() : std::numeric_limits<double>::epsilon();
    const std::vector<double> xs = dtype == DType::f32 ? std::vector<double>{-6.0, -9.0, -12.0, -13.0}
                                                        : std::vector<double>{-9.0, -20.0, -36.0, -37.5};
    const std::vector<double> got = gelu(Tensor::from_vector(xs, Shape{4}, dtype)).to_vector();
    for (std::size_t i = 0; i < xs.size(); ++i) {
      const long double x = xs[i], want = x * std::erfc(-x / std::sqrt(2.0L)) / 2;
      INFO(dtype_name(dtype) << " x = " << xs[i] << ": got " << got[i] << ", expected " << static_cast<double>(want));
      CHECK(got[i] < 0);
      CHECK(std::fabs(got[i] - static_cast<double>(want)) <= 4 * (1 + x * x) * eps * std::fabs(static_cast<double>(want)));
    }
  }
}

TEST_CASE("an f32 tensor times a factor outside f32's normal range is the product rounded once, not the float factor's") {
  // (the factor as a float was inf: 1e-30 * 1e39 gave inf and 0 * 1e39 NaN; 1e-46 was 0, and 1e-40 lost 5 digits)
  const auto scaled = [](std::vector<double> x, double c) { return (Tensor::from_vector(x, Shape{static_cast<std::int64_t>(x.size())}, DType::f32) * c).to_vector(); };
  const auto f32 = [](double v) { return static_cast<double>(static_cast<float>(v)); };
  CHECK(scaled({1e-30, 0.0, -2e-30}, 1e39) == std::vector<double>{f32(1e-30 * 1e39), 0.0, f32(-2e-30 * 1e39)});
  CHECK(scaled({1e30, 3e38}, 1e-46) == std::vector<double>{f32(1e30 * 1e-46), f32(3e38 * 1e-46)});
  CHECK(scaled({1e30, 3e38}, 1.0 / 1e40) == std::vector<double>{f32(1e30 / 1e40), f32(3e38 / 1e40)});
  const std::vector<double> over = scaled({1.0, -1.0}, 1e39);  // past float's range: inf, as a float product would be
  CHECK((std::isinf(over[0]) && over[0] > 0 && std::isinf(over[1]) && over[1] < 0));
}

TEST_CASE("unary ops on non-contiguous views follow the view's element order") {
  for (const UnaryCase& c : unary_cases()) {
    for (DType dtype : {DType::f32, DType::f64}) {
      const std::vector<double> xs = rounded(inputs(c.domain), dtype);
      const std::int64_t half = static_cast<std::int64_t>(xs.size()) / 2;
      const Tensor base = Tensor::from_vector(xs, Shape{half, 2}, dtype);

      // transpose: view element (i, j) is base element (j, i) = xs[2 j + i]
      const Tensor t = base.transpose();
      REQUIRE_FALSE(t.is_contiguous());
      std::vector<double> order;
      for (std::int64_t i = 0; i < 2; ++i)
        for (std::int64_t j = 0; j < half; ++j) order.push_back(xs[2 * j + i]);
      const Tensor y = c.op(t);
      CHECK(y.shape() == Shape{2, half});
      check_against_ref(c, dtype, order, y);

      // stepped slice of the flat tensor: every third element starting at 1
      const Tensor flat = base.reshape(Shape{-1});
      std::vector<double> stepped;
      for (std::size_t i = 1; i < xs.size(); i += 3) stepped.push_back(xs[i]);
      check_against_ref(c, dtype, stepped, c.op(flat.slice(0, 1, 2 * half, 3)));
    }
  }
}

TEST_CASE("unary ops leave their input untouched and return fresh storage") {
  Tensor x = Tensor::from_vector({-1, 0, 2}, Shape{3});
  const std::uint64_t v = x.version();
  Tensor y = exp(x);
  CHECK_FALSE(y.shares_storage_with(x));
  CHECK(x.version() == v);
  check_exact(x, {-1, 0, 2});
}

TEST_CASE("unary special values: signs of zero, NaN propagation, infinities") {
  for (DType dtype : {DType::f32, DType::f64}) {
    const double nan = std::numeric_limits<double>::quiet_NaN(), inf = INFINITY;
    const Tensor x = Tensor::from_vector({-0.0, 0.0, nan, inf, -inf}, Shape{5}, dtype);
    const auto s = sign(x).to_vector();
    CHECK(s[0] == 0.0);
    CHECK(s[1] == 0.0);
    CHECK(std::isnan(s[2]));
    CHECK(s[3] == 1.0);
    CHECK(s[4] == -1.0);
    const auto r = relu(x).to_vector();
    CHECK(std::isnan(r[2]));
    CHECK(r[3] == inf);
    CHECK(r[4] == 0.0);
    const auto e = exp(x).to_vector();
    CHECK(e[0] == 1.0);
    CHECK(std::isnan(e[2]));
    CHECK(e[3] == inf);
    CHECK(e[4] == 0.0);
    const auto th = tanh(x).to_vector();
    CHECK(std::signbit(th[0]));
    CHECK(th[3] == 1.0);
    CHECK(th[4] == -1.0);
    const auto sg = sigmoid(x).to_vector();
    CHECK(sg[3] == 1.0);
    CHECK(sg[4] == 0.0);
    const auto sp = softplus(x).to_vector();
    CHECK(sp[3] == inf);
    CHECK(sp[4] == 0.0);
    CHECK(sp[1] == doctest::Approx(std::log(2.0)));
    const auto ab = abs(x).to_vector();
    CHECK_FALSE(std::signbit(ab[0]));
    CHECK(ab[4] == inf);
    const auto cl = clamp(x, -1.0, 1.0).to_vector();
    CHECK(cl[3] == 1.0);
    CHECK(cl[4] == -1.0);
    const auto half = pow(x, 0.5).to_vector();  // the sqrt shortcut gives std::pow's values
    CHECK(half[0] == 0.0);
    CHECK_FALSE(std::signbit(half[0]));  // pow(-0, 0.5) = +0 (sqrt: -0)
    CHECK(std::isnan(half[2]));
    CHECK(half[3] == inf);
    CHECK(half[4] == inf);  // pow(-inf, 0.5) = +inf (sqrt: NaN)
    CHECK(std::isnan(pow(Tensor::scalar(-4.0, dtype), 0.5).item()));
  }
}
