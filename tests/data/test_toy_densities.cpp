// The toy densities (data/vectors.hpp): every one f64 [n, D], finite and repeatable per seed, and a
// check per density that fails when its shape is drawn wrong (wrong scale, radius, centre, turn).
#include "data_test_util.hpp"
#include "tide/data/vectors.hpp"
#include <doctest/doctest.h>
#include <array>
#include <cmath>
#include <numbers>

using namespace tide;
using namespace tide::data;

namespace {

using std::numbers::pi;
using Point = std::array<double, 2>;

std::vector<Point> draw(const std::string& name, std::int64_t n, std::uint64_t seed = 7) {
  Generator gen(seed);
  const std::vector<double> v = toy_density(name, n, gen).to_vector();
  std::vector<Point> out(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = {v[2 * i], v[2 * i + 1]};
  return out;
}

double norm(Point p) { return std::hypot(p[0], p[1]); }

// The mean of f over the rows i with i % period == phase.
template <class F> double mean_of(const std::vector<Point>& points, std::size_t period, std::size_t phase, F f) {
  double sum = 0, count = 0;
  for (std::size_t i = phase; i < points.size(); i += period) sum += f(points[i]), count += 1;
  return sum / count;
}

// The smallest distance from p to the curve c(t), t on a grid of `steps` points in [lo, hi].
template <class Curve> double distance_to_curve(Point p, Curve c, double lo, double hi, int steps) {
  double best = INFINITY;
  for (int k = 0; k <= steps; ++k) {
    const Point q = c(lo + (hi - lo) * k / steps);
    best = std::min(best, std::hypot(p[0] - q[0], p[1] - q[1]));
  }
  return best;
}

double wrapped(double angle) { return std::remainder(angle, 2.0 * pi); }

}  // namespace

TEST_CASE("toy densities: f64 [n, D], finite, the same for a seed and different for another") {
  CHECK(toy_density_names() == std::vector<std::string>{"8gaussians", "pinwheel", "2spirals", "checkerboard", "moons",
                                                        "circles", "rings", "swissroll", "mog1d"});
  for (const std::string& name : toy_density_names()) {
    CAPTURE(name);
    const std::int64_t dims = name == "mog1d" ? 1 : 2;
    Generator a(3), b(3), c(4);
    const Tensor x = toy_density(name, 501, a);
    CHECK(x.dtype() == DType::f64);
    CHECK(x.shape() == Shape{501, dims});
    const std::vector<double> v = x.to_vector();
    CHECK(std::all_of(v.begin(), v.end(), [](double e) { return std::isfinite(e); }));
    CHECK(toy_density(name, 501, b).to_vector() == v);
    CHECK(toy_density(name, 501, c).to_vector() != v);
    CHECK(toy_density(name, 501, a).to_vector() != v);  // the generator moved on to fresh streams
    CHECK(toy_density(name, 0, a).shape() == Shape{0, dims});
  }
  Generator gen(0);
  CHECK_ERROR_NAMES(toy_density("nosuch", 3, gen), "unknown toy density 'nosuch' (known: 8gaussians, pinwheel");
  CHECK_ERROR_NAMES(toy_density("moons", -1, gen), "toy density 'moons': n = -1");
}

TEST_CASE("8gaussians: every point near one of the 8 centres on radius 4 / 1.414, each centre 8-17% of them") {
  const std::vector<Point> points = draw("8gaussians", 20000);
  const double sd = 0.5 / 1.414, h = 1.0 / std::sqrt(2.0);
  const Point centres[8] = {{1, 0}, {-1, 0}, {0, 1}, {0, -1}, {h, h}, {h, -h}, {-h, h}, {-h, -h}};
  std::array<int, 8> count{};
  int far = 0;
  for (const Point& p : points) {
    int nearest = 0;
    double best = INFINITY;
    for (int k = 0; k < 8; ++k) {
      const double d = std::hypot(p[0] - 4 * centres[k][0] / 1.414, p[1] - 4 * centres[k][1] / 1.414);
      if (d < best) best = d, nearest = k;
    }
    ++count[static_cast<std::size_t>(nearest)];
    far += best > 5 * sd;  // P(radius > 5 sd) = exp(-12.5): about 0.07 of 20,000 points
  }
  CHECK(far == 0);
  for (int c : count) CHECK((c >= 1600 && c <= 3400));
}

TEST_CASE("circles and rings: radii cluster at 3 and 1.5, and at 3, 2.25, 1.5, 0.75") {
  const std::vector<Point> circles = draw("circles", 4000);
  CHECK(mean_of(circles, 2, 0, norm) == doctest::Approx(3.0).epsilon(0.01));
  CHECK(mean_of(circles, 2, 1, norm) == doctest::Approx(1.5).epsilon(0.02));
  CHECK(mean_of(circles, 2, 0, [](Point p) { return std::abs(norm(p) - 3.0) < 0.75; }) > 0.99);
  CHECK(mean_of(circles, 2, 1, [](Point p) { return std::abs(norm(p) - 1.5) < 0.75; }) > 0.99);
  const std::vector<Point> rings = draw("rings", 4000);
  for (std::size_t r = 0; r < 4; ++r) {
    const double radius = 3.0 * static_cast<double>(4 - r) / 4.0;
    CHECK(mean_of(rings, 4, r, norm) == doctest::Approx(radius).epsilon(0.01));
    CHECK(mean_of(rings, 4, r, [&](Point p) { return std::abs(norm(p) - radius) < 0.3; }) > 0.99);
  }
}

TEST_CASE("moons: 2 x (outer upper half circle, inner lower one shifted by (1, 0.5)) + (-1, -0.2)") {
  const std::vector<Point> points = draw("moons", 4000);
  const auto outer = [](Point p) { return Point{(p[0] + 1) / 2, (p[1] + 0.2) / 2}; };
  const auto inner = [&](Point p) { return Point{outer(p)[0] - 1, outer(p)[1] - 0.5}; };
  CHECK(mean_of(points, 2, 0, [&](Point p) { return norm(outer(p)); }) == doctest::Approx(1.0).epsilon(0.02));
  CHECK(mean_of(points, 2, 1, [&](Point p) { return norm(inner(p)); }) == doctest::Approx(1.0).epsilon(0.02));
  CHECK(mean_of(points, 2, 0, [&](Point p) { return outer(p)[1] > -0.3; }) > 0.99);
  CHECK(mean_of(points, 2, 1, [&](Point p) { return inner(p)[1] < 0.3; }) > 0.99);
  CHECK(mean_of(points, 2, 0, [&](Point p) { return outer(p)[1]; }) == doctest::Approx(2 / pi).epsilon(0.05));
}

TEST_CASE("pinwheel: 5 arms at 2 pi k / 5, turned clockwise by 0.25 exp(radius) as FFJORD's einsum does") {
  const std::vector<Point> points = draw("pinwheel", 5000);
  CHECK(mean_of(points, 1, 0, norm) == doctest::Approx(2.0).epsilon(0.02));
  for (std::size_t arm = 0; arm < 5; ++arm) {
    const double close = mean_of(points, 5, arm, [&](Point p) {
      const double predicted = -(2 * pi * static_cast<double>(arm) / 5 + 0.25 * std::exp(norm(p) / 2));
      return std::abs(wrapped(std::atan2(p[1], p[0]) - predicted)) < 0.5;
    });
    CHECK(close > 0.99);
  }
}

TEST_CASE("2spirals: even rows on the arm (-m cos m, m sin m) / 3, odd rows on its mirror, m in [0, 3 pi]") {
  const std::vector<Point> points = draw("2spirals", 1000);
  for (std::size_t arm = 0; arm < 2; ++arm) {
    const double sign = arm == 0 ? 1.0 : -1.0;
    const auto spiral = [&](double m) {
      return Point{sign * (-std::cos(m) * m + 0.25) / 3, sign * (std::sin(m) * m + 0.25) / 3};
    };
    const double mean = mean_of(points, 2, arm, [&](Point p) { return distance_to_curve(p, spiral, 0, 3 * pi, 3000); });
    CHECK(mean < 0.2);  // noise 0.1 per axis and a uniform offset of at most 0.12: about 0.13
  }
}

TEST_CASE("checkerboard: points only on the 8 black squares of side 2 in [-4, 4)^2, each 8-17% of them") {
  const std::vector<Point> points = draw("checkerboard", 8000);
  std::array<int, 16> count{};
  for (const Point& p : points) {
    const auto col = static_cast<int>(std::floor(p[0] / 2)), row = static_cast<int>(std::floor(p[1] / 2));
    REQUIRE((col >= -2 && col < 2 && row >= -2 && row < 2));
    CHECK((col + row) % 2 == 0);
    ++count[static_cast<std::size_t>((row + 2) * 4 + col + 2)];
  }
  for (std::size_t s = 0; s < 16; ++s)
    if ((s / 4 + s % 4) % 2 == 0) CHECK((count[s] >= 640 && count[s] <= 1360));
}

TEST_CASE("swissroll: (t cos t, t sin t) / 5 for t in [1.5 pi, 4.5 pi], plus N(0, 1) / 5 noise") {
  const std::vector<Point> points = draw("swissroll", 1000);
  const auto roll = [](double t) { return Point{t * std::cos(t) / 5, t * std::sin(t) / 5}; };
  const double mean = mean_of(points, 1, 0, [&](Point p) { return distance_to_curve(p, roll, 1.5 * pi, 4.5 * pi, 3000); });
  CHECK(mean < 0.27);  // the noise's mean radius is 1.25 / 5 = 0.25; the curve is nearer still
  CHECK(mean > 0.1);
}

TEST_CASE("mog1d: 0.5 N(-2, 0.25) + 0.5 N(2, 0.25): mean 0, variance 4.25, a log density that integrates to 1") {
  Generator gen(11);
  const std::vector<double> x = toy_density("mog1d", 20000, gen).to_vector();
  double sum = 0, sum_sq = 0, in_right_bump = 0;
  for (double v : x) sum += v, sum_sq += v * v, in_right_bump += v > 1.5 && v < 2.5;
  const double mean = sum / 20000, variance = sum_sq / 20000 - mean * mean;
  CHECK(std::abs(mean) < 0.06);
  CHECK(variance == doctest::Approx(4.25).epsilon(0.02));
  double integral = 0, bump = 0;
  for (double t = -10; t < 10; t += 1e-3) {
    const double p = std::exp(mog1d_log_density(t + 5e-4));  // midpoint rule
    integral += p * 1e-3;
    if (t >= 1.5 && t < 2.5) bump += p * 1e-3;
  }
  CHECK(integral == doctest::Approx(1.0).epsilon(1e-6));
  CHECK(in_right_bump / 20000 == doctest::Approx(bump).epsilon(0.03));
  CHECK(mog1d_log_density(2.0) == doctest::Approx(-0.5 * std::log(2 * pi)).epsilon(1e-9));
  CHECK(mog1d_log_density(-2.0) == doctest::Approx(mog1d_log_density(2.0)));
  CHECK(std::isfinite(mog1d_log_density(1e3)));
}
