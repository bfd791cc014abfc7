// `tide bench core`: see bench_core.hpp. Every figure is the median over --repeats samples taken
// in this one run, next to its reference (direct BLAS, the measured FMA peak, the same op with
// recording off), so ratios compare like with like on whatever machine runs it.
#include "bench_core.hpp"
#include "machine.hpp"
#include "timing.hpp"
#include "tide/tide.hpp"
#include <cblas.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define TIDE_BENCH_X86 1
#endif

namespace tide::cli {
namespace {

// ---- the machine ---------------------------------------------------------------------------------


// ---- measured FMA peak -----------------------------------------------------------------------------
// Many independent chains acc = acc * m + c on full vector registers, enough of them to cover the
// FMA latency on two pipes. m is just below 1, so the values settle near c / (1 - m): no overflow,
// no denormals. The caller sums the result into a volatile, so nothing can be dropped.

struct FmaKernel {
  const char* name = "none";
  std::int64_t flops_per_iteration = 0;  // accumulators x lanes x 2
  float (*run)(std::int64_t iterations, float m, float c) = nullptr;
};

#ifdef TIDE_BENCH_X86
constexpr int avx2_chains = 12;  // of 16 ymm registers; 2 more hold m and c
__attribute__((target("avx2,fma"))) float fma_chains_avx2(std::int64_t iterations, float m, float c) {
  __m256 acc[avx2_chains];
  for (int j = 0; j < avx2_chains; ++j) acc[j] = _mm256_set1_ps(0.01f * static_cast<float>(j + 1));
  const __m256 vm = _mm256_set1_ps(m), vc = _mm256_set1_ps(c);
  for (std::int64_t i = 0; i < iterations; ++i) {
#pragma GCC unroll 16
    for (int j = 0; j < avx2_chains; ++j) acc[j] = _mm256_fmadd_ps(acc[j], vm, vc);
  }
  __m256 total = acc[0];
  for (int j = 1; j < avx2_chains; ++j) total = _mm256_add_ps(total, acc[j]);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, total);
  float sum = 0.0f;
  for (float v : lanes) sum += v;
  return sum;
}

constexpr int avx512_chains = 16;  // of 32 zmm registers
__attribute__((target("avx512f"))) float fma_chains_avx512(std::int64_t iterations, float m, float c) {
  __m512 acc[avx512_chains];
  for (int j = 0; j < avx512_chains; ++j) acc[j] = _mm512_set1_ps(0.01f * static_cast<float>(j + 1));
  const __m512 vm = _mm512_set1_ps(m), vc = _mm512_set1_ps(c);
  for (std::int64_t i = 0; i < iterations; ++i) {
#pragma GCC unroll 16
    for (int j = 0; j < avx512_chains; ++j) acc[j] = _mm512_fmadd_ps(acc[j], vm, vc);
  }
  __m512 total = acc[0];
  for (int j = 1; j < avx512_chains; ++j) total = _mm512_add_ps(total, acc[j]);
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, total);  // not _mm512_reduce_add_ps: GCC 12's header warns inside it
  float sum = 0.0f;
  for (float v : lanes) sum += v;
  return sum;
}
#endif

// Portable fallback: 4-lane multiply then add (2 flops per lane, as an FMA would count).
constexpr int generic_chains = 12;
float fma_chains_generic(std::int64_t iterations, float m, float c) {
  using V4 = float __attribute__((vector_size(16)));
  V4 acc[generic_chains];
  for (int j = 0; j < generic_chains; ++j) acc[j] = V4{} + 0.01f * static_cast<float>(j + 1);
  const V4 vm = V4{} + m, vc = V4{} + c;
  for (std::int64_t i = 0; i < iterations; ++i) {
#pragma GCC unroll 16
    for (int j = 0; j < generic_chains; ++j) acc[j] = acc[j] * vm + vc;
  }
  float sum = 0.0f;
  for (int j = 0; j < generic_chains; ++j) sum += acc[j][0] + acc[j][1] + acc[j][2] + acc[j][3];
  return sum;
}

FmaKernel pick_fma_kernel(const CpuInfo& cpu) {
#ifdef TIDE_BENCH_X86
  if (cpu.avx512f) return {"avx512f, 16 chains x 16 lanes", avx512_chains * 16 * 2, fma_chains_avx512};
  if (cpu.avx2 && cpu.fma) return {"avx2+fma, 12 chains x 8 lanes", avx2_chains * 8 * 2, fma_chains_avx2};
#else
  (void)cpu;
#endif
  return {"generic mul+add, 12 chains x 4 lanes", generic_chains * 4 * 2, fma_chains_generic};
}

// ---- the figures -------------------------------------------------------------------------------------

struct Figures {
  double op_overhead_ns = 0, op_overhead_norecord_ns = 0;
  double tanh_256x64_us = 0;
  double gemm_256x64x64_us = 0, gemm_256x64x64_direct_us = 0;
  double gemm_1024_gflops = 0, gemm_1024_direct_gflops = 0;
  double fma_peak_gflops = 0;
  double gemm_1024_fraction_of_peak() const { return gemm_1024_gflops / fma_peak_gflops; }
};

// Direct cblas_sgemm, row-major C[m,n] = A[m,k] B[k,n], into preallocated buffers.
struct DirectGemm {
  int m, n, k;
  std::vector<float> a, b, c;
  DirectGemm(const Tensor& ta, const Tensor& tb)
      : m(static_cast<int>(ta.size(0))), n(static_cast<int>(tb.size(1))), k(static_cast<int>(ta.size(1))),
        a(ta.data<float>(), ta.data<float>() + ta.numel()),
        b(tb.data<float>(), tb.data<float>() + tb.numel()),
        c(static_cast<std::size_t>(m) * static_cast<std::size_t>(n)) {}
  void operator()() {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a.data(), k, b.data(), n,
                0.0f, c.data(), n);
  }
};

// The engine and direct BLAS must compute the same product, or the comparison means nothing.
void check_same_product(const Tensor& engine, const DirectGemm& direct, const char* what) {
  const std::vector<double> values = engine.to_vector();
  double worst = 0.0;
  for (std::size_t i = 0; i < values.size(); ++i)
    worst = std::max(worst, std::fabs(values[i] - static_cast<double>(direct.c[i])));
  if (!(worst <= 1e-3))
    fmt::print(stderr, "tide bench core: warning: engine and direct {} differ by up to {:g}\n", what, worst);
}

Figures measure(const TimingPlan& plan, const FmaKernel& fma_kernel) {
  Generator gen(2024);

  // Tape overhead of one op: two 1-element parameters, c = a + b records one node (and frees it
  // at the end of the iteration); the same with recording off. Many calls per sample.
  const Var a = Var::parameter(Tensor::full({1}, 0.5));
  const Var b = Var::parameter(Tensor::full({1}, 0.25));
  if (!(a + b).requires_grad())
    fmt::print(stderr, "tide bench core: warning: a + b of two parameters recorded no node\n");
  const auto add_once = [&] { Var c = a + b; do_not_optimize(c); };
  TimedCase op_recorded = repeated(add_once, 200'000);
  TimedCase op_unrecorded(
      [&](std::int64_t n) {
        NoGrad no_grad;
        for (std::int64_t i = 0; i < n; ++i) add_once();
      },
      200'000);

  // Elementwise: tanh over [256, 64], values uniform in [-3, 3].
  const Tensor x = gen.uniform({256, 64}, -3.0, 3.0);
  TimedCase tanh_case = repeated([&] { Tensor y = tanh(x); do_not_optimize(y); });

  // Small GEMM, the size of one dense layer of a small ODE model: [256, 64] @ [64, 64].
  const Tensor small_a = gen.uniform({256, 64}, -1.0, 1.0), small_b = gen.uniform({64, 64}, -1.0, 1.0);
  DirectGemm small(small_a, small_b);
  small();
  check_same_product(matmul(small_a, small_b), small, "256x64x64 products");
  TimedCase small_engine = repeated([&] { Tensor y = matmul(small_a, small_b); do_not_optimize(y); });
  TimedCase small_direct = repeated([&] { small(); do_not_optimize(small.c); });

  // Large GEMM: 1024 x 1024 x 1024, reported in GFLOP/s (2 n^3 flops).
  const Tensor large_a = gen.uniform({1024, 1024}, -1.0, 1.0), large_b = gen.uniform({1024, 1024}, -1.0, 1.0);
  DirectGemm large(large_a, large_b);
  large();
  check_same_product(matmul(large_a, large_b), large, "1024^3 products");
  TimedCase large_engine = repeated([&] { Tensor y = matmul(large_a, large_b); do_not_optimize(y); });
  TimedCase large_direct = repeated([&] { large(); do_not_optimize(large.c); });

  // Single-core FMA peak. m and c go through volatiles so the compiler cannot fold the chains.
  volatile float m = 0.999999f, c = 1e-6f, sink = 0.0f;
  const std::int64_t fma_iterations = 1 << 18;
  TimedCase fma_case = repeated([&] { sink = sink + fma_kernel.run(fma_iterations, m, c); });

  run_interleaved({&op_recorded, &op_unrecorded, &tanh_case, &small_engine, &small_direct, &large_engine,
                   &large_direct, &fma_case},
                  plan);

  const double gemm_1024_flops = 2.0 * 1024.0 * 1024.0 * 1024.0;
  const double fma_flops = static_cast<double>(fma_iterations * fma_kernel.flops_per_iteration);
  Figures f;
  f.op_overhead_ns = 1e9 * op_recorded.median_seconds();
  f.op_overhead_norecord_ns = 1e9 * op_unrecorded.median_seconds();
  f.tanh_256x64_us = 1e6 * tanh_case.median_seconds();
  f.gemm_256x64x64_us = 1e6 * small_engine.median_seconds();
  f.gemm_256x64x64_direct_us = 1e6 * small_direct.median_seconds();
  f.gemm_1024_gflops = 1e-9 * gemm_1024_flops / large_engine.median_seconds();
  f.gemm_1024_direct_gflops = 1e-9 * gemm_1024_flops / large_direct.median_seconds();
  f.fma_peak_gflops = 1e-9 * fma_flops / fma_case.median_seconds();
  return f;
}

// ---- the report -----------------------------------------------------------------------------------------

// Settings that cost GEMM throughput, said next to the figures they distort.
std::vector<std::string> settings_notes(const BlasInfo& blas, const CpuInfo& cpu) {
  std::string core = blas.core_type;
  for (char& ch : core) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  const bool avx512_kernels = core == "skylakex" || core == "cooperlake" || core == "sapphirerapids";
  const bool avx2_kernels = avx512_kernels || core == "haswell" || core == "zen";
  std::vector<std::string> notes;
  if (cpu.avx512f && !avx512_kernels && avx2_kernels)
    notes.push_back(fmt::format("OpenBLAS runs its AVX2 kernels ({}) on a CPU with AVX-512; "
                                "OPENBLAS_CORETYPE=SkylakeX selects the AVX-512 ones", blas.core_type));
  if (cpu.avx2 && !avx2_kernels)
    notes.push_back(fmt::format("OpenBLAS runs the kernel set '{}', which uses neither AVX2 nor AVX-512 ({}); "
                                "set OPENBLAS_CORETYPE={} before starting",
                                blas.core_type,
                                blas.coretype_env.empty() ? "it did not recognise this CPU" : "as OPENBLAS_CORETYPE asks",
                                cpu.avx512f ? "SkylakeX" : "Haswell"));
  if (blas.threads > 1)
    notes.push_back(fmt::format("BLAS runs {} threads; small GEMMs are usually faster on one "
                                "(TIDE_BLAS_THREADS=1)", blas.threads));
  return notes;
}

const char* yes_no(bool b) { return b ? "yes" : "no"; }

std::string met(bool ok) { return ok ? "met" : "not met"; }

void print_text(const Figures& f, const BlasInfo& blas, const CpuInfo& cpu, const FmaKernel& fma_kernel,
                const TimingPlan& plan) {
  fmt::print("tide bench core: median of {} samples per figure (each >= {:.0f} ms, after a warm-up; "
             "figures sampled round-robin)\n",
             plan.repeats, 1e3 * plan.min_sample_seconds);
  fmt::print("cpu   {}  (avx512f: {}, avx2: {}, fma: {}; elementwise clone: {})\n", cpu.model,
             yes_no(cpu.avx512f), yes_no(cpu.avx2), yes_no(cpu.fma), cpu.elementwise_clone);
  fmt::print("blas  {}\n      core type: {}, OPENBLAS_CORETYPE: {}, threads: {}\n\n", blas.library,
             blas.core_type, blas.coretype_env.empty() ? "(unset)" : blas.coretype_env, blas.threads);

  const auto row = [](const char* key, double value, const char* unit, const std::string& target,
                      const std::string& status) {
    fmt::print("{:<28} {:>10.2f} {:<7} {:<14} {}\n", key, value, unit, target, status);
  };
  fmt::print("{:<28} {:>10} {:<7} {:<14} {}\n", "figure", "value", "unit", "target", "status");
  row("op_overhead_ns", f.op_overhead_ns, "ns", "<= 250", met(f.op_overhead_ns <= 250.0));
  row("op_overhead_norecord_ns", f.op_overhead_norecord_ns, "ns", "", "reference");
  row("tanh_256x64_us", f.tanh_256x64_us, "us", "<= 5", met(f.tanh_256x64_us <= 5.0));
  row("gemm_256x64x64_us", f.gemm_256x64x64_us, "us", "<= 15", met(f.gemm_256x64x64_us <= 15.0));
  row("gemm_256x64x64_direct_us", f.gemm_256x64x64_direct_us, "us", "", "reference (cblas_sgemm)");
  row("gemm_1024_gflops", f.gemm_1024_gflops, "GFLOP/s", "", "");
  row("gemm_1024_direct_gflops", f.gemm_1024_direct_gflops, "GFLOP/s", "", "reference (cblas_sgemm)");
  row("fma_peak_gflops", f.fma_peak_gflops, "GFLOP/s", "", fmt::format("reference ({})", fma_kernel.name));
  row("gemm_1024_fraction_of_peak", f.gemm_1024_fraction_of_peak(), "", ">= 0.75",
      met(f.gemm_1024_fraction_of_peak() >= 0.75));

  fmt::print("\nratios: recorded / unrecorded op {:.2f}x; engine / direct gemm 256x64x64 {:.2f}x; "
             "direct gemm 1024 at {:.2f} of FMA peak\n",
             f.op_overhead_ns / f.op_overhead_norecord_ns, f.gemm_256x64x64_us / f.gemm_256x64x64_direct_us,
             f.gemm_1024_direct_gflops / f.fma_peak_gflops);
  for (const std::string& note : settings_notes(blas, cpu)) fmt::print("note: {}\n", note);
}

void print_json(const Figures& f, const BlasInfo& blas, const CpuInfo& cpu, const FmaKernel& fma_kernel,
                const TimingPlan& plan) {
  const nlohmann::json report = {
      {"op_overhead_ns", f.op_overhead_ns},
      {"op_overhead_norecord_ns", f.op_overhead_norecord_ns},
      {"tanh_256x64_us", f.tanh_256x64_us},
      {"gemm_256x64x64_us", f.gemm_256x64x64_us},
      {"gemm_256x64x64_direct_us", f.gemm_256x64x64_direct_us},
      {"gemm_1024_gflops", f.gemm_1024_gflops},
      {"gemm_1024_direct_gflops", f.gemm_1024_direct_gflops},
      {"fma_peak_gflops", f.fma_peak_gflops},
      {"gemm_1024_fraction_of_peak", f.gemm_1024_fraction_of_peak()},
      {"blas",
       {{"library", blas.library}, {"core_type", blas.core_type}, {"coretype_env", blas.coretype_env},
        {"threads", blas.threads}}},
      {"cpu",
       {{"model", cpu.model}, {"avx512f", cpu.avx512f}, {"avx2", cpu.avx2}, {"fma", cpu.fma},
        {"elementwise_clone", cpu.elementwise_clone}, {"fma_kernel", fma_kernel.name}}},
      {"repeats", plan.repeats},
      {"notes", settings_notes(blas, cpu)},
  };
  std::cout << report.dump(2) << std::endl;
}

}  // namespace

int run_bench_core(const BenchCoreOptions& options) {
  TimingPlan plan;
  plan.repeats = options.repeats;
  const CpuInfo cpu = read_cpu_info();
  const FmaKernel fma_kernel = pick_fma_kernel(cpu);
  const Figures figures = measure(plan, fma_kernel);
  // After the first tensor op, so the engine's BLAS thread policy has been applied.
  const BlasInfo blas = blas_info();
  if (options.json) print_json(figures, blas, cpu, fma_kernel, plan);
  else print_text(figures, blas, cpu, fma_kernel, plan);
  return 0;
}

}  // namespace tide::cli
