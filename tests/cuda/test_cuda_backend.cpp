// The CUDA backend beyond the harness: shapes that take the kernels' other paths (large and
// strided reductions, batched and transposed GEMMs, big strided copies), the RNG against the CPU,
// the caching allocator, CUDA Graph capture and replay, and the errors.
#include "cuda_test_util.hpp"
#include "../core/core_test_util.hpp"
#include "cuda/gemm_chunks.hpp"

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
    // widths whose product with the unit draw is inexact: a contracted a + (b - a) * u (one FMA
    // rounding instead of two) differed from the CPU in the last bit for about half the draws
    for (const double bound : {0.3, 0.17677669529663687}) {
      INFO("uniform in [" << -bound << ", " << bound << "), " << dtype_name(dt));
      CHECK(relative_gap(gpu.uniform(Shape{1000}, -bound, bound, dt, Device::cuda()), cpu.uniform(Shape{1000}, -bound, bound, dt)) == 0);
    }
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
  // float -> i64 refuses what has no i64 value, as the CPU does (at the next synchronisation)
  check_error([&] { (void)on_gpu(Tensor::from_vector({1.0, NAN}, Shape{2}, DType::f64)).to(DType::i64).to(Device::cpu()); },
              {"converting f64[2]", "nan (element 1)", "no i64 value"});
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

namespace {
// What cublas<t>gemmStridedBatched computes (column-major, alpha 1, beta 0 or 1) on host arrays,
// after checking its argument rules: every int within the limit, each ld at least its rows.
void run_like_cublas(const cuda::CublasGemm& g, std::int64_t limit, const double* a, const double* b, double* c) {
  for (const std::int64_t v : {g.m, g.n, g.k, g.batch, g.ld_a, g.ld_b, g.ld_c}) REQUIRE((v >= 1 && v <= limit));
  REQUIRE(g.ld_b >= (g.trans_b ? g.k : g.m));
  REQUIRE(g.ld_a >= (g.trans_a ? g.n : g.k));
  REQUIRE(g.ld_c >= g.m);
  for (int i = 0; i < g.batch; ++i) {
    const double* pb = b + g.offset_b + i * g.stride_b;
    const double* pa = a + g.offset_a + i * g.stride_a;
    double* pc = c + g.offset_c + i * g.stride_c;
    for (int col = 0; col < g.n; ++col)
      for (int row = 0; row < g.m; ++row) {
        double s = g.accumulate ? pc[row + col * g.ld_c] : 0.0;
        for (int q = 0; q < g.k; ++q)
          s += (g.trans_b ? pb[q + row * g.ld_b] : pb[row + q * g.ld_b]) * (g.trans_a ? pa[col + q * g.ld_a] : pa[q + col * g.ld_a]);
        pc[row + col * g.ld_c] = s;
      }
  }
}

// The product by its row-major definition: A[i][r, q] at i * sa + (trans ? q * ld + r : r * ld + q), B likewise.
std::vector<double> direct_product(const cuda::GemmProblem& p, const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> c(static_cast<std::size_t>(p.batch * p.rows * p.n));
  for (std::int64_t i = 0; i < p.batch; ++i)
    for (std::int64_t r = 0; r < p.rows; ++r)
      for (std::int64_t j = 0; j < p.n; ++j) {
        double s = 0;
        for (std::int64_t q = 0; q < p.k; ++q)
          s += a[i * p.a_batch_stride + (p.a.trans ? q * p.a.ld + r : r * p.a.ld + q)] *
               b[i * p.b_batch_stride + (p.b.trans ? j * p.b.ld + q : q * p.b.ld + j)];
        c[(i * p.rows + r) * p.n + j] = s;
      }
  return c;
}
}  // namespace

TEST_CASE("cuda: a product past cuBLAS's int range is split into calls within it (the chunking run with a limit of 3)") {
  // No GPU needed: the calls gemm_chunks.hpp makes are run as cuBLAS would run them, on the host.
  constexpr std::int64_t limit = 3;
  int chunked = 0, refused = 0;
  for (const std::int64_t rows : {1, 2, 4, 7})
    for (const std::int64_t n : {1, 3, 4})
      for (const std::int64_t k : {1, 3, 8})
        for (const std::int64_t batch : {1, 2, 7})
          for (const bool ta : {false, true})
            for (const bool tb : {false, true})
              for (const std::int64_t pad : {0, 1}) {
                const std::int64_t lda = rows == 1 && !ta ? k : (ta ? rows : k) + pad, ldb = (tb ? k : n) + pad;
                const std::int64_t sa = (ta ? k : rows) * lda, sb = batch % 2 ? (tb ? n : k) * ldb : 0;  // even batches: B shared (stride 0)
                const cuda::GemmProblem p{rows, n, k, batch, {true, ta, lda}, {true, tb, ldb}, sa, sb};
                INFO("rows " << rows << " n " << n << " k " << k << " batch " << batch << " ta " << ta << " tb " << tb << " pad " << pad);
                const bool addressable = n <= limit && (rows == 1 && !ta ? 1 : lda) <= limit && ldb <= limit;
                CHECK((cuda::unaddressable_operand(p, limit) == 0) == addressable);
                if (!addressable) { ++refused; continue; }
                std::vector<double> a(static_cast<std::size_t>(batch * sa)), b(static_cast<std::size_t>(std::max<std::int64_t>(1, batch * sb + (tb ? n : k) * ldb)));
                for (std::size_t i = 0; i < a.size(); ++i) a[i] = double(i % 7) - 3;
                for (std::size_t i = 0; i < b.size(); ++i) b[i] = double(i % 5) - 2;
                std::vector<double> c(static_cast<std::size_t>(batch * rows * n), NAN);
                int calls = 0;
                cuda::for_each_cublas_gemm(p, limit, [&](const cuda::CublasGemm& g) { run_like_cublas(g, limit, a.data(), b.data(), c.data()); ++calls; });
                CHECK(c == direct_product(p, a, b));  // small integers: exact in any order
                chunked += calls > 1;
              }
  CHECK(chunked > 100);
  CHECK(refused > 100);
  // a one-row left operand is read transposed with ld 1, so its k may pass the limit
  CHECK(cuda::unaddressable_operand({1, 2, 10, 1, {true, false, 10}, {true, false, 2}, 0, 0}, limit) == 0);
  CHECK(cuda::unaddressable_operand({2, 2, 10, 1, {true, false, 10}, {true, false, 2}, 0, 0}, limit) == 'a');
  CHECK(cuda::unaddressable_operand({2, 4, 1, 1, {true, false, 1}, {true, false, 4}, 0, 0}, limit) == 'c');
}

TEST_CASE("cuda: products with more than 2^31 - 1 rows, batches or k (cuBLAS's int sizes) match the exact values") {
  if (test::no_gpu()) return;
  if (cuda::device_info().memory_bytes < (std::int64_t(48) << 30)) {
    MESSAGE("skipped: needs 48 GiB of device memory");
    return;
  }
  const std::int64_t past = (std::int64_t(1) << 31) + 8, wrapped = (std::int64_t(1) << 32) + 8;
  auto at = [](const Tensor& t, std::int64_t i) { return t.reshape(Shape{t.numel()}).slice(0, i, i + 1).to(Device::cpu()).to_vector()[0]; };
  {  // rows: a batch of two that folds into 2^32 + 8 rows of one GEMM (cast to int: 8 rows, the rest left unwritten)
    const Tensor a = Tensor::ones(Shape{2, wrapped / 2, 1}, DType::f32, Device::cuda());
    const Tensor out = matmul(a, on_gpu(Tensor::full(Shape{1, 1}, 2.0, DType::f32)));
    for (const std::int64_t i : {std::int64_t(0), std::int64_t(8), wrapped / 2, wrapped - 1}) CHECK(at(out, i) == 2.0);
  }
  cuda::empty_cache();
  {  // batches: 2^31 + 8 products of 1 x 1 matrices (cast to int: a negative count)
    const Tensor a = Tensor::full(Shape{past, 1, 1}, 3.0, DType::f32, Device::cuda()), b = Tensor::ones(Shape{past, 1, 1}, DType::f32, Device::cuda());
    const Tensor out = matmul(a, b);
    for (const std::int64_t i : {std::int64_t(0), std::int64_t(8), past - 1}) CHECK(at(out, i) == 3.0);
  }
  cuda::empty_cache();
  {  // k: x^T x over 2^31 + 8 rows, in two chunks of k added with beta = 1 (cast to int: a negative k)
    const Tensor x = Tensor::ones(Shape{past, 1}, DType::f64, Device::cuda());
    CHECK(at(matmul(x.transpose(), x), 0) == double(past));
  }
  cuda::empty_cache();
}

TEST_CASE("cuda: a float -> i64 cast is checked on the device, so it traces into a plan and captures into a graph") {
  if (test::no_gpu()) return;
  // (it was checked through to_vector(), which a trace and a capture refuse)
  const TensorFunction fn = [](const std::vector<Tensor>& in) { return std::vector<Tensor>{(in[0] * 2.0).to(DType::i64)}; };
  const Tensor x = on_gpu(Tensor::from_vector({1.5, -2.0, 3.0}, Shape{3}, DType::f32));
  const Plan plan(Trace::record(fn, {x}));
  CHECK(plan.run({x})[0].to(Device::cpu()).to_indices() == std::vector<std::int64_t>{3, -4, 6});
  const Tensor bad = on_gpu(Tensor::from_vector({1.0, 2.0, NAN}, Shape{3}, DType::f32));
  check_error([&] { (void)plan.run({bad})[0].to(Device::cpu()); }, {"converting f32[3]", "nan (element 2)", "no i64 value"});
  CHECK(plan.run({x})[0].to(Device::cpu()).to_indices() == std::vector<std::int64_t>{3, -4, 6});  // the report was consumed

  DeviceGuard guard(Device::cuda());
  Tensor state = on_gpu(Tensor::from_vector({0.5, 7.9, -3.2, 2.0}, Shape{2, 2}, DType::f64)), out;
  cuda::Graph graph;
  graph.capture([&] { out = state.to(DType::i64); });
  graph.replay();
  CHECK(out.to(Device::cpu()).to_indices() == std::vector<std::int64_t>{0, 7, -3, 2});
  state.copy_(on_gpu(Tensor::from_vector({1.0, 1.0, 1e300, 1.0}, Shape{2, 2}, DType::f64)));
  check_error([&] { graph.replay(); cuda::synchronize(); }, {"converting f64[2, 2]", "1e+300 (element 2)", "no i64 value"});
}

TEST_CASE("cuda: an f32 tensor times a factor outside float's normal range is formed in double, as on the CPU") {
  if (test::no_gpu()) return;
  // the kernel took the factor as a float: 1e-30 * 1e39 was inf (the CPU's 1e9), 0 * 1e39 NaN
  const Tensor x = Tensor::from_vector({1e-30, -2e-30, 3e30, 0.0, -4e20}, Shape{5}, DType::f32);
  for (const double c : {1e39, -1e39, 1e-46, 1.0 / 1e40}) {
    CAPTURE(c);
    const std::vector<double> want = mul_scalar(x, c).to_vector();
    CHECK(mul_scalar(on_gpu(x), c).to_vector() == want);
    const Tensor strided = x.unsqueeze(1).broadcast_to(Shape{5, 2}).contiguous();  // the strided kernel's path
    CHECK(mul_scalar(on_gpu(strided).transpose(0, 1), c).to_vector() == mul_scalar(strided.transpose(0, 1), c).to_vector());
    Tensor inplace = on_gpu(x).clone();
    inplace.mul_(c);
    CHECK(inplace.to_vector() == want);
  }
}
