// The fused kernels: dense() (act(x @ w + b)) against the composition of primitives and a reference
// in double, the synapse kernels, linear combinations and error norms against their definitions.
#include "core_test_util.hpp"
#include "tide/core/fused.hpp"
#include "tide/core/ops.hpp"
#include "tide/core/backend.hpp"
#include "cpu/synapse_kernels.hpp"
#include "../compare.hpp"
#include <bit>
#include <cmath>
#include <tuple>
#include "tide/core/random.hpp"

using namespace tide;
using tide::test::check_error;

TEST_CASE("dense equals matmul + bias + activation, and names bad shapes") {
  Generator g(31);
  const Tensor x = g.uniform(Shape{2, 5, 3}, -1, 1, DType::f64), w = g.uniform(Shape{3, 4}, -1, 1, DType::f64),
               b = g.uniform(Shape{4}, -1, 1, DType::f64);
  const Tensor y = dense(x, w, b, Op::tanh);
  CHECK(y.shape() == Shape{2, 5, 4});
  const auto xv = x.to_vector(), wv = w.to_vector(), bv = b.to_vector(), yv = y.to_vector();
  for (int r = 0; r < 10; ++r)
    for (int c = 0; c < 4; ++c) {
      double s = bv[c];
      for (int q = 0; q < 3; ++q) s += xv[r * 3 + q] * wv[q * 4 + c];
      CHECK(yv[r * 4 + c] == doctest::Approx(std::tanh(s)).epsilon(1e-14));
    }
  CHECK(max(abs(dense(x, w, Tensor()) - matmul(x, w))).item() == 0.0);
  CHECK(max(abs(dense(x, w, b, Op::leaky_relu, 0.2) - leaky_relu(matmul(x, w) + b, 0.2))).item() <= 1e-15);
  check_error([&] { dense(x, w.transpose(), b); }, {"dense", "[2, 5, 3]", "4 rows"});
  check_error([&] { dense(x, w, Tensor::ones(Shape{3}, DType::f64)); }, {"dense", "bias", "[3]", "4 columns"});
  check_error([&] { dense(x, w, b, Op::add); }, {"dense", "activation add"});
}

// The CPU backend adds the bias and applies the activation in one pass (the bias repeated over a
// few rows as one pattern), and adds a bias to narrow rows a pattern at a time. Bias only: the same
// values, to the bit, as matmul then + bias. With an activation, within 4 ulp of the ops one after
// the other: the compiler contracts multiplies and adds into FMAs differently in the one-pass loop
// for some activations (softplus and elu in an AVX-512 build differ in the last bits; the others
// matched to the bit in a review's sweep). Widths around the patterns' sizes.
TEST_CASE("dense's one-pass bias and activation equal matmul, then + bias, then the activation") {
  Generator g(37);
  const std::vector<std::pair<Op, double>> acts{{Op::tanh, 0.0},  {Op::sigmoid, 0.0}, {Op::softplus, 0.0}, {Op::relu, 0.0},
                                                {Op::leaky_relu, 0.2}, {Op::elu, 1.0}, {Op::silu, 0.0},     {Op::gelu, 0.0},
                                                {Op::sin, 0.0},   {Op::exp, 0.0},     {Op::square, 0.0}};
  for (DType dt : {DType::f32, DType::f64})
    for (std::int64_t m : {1, 3, 8, 65, 513})
      for (std::int64_t n : {1, 2, 4, 5, 15, 16, 17, 32, 63, 100, 255, 256, 257, 300}) {
        CAPTURE(dtype_name(dt));
        CAPTURE(m);
        CAPTURE(n);
        const Tensor x = g.uniform(Shape{m, 3}, -3, 3, dt), w = g.uniform(Shape{3, n}, -3, 3, dt), b = g.uniform(Shape{n}, -3, 3, dt);
        const Tensor pre = matmul(x, w) + b;
        CHECK(max(abs(dense(x, w, b) - pre)).item() == 0.0);
        const double eps = dt == DType::f32 ? 0x1p-23 : 0x1p-52;
        for (const auto& [op, p0] : acts) {
          CAPTURE(std::string(op_name(op)));
          const Tensor want = unary(op, pre, p0);
          const double worst = max(abs(dense(x, w, b, op, p0) - want) / binary(Op::maximum, abs(want), Tensor::ones(Shape{}, dt))).item();
          CHECK(worst <= 4 * eps);
        }
      }
}

TEST_CASE("synapse_sums equals its definition in f64 and f32, with and without starting sums") {
  // B = 6 and N = 37 reach every path of the CPU kernel: blocks of 4 samples x 16 units, a single
  // sample, the plain loop for the last 5 units; scale 100 makes |sigma (x - mu)| large (clamped).
  const std::int64_t B = 6, P = 5, N = 37;
  for (DType dtype : {DType::f64, DType::f32})
    for (double scale : {2.0, 100.0}) {
      CAPTURE(dtype_name(dtype));
      CAPTURE(scale);
      Generator g(41);
      const Tensor pre = g.normal(Shape{B, P}, 0, scale, dtype), w = g.uniform(Shape{P, N}, 0, 1, dtype),
                   sigma = g.uniform(Shape{P, N}, -8, 8, dtype), mu = g.uniform(Shape{P, N}, -1, 1, dtype),
                   erev = g.uniform(Shape{P, N}, -1, 1, dtype), num0 = g.normal(Shape{B, N}, 0, 1, dtype),
                   den0 = g.uniform(Shape{B, N}, 0, 1, dtype);
      const SynapseSums plain = synapse_sums(pre, w, sigma, mu, erev);
      const SynapseSums started = synapse_sums(pre, w, sigma, mu, erev, num0, den0);
      const auto x = pre.to_vector(), wv = w.to_vector(), sv = sigma.to_vector(), mv = mu.to_vector(),
                 ev = erev.to_vector(), n0 = num0.to_vector(), d0 = den0.to_vector();
      const auto pn = plain.num.to_vector(), pd = plain.den.to_vector(), sn = started.num.to_vector(),
                 sd = started.den.to_vector();
      const double tol = dtype == DType::f64 ? 1e-14 : 2e-6;
      for (std::int64_t b = 0; b < B; ++b)
        for (std::int64_t i = 0; i < N; ++i) {
          double num = 0, den = 0;
          for (std::int64_t j = 0; j < P; ++j) {
            const std::int64_t k = j * N + i;
            const double a = wv[k] / (1 + std::exp(-sv[k] * (x[b * P + j] - mv[k])));
            num += a * ev[k], den += a;
          }
          const std::int64_t o = b * N + i;
          CAPTURE(b);
          CAPTURE(i);
          CHECK(pn[o] == doctest::Approx(num).epsilon(tol).scale(1));
          CHECK(pd[o] == doctest::Approx(den).epsilon(tol).scale(1));
          CHECK(sn[o] == doctest::Approx(n0[o] + num).epsilon(tol).scale(1));
          CHECK(sd[o] == doctest::Approx(d0[o] + den).epsilon(tol).scale(1));
        }
      CHECK(num0.to_vector() == n0);  // the starting sums are inputs only
    }
}

TEST_CASE("synapse_sums: a NaN input poisons its own sample's sums only") {
  for (DType dtype : {DType::f64, DType::f32}) {
    CAPTURE(dtype_name(dtype));
    Generator g(43);
    const std::int64_t B = 8, P = 3, N = 32;
    std::vector<double> x = g.normal(Shape{B, P}, 0, 1, DType::f64).to_vector();
    x[5 * P + 1] = NAN;
    const Tensor pre = Tensor::from_vector(x, Shape{B, P}, dtype);
    const Tensor w = g.uniform(Shape{P, N}, 0, 1, dtype), s = g.uniform(Shape{P, N}, 3, 8, dtype),
                 m = g.uniform(Shape{P, N}, 0, 1, dtype), e = g.uniform(Shape{P, N}, -1, 1, dtype);
    const auto num = synapse_sums(pre, w, s, m, e).num.to_vector();
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t i = 0; i < N; ++i) CHECK(std::isnan(num[b * N + i]) == (b == 5));
  }
}

TEST_CASE("synapse_sums names bad shapes and mixed dtypes") {
  const Tensor pre = Tensor::zeros(Shape{2, 3}), w = Tensor::zeros(Shape{3, 4});
  check_error([&] { synapse_sums(pre, Tensor::zeros(Shape{4, 4}), w, w, w); }, {"synapse_sums", "w must be [3, N]", "[4, 4]"});
  check_error([&] { synapse_sums(pre, w, Tensor::zeros(Shape{3, 5}), w, w); }, {"synapse_sums", "sigma", "[3, 5]"});
  check_error([&] { synapse_sums(pre, w, w, w, Tensor::zeros(Shape{3, 4}, DType::f64)); }, {"synapse_sums"});
  check_error([&] { synapse_sums(pre, w, w, w, w, Tensor::zeros(Shape{2, 5})); }, {"synapse_sums", "num0", "[2, 5]", "[2, 4]"});
  check_error([&] { synapse_sums(Tensor::zeros(Shape{3}), w, w, w, w); }, {"synapse_sums", "pre must be [B, P]"});
}

TEST_CASE("the synapse forward's AVX-512, AVX2 and plain kernels agree with the composite default: remainders, clamps, start sums, NaN") {
  Generator gen(23);
  for (auto [B, P, N] : {std::tuple{5, 3, 37}, std::tuple{64, 16, 64}, std::tuple{9, 2, 16}, std::tuple{2, 2, 7}})
    for (double spread : {1.0, 60.0}) {  // 60: inputs far enough out that the kernels clamp u
      std::vector<double> x = gen.uniform(Shape{B, P}, -spread, spread, DType::f64).to_vector();
      if (B > 4) x[static_cast<std::size_t>(4 * P)] = NAN;  // sample 4's sums are NaN, its block's others not
      const Tensor pre = Tensor::from_vector(x, Shape{B, P}, DType::f32), w = gen.uniform(Shape{P, N}, 0.1, 1.0),
                   sigma = gen.uniform(Shape{P, N}, 3.0, 8.0), mu = gen.uniform(Shape{P, N}, 0.3, 0.8),
                   erev = gen.uniform(Shape{P, N}, -1.0, 1.0), n0 = gen.normal(Shape{B, N}, 0.0, 1.0),
                   d0 = gen.uniform(Shape{B, N}, 0.0, 1.0);
      for (bool start : {false, true}) {
        const Tensor want_n = Tensor::empty(Shape{B, N}), want_d = Tensor::empty(Shape{B, N});
        backend_for(Device::cpu()).Backend::synapse_sums(  // the Backend default: primitives
            pre, w, sigma, mu, erev, start ? n0 : Tensor(), start ? d0 : Tensor(), want_n, want_d);
        for (cpu::SimdLevel level : {cpu::SimdLevel::plain, cpu::SimdLevel::avx2, cpu::SimdLevel::avx512}) {
          const Tensor got_n = Tensor::empty(Shape{B, N}), got_d = Tensor::empty(Shape{B, N});
          if (!cpu::synapse_sums_with(level, pre, w, sigma, mu, erev, start ? n0 : Tensor(), start ? d0 : Tensor(), got_n, got_d)) {
            MESSAGE("skipped: this CPU lacks SIMD level " << static_cast<int>(level));
            continue;
          }
          INFO("B " << B << " P " << P << " N " << N << " spread " << spread << " start " << start << " level " << static_cast<int>(level));
          const auto gn = got_n.to_vector(), gd = got_d.to_vector(), wn = want_n.to_vector(), wd = want_d.to_vector();
          double worst = 0;
          for (std::size_t k = 0; k < gn.size(); ++k) {
            const bool nan_row = B > 4 && static_cast<std::int64_t>(k) / N == 4;
            CHECK(std::isnan(gn[k]) == nan_row);
            CHECK(std::isnan(gd[k]) == nan_row);
            if (nan_row) continue;
            worst = std::max({worst, std::fabs(gn[k] - wn[k]) / (1.0 + std::fabs(wn[k])), std::fabs(gd[k] - wd[k]) / (1.0 + std::fabs(wd[k]))});
          }
          CHECK(worst <= 1e-5);
        }
      }
    }
}

TEST_CASE("the synapse backward's AVX-512, AVX2 and plain kernels agree with the composite default, with remainder columns") {
  Generator gen(21);
  for (auto [B, P, N] : {std::tuple{5, 3, 37}, std::tuple{64, 16, 64}, std::tuple{2, 2, 7}}) {
    const Tensor pre = gen.uniform(Shape{B, P}, -1.0, 1.0), w = gen.uniform(Shape{P, N}, 0.1, 1.0),
                 sigma = gen.uniform(Shape{P, N}, 3.0, 8.0), mu = gen.uniform(Shape{P, N}, 0.3, 0.8),
                 erev = gen.uniform(Shape{P, N}, -1.0, 1.0), gn = gen.normal(Shape{B, N}, 0.0, 1.0),
                 gd = gen.normal(Shape{B, N}, 0.0, 1.0);
    auto outs = [&] {
      return std::vector<Tensor>{Tensor::empty(Shape{B, P}), Tensor::empty(Shape{P, N}), Tensor::empty(Shape{P, N}),
                                 Tensor::empty(Shape{P, N}), Tensor::empty(Shape{P, N})};
    };
    std::vector<Tensor> want = outs();
    backend_for(Device::cpu()).Backend::synapse_sums_backward(  // the Backend default: primitives
        pre, w, sigma, mu, erev, gn, gd, want[0], want[1], want[2], want[3], want[4]);
    for (cpu::SimdLevel level : {cpu::SimdLevel::plain, cpu::SimdLevel::avx2, cpu::SimdLevel::avx512}) {
      std::vector<Tensor> got = outs();
      if (!cpu::synapse_backward_with(level, pre, w, sigma, mu, erev, gn, gd, got[0], got[1], got[2], got[3], got[4])) {
        MESSAGE("skipped: this CPU lacks SIMD level " << static_cast<int>(level));
        continue;
      }
      for (std::size_t k = 0; k < got.size(); ++k) {
        INFO("B " << B << " P " << P << " N " << N << " level " << static_cast<int>(level) << " output " << k);
        CHECK(test::max_rel_diff(got[k], want[k]) <= 2e-5);
      }
    }
  }
}

TEST_CASE("dense_stack equals chained dense calls, in row blocks and whole, and names the layer at fault") {
  Generator g(32);
  for (const DType dt : {DType::f64, DType::f32}) {
    // 3,001 rows: row blocks (64 KB of the widest activation: 256 rows of 32 in f64) with a remainder
    const Tensor x = g.uniform(Shape{3001, 4}, -2, 2, dt);
    const std::vector<DenseLayer> layers{{g.uniform(Shape{4, 32}, -1, 1, dt), g.uniform(Shape{32}, -1, 1, dt), Op::softplus, 0.0},
                                         {g.uniform(Shape{32, 16}, -1, 1, dt), Tensor(), Op::leaky_relu, 0.1},
                                         {g.uniform(Shape{16, 3}, -1, 1, dt), g.uniform(Shape{3}, -1, 1, dt), std::nullopt, 0.0}};
    Tensor chained = x;
    for (const DenseLayer& l : layers) chained = dense(chained, l.w, l.b, l.act, l.p0);
    const double tol = dt == DType::f64 ? 1e-13 : 1e-5;
    for (const Tensor& input : {x, x.slice(0, 0, 20), x.reshape(Shape{3001, 1, 4})}) {
      CAPTURE(input.shape().str());
      const Tensor stacked = dense_stack(input, layers);
      const Tensor expect = input.rank() == 3 ? chained.reshape(Shape{3001, 1, 3}) : chained.slice(0, 0, input.shape()[0]);
      CHECK(stacked.shape() == expect.shape());
      CHECK(tide::test::max_rel_diff(stacked, expect) <= tol);
    }
  }
  const Tensor x = g.uniform(Shape{8, 4}, -1, 1);
  const Tensor w1 = g.uniform(Shape{4, 5}, -1, 1), w2 = g.uniform(Shape{6, 2}, -1, 1);
  check_error([&] { dense_stack(x, {{w1, Tensor(), std::nullopt, 0.0}, {w2, Tensor(), std::nullopt, 0.0}}); }, {"dense_stack", "layer 1's input of 5 features", "6 rows"});
  check_error([&] { dense_stack(x, {{w2, Tensor(), std::nullopt, 0.0}}); }, {"dense_stack", "input [8, 4]", "6 rows"});
  check_error([&] { dense_stack(x, {}); }, {"dense_stack", "no layers"});
  check_error([&] { dense(x, w1, Tensor(), Op::clamp, 1.0); }, {"dense", "clamp"});
  check_error([&] { dense(x, w1, Tensor(), Op::leaky_relu, NAN); }, {"leaky_relu", "slope"});
}

TEST_CASE("linear_combination equals a row-by-row reference to the bit, with and without row scales and a base, across blocks of rows") {
  // Rows of 4 (several blocks of unscaled rows; scaled f32 on AVX-512: 8 rows per vector step),
  // 13 and 7 rows of 4 (a remainder past the vector steps, and no whole step), 5,003 rows of 2 (a
  // remainder), rows of 5,000 (three rows per block) and of 20,000 (one per block), rows of 64 and
  // 33 (one at a time when scaled), rows of 1. The base's first row is -0.0 (kept by a term-free
  // sum, turned to +0.0 by a zero term's absence: only terms with a coefficient count).
  const std::vector<std::pair<std::int64_t, std::int64_t>> shapes{{5000, 4}, {13, 4}, {7, 4}, {5003, 2}, {7, 5000},
                                                                  {2, 20000}, {3, 1}, {300, 64}, {5, 33}};
  const std::vector<std::vector<double>> coefficient_sets{{0.1, 0.0, -2.0 / 3.0}, {0.0, 0.0, 0.0}};
  for (const auto& [n, d] : shapes) {
    for (const DType dt : {DType::f32, DType::f64}) {
      CAPTURE(n);
      CAPTURE(d);
      Generator g(11);
      std::vector<double> base_values = g.uniform(Shape{n, d}, -1, 1, dt).to_vector();
      std::fill(base_values.begin(), base_values.begin() + d, -0.0);
      const Tensor base = Tensor::from_vector(base_values, Shape{n, d}, dt);
      const Tensor x0 = g.uniform(Shape{n, d}, -1, 1, dt), x1 = g.uniform(Shape{n, d}, -1, 1, dt),
                   x2 = g.uniform(Shape{n, d}, -1, 1, dt), scale = g.uniform(Shape{n}, 0.01, 0.3, dt);
      for (const std::vector<double>& c : coefficient_sets)
        for (const bool scaled : {false, true})
          for (const bool with_base : {true, false}) {
            CAPTURE(c[0]);
            CAPTURE(scaled);
            CAPTURE(with_base);
            const Tensor got = linear_combination(with_base ? base : Tensor(), {x0, x1, x2}, c, scaled ? scale : Tensor());
            auto reference = [&](auto tag) {
              using T = decltype(tag);
              const std::vector<double> a[3] = {x0.to_vector(), x1.to_vector(), x2.to_vector()};
              const auto sv = scale.to_vector();
              std::vector<double> want(base_values.size());
              for (std::int64_t r = 0; r < n; ++r) {
                const double s = scaled ? sv[static_cast<std::size_t>(r)] : 1.0;
                for (std::int64_t i = 0; i < d; ++i) {
                  const auto e = static_cast<std::size_t>(r * d + i);
                  T o = with_base ? static_cast<T>(base_values[e]) : T(0);
                  for (std::size_t j = 0; j < 3; ++j)
                    if (c[j] != 0.0) o += static_cast<T>(c[j] * s) * static_cast<T>(a[j][e]);
                  want[e] = o;
                }
              }
              return want;
            };
            const std::vector<double> want = dt == DType::f32 ? reference(float{}) : reference(double{});
            const std::vector<double> have = got.to_vector();
            std::size_t differ = 0;  // bit patterns: -0.0 and +0.0 differ
            for (std::size_t e = 0; e < want.size(); ++e)
              differ += std::bit_cast<std::uint64_t>(have[e]) != std::bit_cast<std::uint64_t>(want[e]);
            CHECK(differ == 0);
          }
    }
  }
}

namespace {
// scaled_row_norms' contract as one loop per row: masked elements skipped, a non-finite b or sum
// makes both of the row's values +inf.
std::vector<double> row_norms_reference(const std::vector<double>& e, const std::vector<double>& a,
                                        const std::vector<double>& b, const std::vector<double>& atol,
                                        const std::vector<double>& rtol, const std::vector<double>& mask, std::size_t d) {
  std::vector<double> out;
  for (std::size_t r = 0; r * d < e.size(); ++r) {
    double s = 0.0, mx = 0.0;
    bool finite = true;
    for (std::size_t i = 0; i < d; ++i) {
      const std::size_t k = r * d + i;
      finite = finite && std::isfinite(b[k]);
      if (mask[i] == 0.0) {
        finite = finite && std::isfinite(e[k]);  // a masked error that is not finite is not left out
        continue;
      }
      const double scale = atol[i] + rtol[i] * std::max(std::fabs(a[k]), std::fabs(b[k]));
      const double q = e[k] == 0.0 ? 0.0 : e[k] / scale;  // a zero error counts 0, against a zero scale too
      s += q * q;
      mx = std::max(mx, std::fabs(q));
    }
    if (!finite || !std::isfinite(s)) s = mx = INFINITY;
    out.push_back(s);
    out.push_back(mx);
  }
  return out;
}
}  // namespace

TEST_CASE("scaled_row_norms and combination_row_norms equal one loop per row to the bit: masks, non-finite values, blocks, changed tolerances") {
  // rows narrower than a block (several rows per block), of 256 and 300 elements (one row per
  // block); rows of 1 to 4 elements take unrolled loops (with more than one row)
  for (const auto& [n, d] : std::vector<std::pair<std::int64_t, std::int64_t>>{{1, 1}, {50, 1}, {40, 2}, {70, 3}, {130, 4}, {9, 7}, {5, 256}, {3, 300}}) {
    for (const DType dt : {DType::f32, DType::f64}) {
      CAPTURE(n);
      CAPTURE(d);
      CAPTURE(std::string(dtype_name(dt)));
      Generator g(static_cast<std::uint64_t>(17 + d));
      const auto nd = static_cast<std::size_t>(n * d), du = static_cast<std::size_t>(d);
      std::vector<double> e = g.uniform(Shape{n, d}, -1e-3, 1e-3, DType::f64).to_vector(),
                          a = g.uniform(Shape{n, d}, -2, 2, DType::f64).to_vector(),
                          b = g.uniform(Shape{n, d}, -2, 2, DType::f64).to_vector(), mask(du, 1.0);
      if (d > 1) mask[1] = 0.0;
      e[nd - 1] = NAN;                      // the last row: NaN error (masked or not)
      if (d > 1) e[du + 1] = NAN;           // masked, but not finite: +inf all the same
      if (n > 8 && d > 1) e[8 * du + 1] = 5.0;  // masked and finite: no effect
      if (n > 2) b[2 * du] = INFINITY;      // a non-finite b: +inf even where masked
      if (n > 3 && d > 1) b[3 * du + 1] = NAN;
      if (n > 4) a[4 * du] = NAN;           // NaN in a: the max takes it, the quotient is NaN
      if (n > 5) e[5 * du] = INFINITY;
      if (n > 6) a[6 * du] = b[6 * du] = 0.0;  // with atol_0 = 0 below: a division by zero
      if (n > 7) a[7 * du] = b[7 * du] = e[7 * du] = 0.0;  // a state held at 0: 0 / 0 counts 0
      if (d > 2) mask[du - 1] = 0.5;         // a weight other than 0 or 1 still counts the element
      auto as = [&](const std::vector<double>& v) { return Tensor::from_vector(v, Shape{n, d}, dt); };
      auto back = [&](const std::vector<double>& v) { return as(v).to_vector(); };  // rounded to dt
      // changed tolerances, then the mask alone: the kernel's kept tolerances must follow
      for (int setting = 0; setting < 3; ++setting) {
        const double rt = setting == 0 ? 1e-3 : 0.25;
        std::vector<double> atol(du), rtol(du);
        for (std::size_t i = 0; i < du; ++i) atol[i] = 1e-6 * static_cast<double>(i + 1), rtol[i] = rt / static_cast<double>(i + 1);
        if (setting > 0) atol[0] = 0.0;
        if (setting == 2) mask[0] = mask[0] == 0.0 ? 1.0 : 0.0;
        const Tensor at = Tensor::from_vector(atol, Shape{d}, DType::f64), rtt = Tensor::from_vector(rtol, Shape{d}, DType::f64),
                     mk = Tensor::from_vector(mask, Shape{d}, DType::f64);
        const std::vector<double> want = row_norms_reference(back(e), back(a), back(b), atol, rtol, mask, du);
        CHECK(scaled_row_norms(as(e), as(a), as(b), at, rtt, mk).to_vector() == want);
        if (n > 1) {  // fewer rows with the same tolerances (a block of fewer rows)
          const std::int64_t m = n / 2;
          const std::vector<double> first(want.begin(), want.begin() + 2 * m);
          CHECK(scaled_row_norms(as(e).slice(0, 0, m), as(a).slice(0, 0, m), as(b).slice(0, 0, m), at, rtt, mk).to_vector() == first);
        }
        // a and b as columns of wider tensors (rows apart), the error as a one-term combination
        const Tensor wide_a = concat({as(a), as(b)}, 1), wide_b = concat({as(e), as(b)}, 1);
        const Tensor got = combination_row_norms({as(e)}, {1.0}, Tensor(), wide_a.slice(1, 0, d), wide_b.slice(1, d, 2 * d), at, rtt, mk);
        CHECK(got.to_vector() == want);
        // terms whose rows lie apart, with row scales: as the combination made whole, then its norms
        const Tensor h = g.uniform(Shape{n}, 0.01, 0.5, dt);
        const std::vector<double> c{0.5, 0.0, -1.25};
        const std::vector<Tensor> apart{wide_a.slice(1, 0, d), wide_b.slice(1, 0, d), wide_a.slice(1, d, 2 * d)};
        const std::vector<Tensor> whole{apart[0].contiguous(), apart[1].contiguous(), apart[2].contiguous()};
        CHECK(combination_row_norms(apart, c, h, as(a), as(b), at, rtt, mk).to_vector() ==
              scaled_row_norms(linear_combination(Tensor(), whole, c, h), as(a), as(b), at, rtt, mk).to_vector());
      }
    }
  }
}
