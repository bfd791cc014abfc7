// The CUDA backend beyond the harness: shapes that take the kernels' other paths (large and
// strided reductions, batched and transposed GEMMs, big strided copies), the RNG against the CPU,
// the caching allocator, CUDA Graph capture and replay, and the errors.
#include "cuda_test_util.hpp"
#include "../core/core_test_util.hpp"

using namespace tide;
using tide::test::check_error;
using tide::test::relative_gap;

namespace {
Tensor on_gpu(const Tensor& t) { return t.to(Device::cuda()); }
}  // namespace

TEST_CASE("cuda: reductions on every path (serial, one warp per output, chunked) match the CPU") {
  if (test::no_gpu()) return;
  Generator g(3);
  const Tensor big = g.uniform(Shape{1 << 20}, -1, 1, DType::f64);
  CHECK(relative_gap(sum(on_gpu(big)), sum(big)) <= 1e-12);
  CHECK(relative_gap(max(on_gpu(big)), max(big)) == 0);
  const Tensor tall = g.uniform(Shape{70000, 5}, -1, 1, DType::f64);
  CHECK(relative_gap(sum(on_gpu(tall), {0}), sum(tall, {0})) <= 1e-12);
  CHECK(relative_gap(min(on_gpu(tall), {1}), min(tall, {1})) == 0);
  const Tensor wide = g.uniform(Shape{3, 100000}, -1, 1, DType::f32);
  CHECK(relative_gap(sum(on_gpu(wide), {1}), sum(wide, {1})) <= 1e-5);
  const Tensor cube = g.uniform(Shape{7, 33, 65}, -1, 1, DType::f64);
  for (const std::vector<std::int64_t>& axes : std::vector<std::vector<std::int64_t>>{{0}, {1}, {2}, {0, 2}, {1, 2}, {}}) {
    CHECK(relative_gap(sum(on_gpu(cube), axes), sum(cube, axes)) <= 1e-12);
    CHECK(relative_gap(max(on_gpu(cube).permute(Shape{2, 0, 1}), axes), max(cube.permute(Shape{2, 0, 1}), axes)) == 0);
  }
  // NaN propagates through max as on the CPU.
  const Tensor with_nan = Tensor::from_vector({1, NAN, 3, 4}, Shape{2, 2}, DType::f64);
  CHECK(std::isnan(max(on_gpu(with_nan), {1}).to_vector()[0]));
}

TEST_CASE("cuda: GEMMs with transposed, batched and broadcast operands match the CPU") {
  if (test::no_gpu()) return;
  Generator g(4);
  for (DType dt : {DType::f64, DType::f32}) {
    const double tol = dt == DType::f64 ? 1e-12 : 1e-5;
    const Tensor a = g.uniform(Shape{5, 37, 19}, -1, 1, dt), b = g.uniform(Shape{5, 19, 23}, -1, 1, dt), w = g.uniform(Shape{19, 23}, -1, 1, dt);
    CHECK(relative_gap(matmul(on_gpu(a), on_gpu(b)), matmul(a, b)) <= tol);
    CHECK(relative_gap(matmul(on_gpu(a), on_gpu(w)), matmul(a, w)) <= tol);  // one GEMM over all rows
    CHECK(relative_gap(matmul(on_gpu(a).transpose(), on_gpu(a)), matmul(a.transpose(), a)) <= tol);
    CHECK(relative_gap(matmul(on_gpu(w).transpose(), on_gpu(a).transpose()), matmul(w.transpose(), a.transpose())) <= tol);
    const Tensor a4 = g.uniform(Shape{2, 1, 4, 6}, -1, 1, dt), b4 = g.uniform(Shape{3, 6, 5}, -1, 1, dt);
    CHECK(relative_gap(matmul(on_gpu(a4), on_gpu(b4)), matmul(a4, b4)) <= tol);  // broadcast batch
    const Tensor v = g.uniform(Shape{19}, -1, 1, dt);
    CHECK(relative_gap(matmul(on_gpu(a), on_gpu(v)), matmul(a, v)) <= tol);
    CHECK(relative_gap(matmul(on_gpu(v), on_gpu(w)), matmul(v, w)) <= tol);
    CHECK(relative_gap(matmul(on_gpu(a).slice(2, 0, 19, 2), on_gpu(w).slice(0, 0, 19, 2)),
                       matmul(a.slice(2, 0, 19, 2), w.slice(0, 0, 19, 2))) <= tol);
  }
}

TEST_CASE("cuda: strided elementwise ops, casts and large tensors match the CPU") {
  if (test::no_gpu()) return;
  Generator g(5);
  const Tensor x = g.uniform(Shape{64, 48, 3}, -2, 2, DType::f64), y = g.uniform(Shape{48, 1}, -2, 2, DType::f64);
  const Tensor xp = x.permute(Shape{1, 0, 2}), xd = on_gpu(x).permute(Shape{1, 0, 2});
  CHECK(relative_gap(tanh(xd), tanh(xp)) <= 1e-14);
  CHECK(relative_gap(xd * on_gpu(y).unsqueeze(0).transpose(0, 1), xp * y.unsqueeze(0).transpose(0, 1)) <= 1e-15);
  CHECK(relative_gap(xd.contiguous(), xp.contiguous()) == 0);
  CHECK(relative_gap(on_gpu(x).to(DType::f32).to(DType::f64), x.to(DType::f32).to(DType::f64)) == 0);
  CHECK(on_gpu(Tensor::arange(5, DType::i64)).to_indices() == std::vector<std::int64_t>{0, 1, 2, 3, 4});
  const Tensor large = g.uniform(Shape{1 << 22}, -1, 1, DType::f32);
  CHECK(relative_gap(sigmoid(on_gpu(large)) + on_gpu(large), sigmoid(large) + large) <= 1e-6);
  Tensor target = on_gpu(Tensor::zeros(Shape{4, 4}, DType::f64));
  target.slice(1, 1, 3).copy_(on_gpu(Tensor::ones(Shape{4, 1}, DType::f64)));
  CHECK(sum(target).item() == 8.0);
}

TEST_CASE("cuda: the fused dense layer matches the CPU on its kernel's sizes and on the fallback") {
  if (test::no_gpu()) return;
  Generator g(8);
  struct Size { std::int64_t m, k, n; };
  for (const Size s : {Size{1000, 64, 64}, Size{256, 64, 64}, Size{7, 3, 10}, Size{130, 17, 33}, Size{64, 128, 128}, Size{5, 96, 64}}) {
    INFO(s.m << "x" << s.k << "x" << s.n);
    const Tensor x = g.uniform(Shape{s.m, s.k}, -1, 1), w = g.uniform(Shape{s.k, s.n}, -0.3, 0.3), b = g.uniform(Shape{s.n}, -1, 1);
    CHECK(relative_gap(dense(on_gpu(x), on_gpu(w), on_gpu(b), Op::tanh), dense(x, w, b, Op::tanh)) <= 1e-5);
    CHECK(relative_gap(dense(on_gpu(x), on_gpu(w), Tensor()), dense(x, w, Tensor())) <= 1e-5);
    CHECK(relative_gap(dense(on_gpu(x), on_gpu(w), on_gpu(b), Op::elu, 0.5), dense(x, w, b, Op::elu, 0.5)) <= 1e-5);
  }
  const Tensor x64 = g.uniform(Shape{9, 4}, -1, 1, DType::f64), w64 = g.uniform(Shape{4, 6}, -1, 1, DType::f64);
  CHECK(relative_gap(dense(on_gpu(x64), on_gpu(w64), Tensor(), Op::sin), dense(x64, w64, Tensor(), Op::sin)) <= 1e-14);
  // An MLP evaluated without recording takes the fused path; recorded, the primitives: same values.
  DeviceGuard guard(Device::cuda());
  const MLP mlp({8, 64, 64, 8}, Activation::tanh, g);
  const Var in(g.uniform(Shape{300, 8}, -1, 1));
  Tensor fused;
  {
    NoGrad ng;
    fused = mlp(in).value();
  }
  CHECK(relative_gap(fused, mlp(in).value()) <= 1e-5);
}

TEST_CASE("cuda: the RNG draws the CPU's numbers") {
  if (test::no_gpu()) return;
  for (DType dt : {DType::f64, DType::f32}) {
    Generator cpu(77), gpu(77);
    CHECK(relative_gap(gpu.uniform(Shape{1000}, -1, 3, dt, Device::cuda()), cpu.uniform(Shape{1000}, -1, 3, dt)) == 0);
    CHECK(relative_gap(gpu.rademacher(Shape{1000}, dt, Device::cuda()), cpu.rademacher(Shape{1000}, dt)) == 0);
    // Box-Muller's log, sqrt and cos: the GPU's libm may differ from glibc's in the last bit.
    CHECK(relative_gap(gpu.normal(Shape{1000}, 0.5, 2, dt, Device::cuda()), cpu.normal(Shape{1000}, 0.5, 2, dt)) <=
          (dt == DType::f64 ? 1e-15 : 1e-6));
  }
}

TEST_CASE("cuda: the caching allocator serves a warm loop without cudaMalloc") {
  if (test::no_gpu()) return;
  DeviceGuard guard(Device::cuda());
  Generator g(6);
  const Var w = Var::parameter(g.uniform(Shape{32, 32}, -0.3, 0.3, DType::f32));
  const Tensor x = g.uniform(Shape{128, 32}, -1, 1, DType::f32);
  auto iteration = [&] {
    const Var loss = sum(tanh(matmul(Var(x), w)) * tanh(matmul(Var(x), w)));
    (void)grad({loss}, {w});
  };
  iteration();
  cuda::synchronize();
  const auto before = cuda::memory_counters();
  for (int i = 0; i < 20; ++i) iteration();
  cuda::synchronize();
  const auto after = cuda::memory_counters();
  CHECK(after.device_mallocs == before.device_mallocs);
  CHECK(after.in_use_bytes == before.in_use_bytes);
  CHECK(after.reserved_bytes >= after.in_use_bytes);
  cuda::empty_cache();
  CHECK(cuda::memory_counters().reserved_bytes <= after.reserved_bytes);
}

TEST_CASE("cuda: a captured RK4 step replays to the eager result, and capture refuses host traffic") {
  if (test::no_gpu()) return;
  DeviceGuard guard(Device::cuda());
  Generator g(7);
  const Tensor w1 = g.uniform(Shape{16, 32}, -0.3, 0.3, DType::f64), w2 = g.uniform(Shape{32, 16}, -0.3, 0.3, DType::f64);
  const Tensor b1 = g.uniform(Shape{32}, -0.1, 0.1, DType::f64);
  auto f = [&](const Tensor& z) { return matmul(tanh(matmul(z, w1) + b1), w2); };
  const double h = 0.05;
  auto rk4 = [&](const Tensor& y) {
    const Tensor k1 = f(y), k2 = f(linear_combination(y, {k1}, {h / 2})), k3 = f(linear_combination(y, {k2}, {h / 2})),
                 k4 = f(linear_combination(y, {k3}, {h}));
    return linear_combination(y, {k1, k2, k3, k4}, {h / 6, h / 3, h / 3, h / 6});
  };
  const Tensor y0 = g.uniform(Shape{64, 16}, -1, 1, DType::f64);
  Tensor eager = y0;
  for (int i = 0; i < 10; ++i) eager = rk4(eager);

  Tensor state = y0.clone();
  cuda::Graph graph;
  graph.capture([&] { state.copy_(rk4(state)); });
  CHECK(graph.captured());
  CHECK(graph.nodes() >= 4 * 3 + 4);
  CHECK(relative_gap(state, y0) == 0);  // capture records, it does not run
  const auto mallocs = cuda::memory_counters().device_mallocs;
  for (int i = 0; i < 10; ++i) graph.replay();
  CHECK(relative_gap(state, eager) <= 1e-13);
  CHECK(cuda::memory_counters().device_mallocs == mallocs);

  cuda::Graph bad;
  check_error([&] { bad.capture([&] { (void)sum(state).item(); }); }, {"graph", "captured", "item"});
  cuda::Graph bad2;
  check_error([&] { bad2.capture([&] { (void)Tensor::from_vector({1.0}, Shape{1}, DType::f64); }); }, {"host data", "captured"});
  // The stream is usable after a failed capture.
  CHECK(sum(on_gpu(Tensor::ones(Shape{3}))).item() == 3.0);
  cuda::Graph empty;
  check_error([&] { empty.replay(); }, {"nothing captured"});
}

TEST_CASE("cuda: errors name the device, the op and the index") {
  if (test::no_gpu()) return;
  check_error([&] { Tensor::zeros(Shape{2}, DType::f32, Device::cuda(1)); }, {"cuda:1", "not available"});
  const Tensor d = on_gpu(Tensor::ones(Shape{2, 3}));
  check_error([&] { add(d, Tensor::ones(Shape{2, 3})); }, {"add", "cuda:0", "cpu"});
  const Tensor bad = on_gpu(Tensor::from_indices({0, 7}, Shape{2}));
  check_error([&] { (void)index_select(d, 1, bad).to_vector(); }, {"index_select", "index 7", "[0, 3)"});
  CHECK(sum(d).item() == 6.0);  // the report was consumed; the device goes on
  check_error([&] { (void)Tensor::empty(Shape{std::int64_t(1) << 46}, DType::f64, Device::cuda()); }, {"out of device memory"});
}

TEST_CASE("cuda: the CPU's edge cases (found by reading the kernels): empty kept axes, empty slabs, NaN in a, i64 conversions, graph pools") {
  if (test::no_gpu()) return;
  // a reduction of >= 32 elements into an empty output (the chunk count divided by 0)
  const Tensor empty_rows = on_gpu(Tensor::zeros(Shape{0, 64}, DType::f32));
  CHECK(sum(empty_rows, {1}).shape() == Shape{0});
  CHECK(max(empty_rows, {1}).shape() == Shape{0});
  // index ops over an empty slab still check their indices
  check_error([&] { (void)index_select(on_gpu(Tensor::zeros(Shape{0, 3})), 1, on_gpu(Tensor::from_indices({7}, Shape{1}))); },
              {"index_select", "index 7", "[0, 3)"});
  check_error([&] { (void)index_add(on_gpu(Tensor::zeros(Shape{0, 1})), 1, on_gpu(Tensor::from_indices({7}, Shape{1})), 3); },
              {"index_add", "index 7", "[0, 3)"});
  // scaled_row_norms keeps a NaN in a (the max takes it: a NaN quotient, the row +inf), as the CPU;
  // b finite, so only a's NaN can flag the row (fmax dropped it: a finite norm)
  const Tensor e = Tensor::from_vector({1e-3, 1e-3}, Shape{1, 2}, DType::f64), a = Tensor::from_vector({NAN, 1.0}, Shape{1, 2}, DType::f64);
  const Tensor b = Tensor::ones(Shape{1, 2}, DType::f64);
  const Tensor tol = Tensor::from_vector({1e-6, 1e-6}, Shape{2}, DType::f64), mask = Tensor::ones(Shape{2}, DType::f64);
  const auto host = scaled_row_norms(e, a, b, tol, tol, mask).to_vector();
  const auto dev = scaled_row_norms(on_gpu(e), on_gpu(a), on_gpu(b), on_gpu(tol), on_gpu(tol), on_gpu(mask)).to(Device::cpu()).to_vector();
  CHECK(std::isinf(host[0]));
  CHECK(dev == host);
  // lincomb: no nonzero term reads no row scale (an infinite one gave NaN)
  const Tensor base = Tensor::ones(Shape{2, 2}, DType::f64), x = Tensor::ones(Shape{2, 2}, DType::f64);
  const Tensor inf_scale = Tensor::full(Shape{2}, INFINITY, DType::f64);
  CHECK(relative_gap(linear_combination(on_gpu(base), {on_gpu(x)}, {0.0}, on_gpu(inf_scale)), linear_combination(base, {x}, {0.0}, inf_scale)) == 0);
  // float -> i64 refuses what has no i64 value, as the CPU does
  check_error([&] { (void)on_gpu(Tensor::from_vector({1.0, NAN}, Shape{2}, DType::f64)).to(DType::i64); }, {"no i64 value"});
  check_error([&] { (void)Tensor::full(Shape{2}, INFINITY, DType::i64, Device::cuda()); }, {"no i64 value"});
  CHECK(on_gpu(Tensor::from_vector({-2.7, 2.7}, Shape{2}, DType::f64)).to(DType::i64).to(Device::cpu()).to_indices() == std::vector<std::int64_t>{-2, 2});
  // a graph's private pool, freed with the graph, leaves the reserved bytes
  cuda::synchronize();
  const auto before = cuda::memory_counters().reserved_bytes;
  {
    DeviceGuard guard(Device::cuda());
    Tensor out;
    cuda::Graph graph;
    graph.capture([&] { out = Tensor::zeros(Shape{1 << 20}, DType::f32); });
    CHECK(cuda::memory_counters().reserved_bytes > before);
  }
  CHECK(cuda::memory_counters().reserved_bytes == before);
}
