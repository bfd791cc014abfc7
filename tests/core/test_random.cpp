// tide::Generator: reproducibility (same seed, same numbers; element i independent of the shape),
// the range and moments of uniform, normal and Rademacher draws in f32 and f64.
#include "core_test_util.hpp"
#include "tide/core/philox.hpp"
#include "tide/core/random.hpp"
#include <algorithm>
#include <limits>

using namespace tide;

namespace {

struct Moments {
  double mean = 0, var = 0, lo = INFINITY, hi = -INFINITY;
};
Moments moments(const Tensor& t) {
  const auto v = t.to_vector();
  Moments m;
  for (double x : v) {
    m.mean += x;
    m.lo = std::min(m.lo, x);
    m.hi = std::max(m.hi, x);
  }
  m.mean /= static_cast<double>(v.size());
  for (double x : v) m.var += (x - m.mean) * (x - m.mean);
  m.var /= static_cast<double>(v.size() - 1);
  return m;
}

}  // namespace

TEST_CASE("the same seed gives the same numbers; different seeds and streams differ") {
  for (DType dtype : {DType::f32, DType::f64}) {
    Generator g1(1234), g2(1234), g3(1235);
    const auto a = g1.normal(Shape{1000}, 0, 1, dtype).to_vector();
    const auto b = g2.normal(Shape{1000}, 0, 1, dtype).to_vector();
    const auto c = g3.normal(Shape{1000}, 0, 1, dtype).to_vector();
    CHECK(a == b);
    int same = 0;
    for (std::size_t i = 0; i < a.size(); ++i) same += a[i] == c[i];
    CHECK(same < 5);
    // each draw advances the stream: the next draw differs from the first
    CHECK(g1.stream() == 1);
    const auto a2 = g1.normal(Shape{1000}, 0, 1, dtype).to_vector();
    CHECK(a2 != a);
    const auto s1 = g2.uniform(Shape{1000}, 0, 1, dtype).to_vector();  // stream 1
    const auto s0 = Generator(1234).uniform(Shape{1000}, 0, 1, dtype).to_vector();  // stream 0
    CHECK(s1 != s0);
    // rewinding the stream reproduces a draw
    g1.set_stream(0);
    CHECK(g1.normal(Shape{1000}, 0, 1, dtype).to_vector() == a);
    CHECK(g1.seed() == 1234);
  }
}

TEST_CASE("element i of a draw does not depend on the shape") {
  for (DType dtype : {DType::f32, DType::f64}) {
    Generator g1(7), g2(7), g3(7);
    const auto flat = g1.uniform(Shape{1000}, -2, 3, dtype).to_vector();
    const auto grid = g2.uniform(Shape{10, 100}, -2, 3, dtype).to_vector();
    const auto part = g3.uniform(Shape{250}, -2, 3, dtype).to_vector();
    CHECK(flat == grid);
    CHECK(std::equal(part.begin(), part.end(), flat.begin()));
  }
  // and the values are the documented Philox samples
  Generator g(99);
  g.set_stream(5);
  const auto v = g.normal(Shape{4}, 1.5, 2.0, DType::f64).to_vector();
  for (std::uint64_t i = 0; i < 4; ++i) CHECK(v[i] == philox::sample(1, 99, 5, i, 1.5, 2.0));
}

TEST_CASE("Philox-4x32-10 matches the Random123 known-answer vectors") {
  // kat_vectors from Random123: philox4x32 10 rounds
  const philox::Words z = philox::philox4x32(0, 0, 0, 0, 0, 0);
  CHECK(z.w[0] == 0x6627e8d5u);
  CHECK(z.w[1] == 0xe169c58du);
  CHECK(z.w[2] == 0xbc57ac4cu);
  CHECK(z.w[3] == 0x9b00dbd8u);
  const philox::Words f = philox::philox4x32(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu);
  CHECK(f.w[0] == 0x408f276du);
  CHECK(f.w[1] == 0x41c83b0eu);
  CHECK(f.w[2] == 0xa20bc7c6u);
  CHECK(f.w[3] == 0x6d5451fdu);
  const philox::Words p = philox::philox4x32(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u);
  CHECK(p.w[0] == 0xd16cfe09u);
  CHECK(p.w[1] == 0x94fdccebu);
  CHECK(p.w[2] == 0x5001e420u);
  CHECK(p.w[3] == 0x24126ea1u);
}

TEST_CASE("uniform draws lie in [lo, hi) with the right mean and variance") {
  for (DType dtype : {DType::f32, DType::f64}) {
    Generator g(42);
    const Tensor u = g.uniform(Shape{200000}, -1.0, 3.0, dtype);
    CHECK(u.dtype() == dtype);
    const Moments m = moments(u);
    CHECK(m.lo >= -1.0);
    CHECK(m.hi < 3.0);
    CHECK(m.lo < -0.999);
    CHECK(m.hi > 2.999);
    CHECK(m.mean == doctest::Approx(1.0).epsilon(0.01));      // sd of the mean: 0.0026
    CHECK(m.var == doctest::Approx(16.0 / 12.0).epsilon(0.01));
    // an interval 8 f32 ulps wide: rounding to f32 must not reach the open upper bound
    const double hi = 1.0 + std::ldexp(1.0, -20);
    const Moments n = moments(g.uniform(Shape{100000}, 1.0, hi, dtype));
    CHECK(n.lo >= 1.0);
    CHECK(n.hi < hi);
  }
}

TEST_CASE("normal draws have mean ~0 and std ~1, and scale with mean and std") {
  for (DType dtype : {DType::f32, DType::f64}) {
    Generator g(2024);
    const Moments m = moments(g.normal(Shape{200000}, 0.0, 1.0, dtype));
    CHECK(std::fabs(m.mean) < 0.01);                  // sd of the mean: 0.0022
    CHECK(std::fabs(std::sqrt(m.var) - 1.0) < 0.01);  // sd of the std: 0.0016
    CHECK(m.lo < -3.5);
    CHECK(m.hi > 3.5);
    const Moments s = moments(g.normal(Shape{200000}, 5.0, 0.5, dtype));
    CHECK(std::fabs(s.mean - 5.0) < 0.005);
    CHECK(std::fabs(std::sqrt(s.var) - 0.5) < 0.005);
    // fraction within one sigma is erf(1/sqrt2) = 0.6827
    const auto v = g.normal(Shape{100000}, 0, 1, dtype).to_vector();
    double inside = 0;
    for (double x : v) inside += std::fabs(x) < 1.0;
    CHECK(inside / 1e5 == doctest::Approx(0.6827).epsilon(0.01));
    CHECK(g.normal(Shape{100}, 3.0, 0.0, dtype).to_vector() == std::vector<double>(100, 3.0));
  }
}

TEST_CASE("rademacher draws are +-1 with mean ~0") {
  for (DType dtype : {DType::f32, DType::f64}) {
    Generator g(5);
    const auto v = g.rademacher(Shape{200, 500}, dtype).to_vector();
    double mean = 0;
    bool only_signs = true;
    for (double x : v) {
      only_signs = only_signs && (x == 1.0 || x == -1.0);
      mean += x;
    }
    mean /= static_cast<double>(v.size());
    CHECK(only_signs);
    CHECK(std::fabs(mean) < 0.01);  // sd of the mean: 0.0032
  }
}

TEST_CASE("random draws reject bad arguments") {
  Generator g(0);
  CHECK_THROWS_AS(g.uniform(Shape{3}, 2.0, 1.0), Error);
  CHECK_THROWS_AS(g.uniform(Shape{3}, 0.0, INFINITY), Error);
  CHECK_THROWS_AS(g.normal(Shape{3}, 0.0, -1.0), Error);
  CHECK_THROWS_AS(g.normal(Shape{3}, NAN, 1.0), Error);
  CHECK_THROWS_AS(g.rademacher(Shape{3}, DType::i64), Error);
}

TEST_CASE("uniform refuses bounds whose width overflows a double instead of drawing one value") {
  Generator g(3);
  tide::test::check_error([&] { g.uniform(Shape{4}, -1e308, 1e308, DType::f64); }, {"uniform", "-1e+308", "1e+308", "wider"});
  CHECK(g.stream() == 0);  // a refused draw takes no stream
  const auto v = g.uniform(Shape{1000}, -8e307, 8e307, DType::f64).to_vector();  // the widest that fits still spreads
  CHECK(*std::min_element(v.begin(), v.end()) < -7e307);
  CHECK(*std::max_element(v.begin(), v.end()) > 7e307);
}

TEST_CASE("uniform in f32 keeps to [lo, hi) when the bounds are not f32 values, and refuses bounds it cannot keep to") {
  Generator g(11);
  tide::test::check_error([&] { g.uniform(Shape{4}, -1e39, -1e38); }, {"uniform", "f32", "-1e+39"});
  tide::test::check_error([&] { g.uniform(Shape{4}, 0.0, 1e39); }, {"uniform", "f32", "1e+39"});
  tide::test::check_error([&] { g.uniform(Shape{4}, 1.0 - std::ldexp(1.0, -30), 1.0); }, {"uniform", "no f32 value"});
  CHECK(g.uniform(Shape{4}, -1e39, -1e38, DType::f64).dtype() == DType::f64);  // a double holds them
  // a lower bound between two f32 values: draws that round below it go up to the f32 value above it
  const double lo = 0.7, hi = 0.7 + std::ldexp(1.0, -20);
  const Moments m = moments(g.uniform(Shape{100000}, lo, hi));
  CHECK(m.lo >= lo);
  CHECK(m.hi < hi);
  // the one f32 value in [lo, hi) is 1, below hi: every draw is 1, none the f32 value below lo
  const auto one = g.uniform(Shape{1000}, 1.0 - std::ldexp(1.0, -25) - std::ldexp(1.0, -40), 1.0 + std::ldexp(1.0, -30)).to_vector();
  CHECK(one == std::vector<double>(1000, 1.0));
  // ordinary bounds: still the Philox sample rounded to f32
  g.set_stream(4);
  const auto v = g.uniform(Shape{1000}, -2.0, 3.0).to_vector();
  for (std::uint64_t i = 0; i < v.size(); ++i) CHECK(v[i] == static_cast<float>(philox::sample(0, 11, 4, i, -2.0, 3.0)));
}

TEST_CASE("uniform with lo == hi gives lo everywhere and takes a stream like any draw") {
  for (DType dtype : {DType::f32, DType::f64}) {
    Generator g(8), h(8);
    CHECK(g.uniform(Shape{5}, 0.1, 0.1, dtype).to_vector() == std::vector<double>(5, dtype == DType::f32 ? double(0.1f) : 0.1));
    CHECK(g.uniform(Shape{0}, 2.0, 2.0, dtype).numel() == 0);
    CHECK(g.uniform(Shape{3}, -0.0, 0.0, dtype).to_vector() == std::vector<double>(3, 0.0));  // xavier with gain 0
    CHECK(g.stream() == 3);
    h.set_stream(3);
    CHECK(g.normal(Shape{10}, 0, 1, dtype).to_vector() == h.normal(Shape{10}, 0, 1, dtype).to_vector());
  }
}

TEST_CASE("uniform in f32: a draw that rounds to an f32 upper bound below hi keeps it, and bounds past f32's range are refused") {
  Generator g(12);
  // [1 - 2^-24, 1 + 2^-30) holds two f32 values, 1 - 2^-24 and 1 (which is below hi): draws rounding
  // to 1 stay 1 (not pushed down to the value below, as if 1 were the open bound)
  const double below_one = 1.0 - std::ldexp(1.0, -24);
  const auto v = g.uniform(Shape{1000}, below_one, 1.0 + std::ldexp(1.0, -30)).to_vector();
  const auto ones = std::count(v.begin(), v.end(), 1.0);
  CHECK(ones > 300);
  CHECK(ones + std::count(v.begin(), v.end(), below_one) == 1000);
  // a bound just past f32's largest value: refused, compared as a double (not converted first)
  const double past = std::nextafter(static_cast<double>(std::numeric_limits<float>::max()), INFINITY);
  tide::test::check_error([&] { g.uniform(Shape{4}, 0.0, past); }, {"uniform", "f32", "do not fit"});
  tide::test::check_error([&] { g.uniform(Shape{4}, -past, 0.0); }, {"uniform", "f32", "do not fit"});
  const double most = std::numeric_limits<float>::max();  // the largest f32 still fits, as an upper and a lower bound
  CHECK(moments(g.uniform(Shape{100}, 0.0, most)).hi < most);
  CHECK(moments(g.uniform(Shape{100}, -most, -most / 2)).lo >= -most);
}

TEST_CASE("normal refuses a mean and std whose draws would pass the dtype's range; a bound that fits draws finite values") {
  Generator g(13);
  // |z| reaches sqrt(-2 ln 2^-53) = 8.57 (Box-Muller's smallest uniform): inf draws in f64, and in f32
  // a double past float's range (undefined to convert)
  tide::test::check_error([&] { g.normal(Shape{4}, 0.0, 1e300, DType::f32); }, {"normal", "1e+300", "f32"});
  tide::test::check_error([&] { g.normal(Shape{4}, 3e38, 1e38, DType::f32); }, {"normal", "3e+38", "1e+38", "f32"});
  tide::test::check_error([&] { g.normal(Shape{4}, 0.0, 1e308, DType::f64); }, {"normal", "1e+308", "f64"});
  tide::test::check_error([&] { g.normal(Shape{4}, 1e39, 0.0, DType::f32); }, {"normal", "1e+39", "f32"});
  CHECK(g.stream() == 0);  // a refused draw takes no stream
  for (DType dtype : {DType::f32, DType::f64}) {
    const double largest = dtype == DType::f32 ? std::numeric_limits<float>::max() : std::numeric_limits<double>::max();
    const Moments m = moments(g.normal(Shape{1000}, 0.0, largest / 9, dtype));
    CHECK(std::isfinite(m.lo));
    CHECK(std::isfinite(m.hi));
  }
}
