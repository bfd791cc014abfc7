// combine(): sum_i w_i a_i b_i, the inner step of every Taylor recurrence. Recorded (reverse over
// Taylor) or traced into a plan (core/plan.hpp: the fused pass writes through raw pointers, which a
// plan cannot replay; the plan fuses the composite's chain itself), it is the composite of Var ops;
// otherwise, with equal contiguous CPU operands, it is one fused pass over memory instead of 2-3 ops
// per term (tests/taylor/test_ode_taylor.cpp compares the fused, recorded and compiled values).
// fused_quadratic() is the same for tanh's and sigmoid's 1 - y^2 and y - y^2 (three ops each).
#include "rules.hpp"
#include "tide/core/plan.hpp"

namespace tide::taylor_detail {

namespace {
// Not under clang, which cannot multiversion a function template (nor under ASan: clones.hpp).
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__) && !defined(__clang__)
#define TIDE_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define TIDE_CLONES
#endif

// m <= W elements from lo, their sums kept in registers over all the terms (W elements are 256
// bytes, four AVX-512 vectors: a term costs two loads per vector instead of four with the sums in
// memory), every element's terms added in order from 0.
template <class T, std::int64_t W>
__attribute__((always_inline)) inline void fused_chunk(T* out, std::int64_t lo, std::int64_t m, const std::vector<Term<Var>>& terms,
                                                       const std::vector<const T*>& a, const std::vector<const T*>& b) {
  T acc[W] = {};
  for (std::size_t t = 0; t < terms.size(); ++t) {
    const T w = static_cast<T>(terms[t].w);
    const T* pa = a[t] + lo;
    if (b[t])
      for (std::int64_t e = 0; e < m; ++e) acc[e] += w * pa[e] * b[t][lo + e];
    else
      for (std::int64_t e = 0; e < m; ++e) acc[e] += w * pa[e];
  }
  for (std::int64_t e = 0; e < m; ++e) out[lo + e] = acc[e];
}

template <class T>
TIDE_CLONES void fused(T* out, std::int64_t n, const std::vector<Term<Var>>& terms, const std::vector<const T*>& a,
                       const std::vector<const T*>& b) {
  constexpr std::int64_t W = 256 / static_cast<std::int64_t>(sizeof(T));
  std::int64_t lo = 0;
  for (; lo + W <= n; lo += W) fused_chunk<T, W>(out, lo, W, terms, a, b);
  if (lo < n) fused_chunk<T, W>(out, lo, n - lo, terms, a, b);
}

bool fusable(const std::vector<Term<Var>>& terms) {
  if (Trace::active()) return false;
  if (grad_enabled())
    for (const auto& t : terms)
      if (t.a->requires_grad() || (t.b && t.b->requires_grad())) return false;
  const Tensor& first = terms[0].a->value();
  if (first.device().kind != DeviceKind::cpu || !is_floating(first.dtype())) return false;
  for (const auto& t : terms)
    for (const Var* v : {t.a, t.b}) {
      if (!v) continue;
      const Tensor& x = v->value();
      if (!(x.shape() == first.shape()) || x.dtype() != first.dtype() || !x.is_contiguous() || x.device() != first.device()) return false;
    }
  return true;
}

template <class C> C composite_sum(const std::vector<Term<C>>& terms) {
  C acc;
  for (const auto& t : terms) {
    C v = t.b ? *t.a * *t.b : *t.a;
    if (t.w != 1.0) v = v * t.w;
    acc = acc.defined() ? acc + v : v;
  }
  return acc;
}

}  // namespace

Var combine(std::vector<Term<Var>> terms) {
  std::erase_if(terms, [](const Term<Var>& t) { return !t.a || t.w == 0.0; });
  if (terms.empty()) return Var();
  if (terms.size() == 1 && !terms[0].b && terms[0].w == 1.0) return *terms[0].a;
  if (!fusable(terms)) return composite_sum(terms);
  const Tensor& first = terms[0].a->value();
  Tensor out = Tensor::empty(first.shape(), first.dtype(), first.device());
  if (first.dtype() == DType::f64) {
    std::vector<const double*> a, b;
    for (const auto& t : terms) { a.push_back(t.a->value().data<double>()); b.push_back(t.b ? t.b->value().data<double>() : nullptr); }
    fused(out.data<double>(), out.numel(), terms, a, b);
  } else {
    std::vector<const float*> a, b;
    for (const auto& t : terms) { a.push_back(t.a->value().data<float>()); b.push_back(t.b ? t.b->value().data<float>() : nullptr); }
    fused(out.data<float>(), out.numel(), terms, a, b);
  }
  return Var(std::move(out));
}

namespace {
template <class T>
TIDE_CLONES void quadratic_run(const T* y, T* out, std::int64_t n, T c0, T c1, T c2) {
  for (std::int64_t i = 0; i < n; ++i) out[i] = c0 + y[i] * (c1 + c2 * y[i]);
}
}  // namespace

bool fused_quadratic(const Var& y, double c0, double c1, double c2, Var& out) {
  if (!y.defined() || !fusable({{1.0, &y, nullptr}})) return false;
  const Tensor& v = y.value();
  Tensor o = Tensor::empty(v.shape(), v.dtype(), v.device());
  if (v.dtype() == DType::f64) quadratic_run(v.data<double>(), o.data<double>(), o.numel(), c0, c1, c2);
  else quadratic_run(v.data<float>(), o.data<float>(), o.numel(), static_cast<float>(c0), static_cast<float>(c1), static_cast<float>(c2));
  out = Var(std::move(o));
  return true;
}

Jet combine(std::vector<Term<Jet>> terms) {
  std::erase_if(terms, [](const Term<Jet>& t) { return !t.a || t.w == 0.0; });
  if (terms.empty()) return Jet();
  return composite_sum(terms);
}

}  // namespace tide::taylor_detail
