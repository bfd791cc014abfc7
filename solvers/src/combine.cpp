#include "combine.hpp"
#include "tide/autodiff/custom.hpp"
#include "tide/core/backend.hpp"
#include "tide/core/fused.hpp"
#include "tide/core/plan.hpp"
#include "tide/core/small_blocks.hpp"
#include <algorithm>
#include <cassert>
#include <cmath>
#include <span>

namespace tide::detail {

bool recording(const std::vector<Var>& vars) {
  if (!grad_enabled()) return false;
  for (const Var& v : vars)
    if (v.requires_grad()) return true;
  return false;
}

Tensor column(const std::vector<double>& values, DType dtype, Device device) {
  return Tensor::from_vector(values, Shape{static_cast<std::int64_t>(values.size()), 1}, dtype, device);
}

Tensor row_vector(const std::vector<double>& values, DType dtype, Device device) {
  return Tensor::from_vector(values, Shape{static_cast<std::int64_t>(values.size())}, dtype, device);
}

namespace {
class IdentityBackward final : public CustomBackward {
public:
  const char* name() const override { return "contiguous"; }
  std::vector<Var> backward(const Var& g) override { return {g}; }
};
}  // namespace

Var contiguous(const Var& x) {
  if (x.value().is_contiguous()) return x;
  const Tensor v = x.value().contiguous();
  return recording({x}) ? record_custom(v, {x}, make_pooled<IdentityBackward>()) : Var(v);
}

namespace {

// base + h (sum_j c_j x_j) recorded as one node: the tape keeps the coefficients and the step
// sizes, not a product and a sum per term (a dopri5 step recorded 57 solver nodes this way, 7 now).
// The backward is Var ops, so it records under create_graph like every rule (without it, and
// outside a trace, it writes the same values through the backend's kernels: into_one_block).
class RowCombinationBackward final : public CustomBackward {
public:
  RowCombinationBackward(std::vector<double> c, Tensor h_column, bool has_base)
      : c_(std::move(c)), h_(std::move(h_column)), has_base_(has_base) {}
  const char* name() const override { return "row_combination"; }
  std::vector<Var> backward(const Var& g) override {
    // Not while a plan is traced (its fusion joins the Var ops' passes with their neighbours), and
    // for states of rank 2 only, which the [n, 1] column h_ scales row by row (below the largest
    // rank, which the stacked block would pass, and with elements, which its views index).
    const int rank = g.value().rank();
    if (!grad_enabled() && !Trace::active() && rank < max_rank && g.numel() > 0 && (!h_.defined() || rank == 2))
      return into_one_block(g);
    const Var gh = h_.defined() ? g * Var(h_) : g;
    std::vector<Var> grads;
    for (double c : c_) grads.push_back(c == 1.0 ? gh : gh * c);
    if (has_base_) grads.push_back(g);
    return grads;
  }

private:
  // The same gradients without create_graph, the products c_j (g h) written into the rows of one
  // stacked block [terms, g's shape] by the backend's kernel: g h and one block where a dopri5
  // step's combinations allocated about twenty tensors, and none of the Var ops' per-call checks.
  // g h first, then times c_j, as above: the same kernels, the same values; terms whose
  // coefficient is 1 share g h, as above.
  std::vector<Var> into_one_block(const Var& g) const {
    const Tensor gh = h_.defined() ? mul(g.value(), h_) : g.value();
    const auto scaled = static_cast<std::int64_t>(std::count_if(c_.begin(), c_.end(), [](double c) { return c != 1.0; }));
    Shape stacked{scaled};  // [scaled, gh's shape]: term j's gradient is block.select(0, j)
    for (const std::int64_t d : gh.shape()) stacked.push_back(d);
    const Tensor block = scaled > 0 ? Tensor::empty(stacked, gh.dtype(), gh.device()) : Tensor();
    const Var ghv = h_.defined() ? Var(gh) : g;
    std::vector<Var> grads;
    grads.reserve(c_.size() + 1);
    std::int64_t next = 0;
    for (double c : c_) {
      if (c == 1.0) {
        grads.push_back(ghv);
        continue;
      }
      const Tensor out = block.select(0, next++);
      gh.backend().unary(Op::mul_scalar, gh, out, c, 0.0);
      grads.push_back(Var(out));
    }
    if (has_base_) grads.push_back(g);
    return grads;
  }

  std::vector<double> c_;
  Tensor h_;
  bool has_base_;
};

bool same_shapes(const std::vector<Var>& vars) {
  for (const Var& v : vars)
    if (v.shape() != vars.front().shape() || v.dtype() != vars.front().dtype()) return false;
  return true;
}

// The same combination recorded op by op (operands that broadcast: their gradients are reduced by
// the ops' own rules).
Var recorded_term_by_term(const Var& base, const Tensor& h, const std::vector<double>& c, std::span<const Var> used) {
  Var acc;
  for (std::size_t j = 0; j < used.size(); ++j) {
    Var term = c[j] == 1.0 ? used[j] : used[j] * c[j];
    acc = acc.defined() ? acc + term : term;
  }
  if (h.defined()) acc = acc * Var(h.reshape(Shape{h.numel(), 1}).to(used[0].dtype()));
  return base.defined() ? base + acc : acc;
}

// The combination recorded as one node whose inputs are the terms used, then the base (`out` its
// value, c the terms' coefficients).
Var recorded_combination(const Var& base, const Tensor& h, const std::vector<double>& coeff, const std::vector<Var>& vecs,
                         const std::vector<double>& c, const Tensor& out) {
  std::vector<Var> all;
  all.reserve(c.size() + 1);
  for (std::size_t j = 0; j < vecs.size() && j < coeff.size(); ++j)
    if (coeff[j] != 0.0) all.push_back(vecs[j]);
  if (base.defined()) all.push_back(base);
  if (!same_shapes(all)) return recorded_term_by_term(base, h, c, std::span<const Var>(all).first(c.size()));
  const Tensor h_column = h.defined() ? h.reshape(Shape{h.numel(), 1}).to(all[0].dtype()) : Tensor();
  return record_custom(out, all, make_pooled<RowCombinationBackward>(c, h_column, base.defined()));
}

}  // namespace

Var row_combination(const Var& base, const Tensor& h, const std::vector<double>& coeff, const std::vector<Var>& vecs) {
  // the terms' values first, the Vars only when the result records (an unrecorded step's stage
  // combinations are most of its calls: each Var copied is a reference count taken and dropped),
  // gathered into per-thread vectors that keep their capacity (nothing below calls back here:
  // checked in debug builds) and let go of the handles on the way out
  struct Terms {
    std::vector<Tensor> xs;
    std::vector<double> c;
    bool busy = false;
  };
  thread_local Terms terms;
  assert(!terms.busy && "row_combination re-entered on one thread");
  terms.busy = true;
  struct Release {
    ~Release() { terms.xs.clear(), terms.busy = false; }
  } release;
  terms.xs.clear(), terms.c.clear();
  const bool grad = grad_enabled();
  bool record = grad && base.defined() && base.requires_grad();
  for (std::size_t j = 0; j < vecs.size() && j < coeff.size(); ++j)
    if (coeff[j] != 0.0) {
      terms.xs.push_back(vecs[j].value()), terms.c.push_back(coeff[j]);
      record = record || (grad && vecs[j].requires_grad());
    }
  if (terms.xs.empty())
    return base.defined() ? base : Var(Tensor::zeros(vecs.at(0).shape(), vecs[0].dtype(), vecs[0].device()));
  const Tensor out = linear_combination(base.defined() ? base.value() : Tensor(), terms.xs, terms.c, h);
  return record ? recorded_combination(base, h, coeff, vecs, terms.c, out) : Var(out);
}

namespace {

// The backward of a gathered combination: each vector's gradient is g weighted by its column
// (skipped when all ones) and added into its rows (index_add; g itself when every row is taken
// once in order). Var ops, so it records under create_graph.
class GatherBackward final : public CustomBackward {
public:
  GatherBackward(std::vector<Tensor> columns, Tensor index, std::int64_t rows)
      : columns_(std::move(columns)), index_(std::move(index)), rows_(rows) {}
  const char* name() const override { return "gathered_combination"; }
  std::vector<Var> backward(const Var& g) override {
    std::vector<Var> grads;
    for (const Tensor& c : columns_) {
      const Var term = c.defined() ? g * Var(c) : g;
      grads.push_back(index_.defined() ? index_add(term, 0, index_, rows_) : term);
    }
    return grads;
  }

private:
  std::vector<Tensor> columns_;
  Tensor index_;
  std::int64_t rows_;
};

// One gathered combination's operands: which vectors carry weight, whether every row weights them
// alike, and the gather index (made on first use: not every path needs it).
class Gather {
public:
  Gather(const std::vector<Var>& vecs, const std::vector<std::int64_t>& position, const std::vector<std::vector<double>>& weight)
      : vecs_(vecs), position_(position), weight_(weight), m_(static_cast<std::int64_t>(position.size())),
        dtype_(vecs.at(0).dtype()), device_(vecs[0].device()), n_(vecs[0].size(0)),
        d_(vecs[0].numel() / std::max<std::int64_t>(n_, 1)) {
    for (std::size_t v = 0; v < vecs.size(); ++v) {
      bool any = false;
      for (std::int64_t q = 0; q < m_; ++q) {
        const double x = weight[static_cast<std::size_t>(q)][v];
        any = any || x != 0.0;
        all_ones_ = all_ones_ && (x == 1.0 || x == 0.0);
        all_alike_ = all_alike_ && x == weight[0][v];
      }
      if (any) used_.push_back(v);
    }
  }

  Var combine() {
    if (used_.empty()) return Var(Tensor::zeros(Shape{m_, d_}, dtype_, device_));
    if (few_rows_in_all() && !(used_.size() == 1 && all_ones_)) return mapped();
    if (recording(vecs_)) return recorded();
    if (all_alike_) return alike();
    return per_row();
  }

  // The value as NoGrad computes it, recorded as one node (the op-by-op form took ~3 recorded ops
  // per vector forward and ~4 backward, 11% of a dense-output training step).
  Var recorded() {
    const Var value = all_alike_ ? alike() : per_row();
    std::vector<Var> inputs;
    std::vector<Tensor> columns;  // each input's weights as [m, 1]; undefined when all ones
    for (std::size_t v : used_) {
      const std::vector<double> w = column_of(v);
      inputs.push_back(vecs_[v]);
      columns.push_back(std::all_of(w.begin(), w.end(), [](double x) { return x == 1.0; }) ? Tensor() : column(w, dtype_, device_));
    }
    const bool in_order = every_row_in_order();
    return record_custom(value.value(), inputs,
                         make_pooled<GatherBackward>(std::move(columns), in_order ? Tensor() : index(), n_));
  }

private:
  // A step of a handful of rows (a solve of one sample, as the spiral's): the gather and the
  // weights together are one [m, V n] matrix, small enough to make on the host, and the product
  // that applies it (m V n d multiply-adds, most by zeros) small enough to cost less than the
  // gathered form's ops. Bounded on both, since the product grows with every row of the batch.
  // Every row must be one that is asked for: the product reads all of them, and a row not asked
  // for may be a rejected step's overflow, whose 0 * inf would turn the others' outputs into NaN.
  static constexpr std::int64_t kMappedWork = 4096;
  bool few_rows_in_all() const {
    if (m_ * static_cast<std::int64_t>(used_.size()) * n_ * std::max<std::int64_t>(d_, 1) > kMappedWork) return false;
    std::vector<char> asked(static_cast<std::size_t>(n_), 0);
    for (std::int64_t r : position_) asked[static_cast<std::size_t>(r)] = 1;
    return std::all_of(asked.begin(), asked.end(), [](char a) { return a != 0; });
  }

  // That matrix times the used vectors stacked ([V n, d]): two recorded ops (a concat and a
  // matmul, whose backward is one product and V views) where the gathered form records one node
  // whose backward takes two ops per vector.
  Var mapped() {
    const std::int64_t V = static_cast<std::int64_t>(used_.size()), width = V * n_;
    std::vector<double> map(static_cast<std::size_t>(m_ * width), 0.0);
    std::vector<Var> stacked;
    for (std::int64_t v = 0; v < V; ++v) {
      const std::size_t used = used_[static_cast<std::size_t>(v)];
      for (std::int64_t q = 0; q < m_; ++q)
        map[static_cast<std::size_t>(q * width + v * n_ + position_[static_cast<std::size_t>(q)])] = weight_[static_cast<std::size_t>(q)][used];
      const Var& x = vecs_[used];
      stacked.push_back(x.rank() == 2 ? x : reshape(x, Shape{n_, d_}));
    }
    const Var all = V == 1 ? stacked[0] : concat(stacked, 0);
    return matmul(Var(Tensor::from_vector(map, Shape{m_, width}, dtype_, device_)), all);
  }

  const Tensor& index() {
    if (!index_.defined()) index_ = Tensor::from_indices(position_, Shape{m_}, device_);
    return index_;
  }
  std::vector<double> column_of(std::size_t v) const {
    std::vector<double> w(static_cast<std::size_t>(m_));
    for (std::int64_t q = 0; q < m_; ++q) w[static_cast<std::size_t>(q)] = weight_[static_cast<std::size_t>(q)][v];
    return w;
  }

  // one output time per step, a shared step, or landing on a time (y_new alone)
  Var alike() {
    if (used_.size() == 1 && all_ones_) return Var(index_select(vecs_[used_[0]].value(), 0, index()));
    std::vector<Tensor> xs;
    std::vector<double> c;
    const bool few = 2 * m_ < n_;  // gather the rows first, else combine all rows and gather once
    for (std::size_t v : used_) xs.push_back(few ? index_select(vecs_[v].value(), 0, index()) : vecs_[v].value()), c.push_back(weight_[0][v]);
    const Tensor out = linear_combination(Tensor(), xs, c);
    return Var(few ? out : index_select(out, 0, index()));
  }

  // Rows at different points of the step: every used vector's rows gathered into [m, V, d] and
  // each output row made by one batched [1, V] @ [V, d] product with its weights: a handful of ops
  // however many vectors the method has.
  Var per_row() {
    const std::int64_t V = static_cast<std::int64_t>(used_.size());
    std::vector<double> w(static_cast<std::size_t>(m_ * V));
    for (std::int64_t q = 0; q < m_; ++q)
      for (std::int64_t v = 0; v < V; ++v) w[static_cast<std::size_t>(q * V + v)] = weight_[static_cast<std::size_t>(q)][used_[static_cast<std::size_t>(v)]];
    return Var(matmul(Tensor::from_vector(w, Shape{m_, 1, V}, dtype_, device_), stacked_rows()).reshape(Shape{m_, d_}));
  }

  // [m, V, d]: one concat, then one gather unless every row is wanted once in order; a gather per
  // vector when few rows are wanted
  bool every_row_in_order() const {
    bool every_row = m_ == n_;
    for (std::int64_t q = 0; every_row && q < m_; ++q) every_row = position_[static_cast<std::size_t>(q)] == q;
    return every_row;
  }

  Tensor stacked_rows() {
    const std::int64_t V = static_cast<std::int64_t>(used_.size());
    const bool every_row = every_row_in_order();  // each row once, in order: no gather
    std::vector<Tensor> parts;
    if (every_row || 2 * m_ < n_) {
      for (std::size_t v : used_)
        parts.push_back((every_row ? vecs_[v].value() : index_select(vecs_[v].value(), 0, index())).reshape(Shape{m_, 1, d_}));
      return concat(parts, 1);
    }
    for (std::size_t v : used_) parts.push_back(vecs_[v].value().reshape(Shape{n_, d_}));
    std::vector<std::int64_t> at(static_cast<std::size_t>(m_ * V));
    for (std::int64_t q = 0; q < m_; ++q)
      for (std::int64_t v = 0; v < V; ++v) at[static_cast<std::size_t>(q * V + v)] = v * n_ + position_[static_cast<std::size_t>(q)];
    return index_select(concat(parts, 0), 0, Tensor::from_indices(at, Shape{m_ * V}, device_)).reshape(Shape{m_, V, d_});
  }

  const std::vector<Var>& vecs_;
  const std::vector<std::int64_t>& position_;
  const std::vector<std::vector<double>>& weight_;
  std::int64_t m_;
  DType dtype_;
  Device device_;
  std::int64_t n_, d_;
  std::vector<std::size_t> used_;
  bool all_ones_ = true, all_alike_ = true;
  Tensor index_;
};

}  // namespace

Var gathered_combination(const std::vector<Var>& vecs, const std::vector<std::int64_t>& position,
                         const std::vector<std::vector<double>>& weight) {
  return Gather(vecs, position, weight).combine();
}

ErrorScale error_scale(const std::vector<double>& atol, const std::vector<double>& rtol,
                       const std::vector<char>& controlled, Device device) {
  ErrorScale s;
  std::vector<double> mask(controlled.size());
  for (std::size_t i = 0; i < controlled.size(); ++i) {
    mask[i] = controlled[i] ? 1.0 : 0.0;
    s.count += controlled[i] ? 1 : 0;
  }
  s.atol = row_vector(atol, DType::f64, device);
  s.rtol = row_vector(rtol, DType::f64, device);
  s.mask = row_vector(mask, DType::f64, device);
  return s;
}

RowError row_error(const Tensor& y, const Tensor& y_new, const std::vector<Tensor>& k,
                   const std::vector<double>& e, const std::vector<double>& e3, const Tensor& h,
                   const ErrorScale& scale) {
  const std::int64_t n = y.size(0);
  // [n, 2] per estimator: sum of squares and maximum of the scaled error h * sum_j w_j k_j
  auto norms = [&](const std::vector<double>& w) {
    std::vector<Tensor> xs;
    std::vector<double> c;
    xs.reserve(k.size()), c.reserve(k.size());
    for (std::size_t j = 0; j < k.size() && j < w.size(); ++j)
      if (w[j] != 0.0) xs.push_back(k[j]), c.push_back(w[j]);
    if (xs.empty()) return scaled_row_norms(Tensor::zeros(y.shape(), y.dtype(), y.device()), y, y_new, scale.atol, scale.rtol, scale.mask);
    return combination_row_norms(xs, c, h, y, y_new, scale.atol, scale.rtol, scale.mask);
  };
  const bool two = !e3.empty();
  const Tensor both = two ? concat(std::vector<Tensor>{norms(e), norms(e3)}, 1) : norms(e);
  const std::vector<double> v = both.to_vector();  // the one host read of the step
  const std::size_t width = two ? 4 : 2;
  RowError out;
  out.count = scale.count;
  out.second = two;
  out.sumsq.resize(static_cast<std::size_t>(n));
  out.maximum.resize(static_cast<std::size_t>(n));
  out.sumsq3.assign(static_cast<std::size_t>(n), 0.0);
  out.maximum3.assign(static_cast<std::size_t>(n), 0.0);
  for (std::size_t r = 0; r < static_cast<std::size_t>(n); ++r) {
    out.sumsq[r] = v[r * width];
    out.maximum[r] = v[r * width + 1];
    if (two) out.sumsq3[r] = v[r * width + 2], out.maximum3[r] = v[r * width + 3];
    if (!std::isfinite(out.sumsq[r])) out.sumsq3[r] = out.maximum3[r] = INFINITY;  // a non-finite candidate fails both
  }
  return out;
}

std::vector<double> row_norm(const Tensor& x, const Tensor& scale_by, const ErrorScale& scale, bool max_norm) {
  const std::vector<double> v = scaled_row_norms(x, scale_by, scale_by, scale.atol, scale.rtol, scale.mask).to_vector();
  const std::size_t n = v.size() / 2;
  std::vector<double> out(n);
  for (std::size_t r = 0; r < n; ++r)
    out[r] = max_norm ? v[2 * r + 1] : std::sqrt(v[2 * r] / static_cast<double>(std::max<std::int64_t>(scale.count, 1)));
  return out;
}

std::vector<char> rows_finite(const Tensor& x) {
  // x * 0 is NaN exactly where x is not finite, so a row's sum of those is NaN exactly when the
  // row holds a non-finite value (and it cannot overflow); one [n] read back
  std::vector<std::int64_t> axes;
  for (std::int64_t a = 1; a < x.rank(); ++a) axes.push_back(a);
  const std::vector<double> s = sum(mul_scalar(x, 0.0), axes).to_vector();
  std::vector<char> out(s.size());
  for (std::size_t r = 0; r < s.size(); ++r) out[r] = !std::isnan(s[r]);
  return out;
}

bool lu_factor(double* a, std::int64_t n, std::int64_t* pivot) {
  for (std::int64_t c = 0; c < n; ++c) {
    std::int64_t p = c;
    for (std::int64_t r = c + 1; r < n; ++r)
      if (std::fabs(a[r * n + c]) > std::fabs(a[p * n + c])) p = r;
    pivot[c] = p;
    if (a[p * n + c] == 0.0 || !std::isfinite(a[p * n + c])) return false;
    if (p != c)
      for (std::int64_t j = 0; j < n; ++j) std::swap(a[c * n + j], a[p * n + j]);
    for (std::int64_t r = c + 1; r < n; ++r) {
      const double f = a[r * n + c] /= a[c * n + c];
      for (std::int64_t j = c + 1; j < n; ++j) a[r * n + j] -= f * a[c * n + j];
    }
  }
  return true;
}

void lu_solve(const double* lu, const std::int64_t* pivot, std::int64_t n, double* x) {
  for (std::int64_t c = 0; c < n; ++c) std::swap(x[c], x[pivot[c]]);  // rows were swapped whole
  for (std::int64_t c = 0; c < n; ++c)
    for (std::int64_t r = c + 1; r < n; ++r) x[r] -= lu[r * n + c] * x[c];
  for (std::int64_t r = n; r-- > 0;) {
    for (std::int64_t j = r + 1; j < n; ++j) x[r] -= lu[r * n + j] * x[j];
    x[r] /= lu[r * n + r];
  }
}

// A^T x = b from P A = L U: U^T w = b, L^T v = w, x = P^T v (the swaps undone in reverse order).
void lu_solve_transposed(const double* lu, const std::int64_t* pivot, std::int64_t n, double* x) {
  for (std::int64_t c = 0; c < n; ++c) {
    for (std::int64_t j = 0; j < c; ++j) x[c] -= lu[j * n + c] * x[j];
    x[c] /= lu[c * n + c];
  }
  for (std::int64_t r = n; r-- > 0;)
    for (std::int64_t j = r + 1; j < n; ++j) x[r] -= lu[j * n + r] * x[j];
  for (std::int64_t c = n; c-- > 0;) std::swap(x[c], x[pivot[c]]);
}

}  // namespace tide::detail
