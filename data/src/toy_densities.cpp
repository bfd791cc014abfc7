// The toy densities of FFJORD (Grathwohl et al. 2019, lib/toy_data.py) and STEER's 1-D mixture,
// drawn with tide's Generator. Each follows FFJORD's recipe and scale (sklearn's make_swiss_roll,
// make_circles and make_moons for those three); the differences: angles are uniform where sklearn
// spaces them evenly, and row i belongs to class i mod (number of classes) where FFJORD stacks the
// classes and shuffles.
#include "tide/core/error.hpp"
#include "tide/core/named.hpp"
#include "tide/data/vectors.hpp"
#include <algorithm>
#include <cmath>
#include <numbers>

namespace tide::data {
namespace {

using std::numbers::pi;

// n draws from the Generator's next stream, f64 on the CPU.
std::vector<double> uniforms(Generator& gen, std::int64_t n, double lo = 0.0, double hi = 1.0) {
  return gen.uniform(Shape{n}, lo, hi, DType::f64, Device::cpu()).to_vector();
}
std::vector<double> normals(Generator& gen, std::int64_t n, double std = 1.0) {
  return gen.normal(Shape{n}, 0.0, std, DType::f64, Device::cpu()).to_vector();
}
std::size_t at(std::int64_t i) { return static_cast<std::size_t>(i); }

// sklearn make_swiss_roll(noise=1.0): t = 1.5 pi (1 + 2u), (t cos t, t sin t) + N(0, 1), then / 5.
std::vector<double> swissroll(std::int64_t n, Generator& gen) {
  const std::vector<double> u = uniforms(gen, n), noise = normals(gen, 2 * n);
  std::vector<double> xy(at(2 * n));
  for (std::int64_t i = 0; i < n; ++i) {
    const double t = 1.5 * pi * (1.0 + 2.0 * u[at(i)]);
    xy[at(2 * i)] = (t * std::cos(t) + noise[at(2 * i)]) / 5.0;
    xy[at(2 * i + 1)] = (t * std::sin(t) + noise[at(2 * i + 1)]) / 5.0;
  }
  return xy;
}

// sklearn make_circles(factor=0.5, noise=0.08): radius 1 (even rows) or 0.5 (odd rows) plus
// N(0, 0.08^2), then times 3.
std::vector<double> circles(std::int64_t n, Generator& gen) {
  const std::vector<double> angle = uniforms(gen, n, 0.0, 2.0 * pi), noise = normals(gen, 2 * n, 0.08);
  std::vector<double> xy(at(2 * n));
  for (std::int64_t i = 0; i < n; ++i) {
    const double r = i % 2 == 0 ? 1.0 : 0.5;
    xy[at(2 * i)] = 3.0 * (r * std::cos(angle[at(i)]) + noise[at(2 * i)]);
    xy[at(2 * i + 1)] = 3.0 * (r * std::sin(angle[at(i)]) + noise[at(2 * i + 1)]);
  }
  return xy;
}

// Four circles of radii 1, 3/4, 1/2, 1/4 (row i on circle i mod 4), times 3, plus N(0, 0.08^2).
std::vector<double> rings(std::int64_t n, Generator& gen) {
  const std::vector<double> angle = uniforms(gen, n, 0.0, 2.0 * pi), noise = normals(gen, 2 * n, 0.08);
  std::vector<double> xy(at(2 * n));
  for (std::int64_t i = 0; i < n; ++i) {
    const double r = static_cast<double>(4 - i % 4) / 4.0;
    xy[at(2 * i)] = 3.0 * r * std::cos(angle[at(i)]) + noise[at(2 * i)];
    xy[at(2 * i + 1)] = 3.0 * r * std::sin(angle[at(i)]) + noise[at(2 * i + 1)];
  }
  return xy;
}

// sklearn make_moons(noise=0.1): the outer moon (cos a, sin a) on even rows, the inner one
// (1 - cos a, 1 - sin a - 0.5) on odd rows, a in [0, pi), plus N(0, 0.1^2); then 2 x + (-1, -0.2).
std::vector<double> moons(std::int64_t n, Generator& gen) {
  const std::vector<double> a = uniforms(gen, n, 0.0, pi), noise = normals(gen, 2 * n, 0.1);
  std::vector<double> xy(at(2 * n));
  for (std::int64_t i = 0; i < n; ++i) {
    const double c = std::cos(a[at(i)]), s = std::sin(a[at(i)]);
    const bool outer = i % 2 == 0;
    xy[at(2 * i)] = 2.0 * ((outer ? c : 1.0 - c) + noise[at(2 * i)]) - 1.0;
    xy[at(2 * i + 1)] = 2.0 * ((outer ? s : 0.5 - s) + noise[at(2 * i + 1)]) - 0.2;
  }
  return xy;
}

// A centre of 8 equally likely ones on the circle of radius 4, plus N(0, 0.5^2); then / 1.414.
std::vector<double> eight_gaussians(std::int64_t n, Generator& gen) {
  const double h = 1.0 / std::sqrt(2.0);
  const double centres[8][2] = {{1, 0}, {-1, 0}, {0, 1}, {0, -1}, {h, h}, {h, -h}, {-h, h}, {-h, -h}};
  const std::vector<double> pick = uniforms(gen, n), noise = normals(gen, 2 * n, 0.5);
  std::vector<double> xy(at(2 * n));
  for (std::int64_t i = 0; i < n; ++i) {
    const auto k = std::min<std::size_t>(7, static_cast<std::size_t>(8.0 * pick[at(i)]));
    xy[at(2 * i)] = (4.0 * centres[k][0] + noise[at(2 * i)]) / 1.414;
    xy[at(2 * i + 1)] = (4.0 * centres[k][1] + noise[at(2 * i + 1)]) / 1.414;
  }
  return xy;
}

// 5 arms (row i in arm i mod 5): f = N(0, 1) (0.3, 0.1) + (1, 0), angle = 2 pi arm / 5 +
// 0.25 exp(f0), then 2 f R with R = [[cos, -sin], [sin, cos]] (FFJORD's einsum "ti,tij->tj": the
// row vector f times R, a clockwise turn by the angle).
std::vector<double> pinwheel(std::int64_t n, Generator& gen) {
  const std::vector<double> f = normals(gen, 2 * n);
  std::vector<double> xy(at(2 * n));
  for (std::int64_t i = 0; i < n; ++i) {
    const double radial = 0.3 * f[at(2 * i)] + 1.0, tangential = 0.1 * f[at(2 * i + 1)];
    const double angle = 2.0 * pi * static_cast<double>(i % 5) / 5.0 + 0.25 * std::exp(radial);
    const double c = std::cos(angle), s = std::sin(angle);
    xy[at(2 * i)] = 2.0 * (radial * c + tangential * s);
    xy[at(2 * i + 1)] = 2.0 * (-radial * s + tangential * c);
  }
  return xy;
}

// m = sqrt(u) 540 (2 pi / 360), d = (-m cos m + u1 / 2, m sin m + u2 / 2); d on even rows, -d on
// odd ones; / 3, plus N(0, 0.1^2).
std::vector<double> two_spirals(std::int64_t n, Generator& gen) {
  const std::vector<double> u = uniforms(gen, n), u1 = uniforms(gen, n), u2 = uniforms(gen, n);
  const std::vector<double> noise = normals(gen, 2 * n, 0.1);
  std::vector<double> xy(at(2 * n));
  for (std::int64_t i = 0; i < n; ++i) {
    const double m = std::sqrt(u[at(i)]) * 540.0 * (2.0 * pi) / 360.0, sign = i % 2 == 0 ? 1.0 : -1.0;
    xy[at(2 * i)] = sign * (-std::cos(m) * m + 0.5 * u1[at(i)]) / 3.0 + noise[at(2 * i)];
    xy[at(2 * i + 1)] = sign * (std::sin(m) * m + 0.5 * u2[at(i)]) / 3.0 + noise[at(2 * i + 1)];
  }
  return xy;
}

// x1 = U[-2, 2), x2 = U[0, 1) - 2 Bernoulli(1/2) + (floor(x1) mod 2), then times 2: uniform on
// the 8 squares of a 4 x 4 board of side 2 where floor(x1 / 2) + floor(x2 / 2) is even.
std::vector<double> checkerboard(std::int64_t n, Generator& gen) {
  const std::vector<double> x1 = uniforms(gen, n, -2.0, 2.0), u = uniforms(gen, n), coin = uniforms(gen, n);
  std::vector<double> xy(at(2 * n));
  for (std::int64_t i = 0; i < n; ++i) {
    const double column_parity = std::floor(x1[at(i)]) - 2.0 * std::floor(std::floor(x1[at(i)]) / 2.0);  // Python's % 2
    xy[at(2 * i)] = 2.0 * x1[at(i)];
    xy[at(2 * i + 1)] = 2.0 * (u[at(i)] - (coin[at(i)] < 0.5 ? 2.0 : 0.0) + column_parity);
  }
  return xy;
}

// 0.5 N(-2, 0.5^2) + 0.5 N(2, 0.5^2).
constexpr double kMogMean = 2.0, kMogStd = 0.5;
std::vector<double> mog1d(std::int64_t n, Generator& gen) {
  const std::vector<double> pick = uniforms(gen, n), z = normals(gen, n);
  std::vector<double> x(at(n));
  for (std::int64_t i = 0; i < n; ++i) x[at(i)] = (pick[at(i)] < 0.5 ? -kMogMean : kMogMean) + kMogStd * z[at(i)];
  return x;
}

struct Toy {
  std::vector<double> (*sample)(std::int64_t n, Generator& gen);  // n x dims values, row-major
  std::int64_t dims;
};
constexpr Named<Toy> kToys[] = {
    {"8gaussians", {eight_gaussians, 2}}, {"pinwheel", {pinwheel, 2}}, {"2spirals", {two_spirals, 2}},
    {"checkerboard", {checkerboard, 2}},  {"moons", {moons, 2}},       {"circles", {circles, 2}},
    {"rings", {rings, 2}},                {"swissroll", {swissroll, 2}}, {"mog1d", {mog1d, 1}},
};

}  // namespace

std::vector<std::string> toy_density_names() { return names_of(kToys); }

Tensor toy_density(const std::string& name, std::int64_t n, Generator& gen) {
  const Toy& toy = lookup(kToys, name, "toy density");
  if (n < 0) fail("toy density '{}': n = {} samples (must be >= 0)", name, n);
  return Tensor::from_vector(toy.sample(n, gen), Shape{n, toy.dims}, DType::f64, Device::cpu());
}

double mog1d_log_density(double x) {
  // log(0.5 N(x; -2, s^2) + 0.5 N(x; 2, s^2)) by log-sum-exp of the two components' exponents
  const double a = -0.5 * std::pow((x + kMogMean) / kMogStd, 2), b = -0.5 * std::pow((x - kMogMean) / kMogStd, 2);
  const double top = std::max(a, b);
  return std::log(0.5) - std::log(kMogStd) - 0.5 * std::log(2.0 * pi) + top + std::log(std::exp(a - top) + std::exp(b - top));
}

}  // namespace tide::data
