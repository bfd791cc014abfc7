// The device abstraction: every op reaches the backend of its tensors' device. A test backend that
// claims to be "cuda" and counts its calls (forwarding the work to the CPU backend, whose memory it
// shares) shows that ops dispatch through the interface, and that mixing devices is an error that
// names the op, the shapes and both devices.
#include "core_test_util.hpp"
#include "../forwarding_backend.hpp"
#include "tide/core/backend.hpp"
#include "tide/core/ops.hpp"
#include "tide/core/fused.hpp"
#include "tide/core/random.hpp"
#include <cmath>
#include <doctest/doctest.h>

using namespace tide;
using tide::test::check_error;

namespace {

// The forwarding "cuda" device with the fused kernels left to their primitive defaults.
struct Installed : test::ForwardingDevice {
  Installed() : ForwardingDevice(false) {}
};

}  // namespace

TEST_CASE("ops on a device's tensors run in that device's backend") {
  Installed dev;
  const Tensor a = Tensor::from_vector({1, 2, 3, 4}, Shape{2, 2}, DType::f64, Device::cuda());
  const Tensor b = Tensor::from_vector({1, 0, 0, 1}, Shape{2, 2}, DType::f64, Device::cuda());
  CHECK(a.device() == Device::cuda());
  const int before = dev.backend.kernel_calls;
  const Tensor y = sum(tanh(matmul(a, b) + a), {1});
  CHECK(dev.backend.kernel_calls - before >= 4);  // matmul, add, tanh, reduce
  CHECK(y.device() == Device::cuda());
  const auto v = y.to(Device::cpu()).to_vector();
  CHECK(v[0] == doctest::Approx(std::tanh(2.0) + std::tanh(4.0)));
  CHECK(v[1] == doctest::Approx(std::tanh(6.0) + std::tanh(8.0)));
}

TEST_CASE("mixing devices in one op names the op, the shapes and both devices") {
  Installed dev;
  const Tensor on_device = Tensor::ones(Shape{2, 3}, DType::f32, Device::cuda());
  const Tensor on_host = Tensor::ones(Shape{2, 3}, DType::f32);
  check_error([&] { add(on_device, on_host); }, {"add", "f32[2, 3]", "cuda:0", "cpu"});
  check_error([&] { matmul(on_host, on_device.transpose()); }, {"matmul", "cpu", "cuda:0"});
  check_error([&] { where(on_host, on_device, on_device); }, {"where", "cpu", "cuda:0"});
  check_error([&] { concat({on_host, on_device}, 0); }, {"concat", "cpu", "cuda:0"});
  check_error([&] { index_select(on_device, 0, Tensor::from_indices({0}, Shape{1})); }, {"index_select", "cuda:0", "cpu"});
}

TEST_CASE("to(device) refuses an undefined tensor, a moved-from device tensor included, either way") {
  Installed dev;
  Tensor on_device = Tensor::ones(Shape{2}, DType::f32, Device::cuda());
  const Tensor taken = std::move(on_device);
  CHECK(taken.device() == Device::cuda());
  check_error([&] { (void)on_device.to(Device::cuda()); }, {"to(cuda:0)", "undefined"});  // NOLINT(bugprone-use-after-move)
  check_error([&] { (void)on_device.to(Device::cpu()); }, {"to(cpu)", "undefined"});      // NOLINT(bugprone-use-after-move)
  check_error([] { (void)Tensor().to(Device::cpu()); }, {"to(cpu)", "undefined"});
}

TEST_CASE("scaled_row_norms' primitive default counts a zero error against a zero scale as 0, as the kernels do") {
  Installed dev;
  // row 0: a state held at 0 with atol 0 (0 / 0); row 1: a nonzero error there (infinite)
  const Tensor e = Tensor::from_vector({0.0, 1e-4, 2e-4, 1e-4}, Shape{2, 2}, DType::f64);
  const Tensor ab = Tensor::from_vector({0.0, 1.0, 0.0, 1.0}, Shape{2, 2}, DType::f64);
  const Tensor atol = Tensor::from_vector({0.0, 1e-6}, Shape{2}, DType::f64), rtol = Tensor::from_vector({1e-3, 1e-3}, Shape{2}, DType::f64),
               mask = Tensor::ones(Shape{2}, DType::f64);
  const auto host = scaled_row_norms(e, ab, ab, atol, rtol, mask).to_vector();
  const auto on = [](const Tensor& t) { return t.to(Device::cuda()); };
  const auto fallback = scaled_row_norms(on(e), on(ab), on(ab), on(atol), on(rtol), on(mask)).to(Device::cpu()).to_vector();
  CHECK(host[0] == doctest::Approx(std::pow(1e-4 / 1.001e-3, 2)));  // the second entry only
  CHECK(std::isinf(host[2]));
  CHECK(fallback == host);
}

TEST_CASE("fused kernels: the CPU loops, the primitive defaults (through a forwarding device) and a reference agree") {
  Installed dev;
  Generator g(11);
  for (DType dt : {DType::f64, DType::f32}) {
    const Tensor base = g.uniform(Shape{5, 3}, -1, 1, dt), x0 = g.uniform(Shape{5, 3}, -1, 1, dt),
                 x1 = g.uniform(Shape{5, 3}, -1, 1, dt), scale = g.uniform(Shape{5}, 0.5, 2, DType::f64);
    const std::vector<double> c{0.25, -2.0};
    const Tensor host = linear_combination(base, {x0, x1}, c, scale);
    const Tensor dev_out = linear_combination(base.to(Device::cuda()), {x0.to(Device::cuda()), x1.to(Device::cuda())}, c,
                                              scale.to(Device::cuda()));
    CHECK(dev_out.device() == Device::cuda());
    const auto hb = base.to_vector(), h0 = x0.to_vector(), h1 = x1.to_vector(), hs = scale.to_vector();
    const auto got = host.to_vector(), got_dev = dev_out.to(Device::cpu()).to_vector();
    const double tol = dt == DType::f64 ? 1e-14 : 1e-6;
    for (std::size_t i = 0; i < got.size(); ++i) {
      const double ref = hb[i] + hs[i / 3] * (c[0] * h0[i] + c[1] * h1[i]);
      CHECK(std::abs(got[i] - ref) <= tol);
      CHECK(std::abs(got_dev[i] - ref) <= tol);
    }
    const Tensor no_base = linear_combination(Tensor(), {x0}, {3.0});
    CHECK(no_base.to_vector()[4] == doctest::Approx(3.0 * h0[4]));

    Tensor b = x1.clone();
    if (dt == DType::f64) b = Tensor::from_vector([&] { auto v = h1; v[7] = INFINITY; return v; }(), Shape{5, 3}, dt);
    const Tensor atol = Tensor::from_vector({1e-3, 1e-3, 1e-3}, Shape{3}, DType::f64),
                 rtol = Tensor::from_vector({1e-2, 1e-3, 0.0}, Shape{3}, DType::f64),
                 mask = Tensor::from_vector({1, 0, 1}, Shape{3}, DType::f64);
    const auto n_host = scaled_row_norms(x0, base, b, atol, rtol, mask).to_vector();
    const auto n_dev = scaled_row_norms(x0.to(Device::cuda()), base.to(Device::cuda()), b.to(Device::cuda()),
                                        atol.to(Device::cuda()), rtol.to(Device::cuda()), mask.to(Device::cuda()))
                           .to(Device::cpu()).to_vector();
    const auto hbb = b.to_vector();
    const std::vector<double> at{1e-3, 1e-3, 1e-3}, rt{1e-2, 1e-3, 0.0}, mk{1, 0, 1};
    for (int r = 0; r < 5; ++r) {
      double s = 0, mx = 0;
      bool finite = true;
      for (int i = 0; i < 3; ++i) {
        finite = finite && std::isfinite(hbb[r * 3 + i]);
        if (mk[i] == 0) continue;
        const double q = h0[r * 3 + i] / (at[i] + rt[i] * std::max(std::abs(hb[r * 3 + i]), std::abs(hbb[r * 3 + i])));
        s += q * q;
        mx = std::max(mx, std::abs(q));
      }
      if (!finite) s = mx = INFINITY;
      for (const auto* v : {&n_host, &n_dev}) {
        if (std::isinf(s)) { CHECK(std::isinf((*v)[2 * r])); CHECK(std::isinf((*v)[2 * r + 1])); continue; }
        CHECK((*v)[2 * r] == doctest::Approx(s).epsilon(1e-5));
        CHECK((*v)[2 * r + 1] == doctest::Approx(mx).epsilon(1e-5));
      }
    }
  }
  check_error([&] { linear_combination(Tensor(), {Tensor::ones(Shape{2, 2})}, {1.0, 2.0}); }, {"linear_combination", "1 terms but 2 coefficients"});
  check_error([&] { linear_combination(Tensor(), {Tensor::ones(Shape{2, 2})}, {1.0}, Tensor::ones(Shape{3})); }, {"row_scale", "[3]", "[2]"});
  check_error([&] { scaled_row_norms(Tensor::ones(Shape{2, 2}), Tensor::ones(Shape{2, 2}), Tensor::ones(Shape{2, 2}),
                                     Tensor::ones(Shape{3}, DType::f64), Tensor::ones(Shape{2}, DType::f64), Tensor::ones(Shape{2}, DType::f64)); },
              {"scaled_row_norms", "atol", "f64[2]"});
}

TEST_CASE("combination_row_norms: the CPU's one pass over stages sliced out of a packed tensor equals the two kernels it fuses") {
  Installed dev;
  Generator g(12);
  for (DType dt : {DType::f64, DType::f32}) {
    CAPTURE(std::string(dtype_name(dt)));
    // three stages side by side in one [4, 3 * 5] tensor, as a compiled Runge-Kutta step returns them
    const Tensor packed = g.uniform(Shape{4, 15}, -1, 1, dt), a = g.uniform(Shape{4, 5}, -1, 1, dt);
    const std::vector<Tensor> ks{packed.slice(1, 0, 5), packed.slice(1, 5, 10), packed.slice(1, 10, 15)};
    const Tensor b = ks[2], h = g.uniform(Shape{4}, 0.01, 0.1, dt);
    const std::vector<double> c{0.1, 0.0, -0.7};
    const Tensor atol = Tensor::full(Shape{5}, 1e-4, DType::f64), rtol = Tensor::full(Shape{5}, 1e-3, DType::f64),
                 mask = Tensor::from_vector({1, 1, 0, 1, 1}, Shape{5}, DType::f64);
    const auto want = scaled_row_norms(linear_combination(Tensor(), ks, c, h), a, b, atol, rtol, mask).to_vector();
    CHECK(combination_row_norms(ks, c, h, a, b, atol, rtol, mask).to_vector() == want);  // the same arithmetic
    auto on = [](const Tensor& x) { return x.to(Device::cuda()); };
    const Tensor packed_dev = on(packed);
    const std::vector<Tensor> ks_dev{packed_dev.slice(1, 0, 5), packed_dev.slice(1, 5, 10), packed_dev.slice(1, 10, 15)};
    const auto composed = combination_row_norms(ks_dev, c, on(h), on(a), ks_dev[2], on(atol), on(rtol), on(mask));
    CHECK(composed.device() == Device::cuda());
    const auto got = composed.to(Device::cpu()).to_vector();  // the primitive defaults: equal up to rounding
    for (std::size_t i = 0; i < want.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(dt == DType::f64 ? 1e-12 : 1e-5));
  }
  check_error([&] { combination_row_norms({Tensor::ones(Shape{2, 2})}, {1.0}, Tensor(), Tensor::ones(Shape{2, 3}),
                                          Tensor::ones(Shape{2, 3}), Tensor::ones(Shape{3}, DType::f64),
                                          Tensor::ones(Shape{3}, DType::f64), Tensor::ones(Shape{3}, DType::f64)); },
              {"combination_row_norms", "a term", "[2, 2]", "[2, 3]"});
}
