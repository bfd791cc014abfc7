// Batched restarted GMRES (gmres.hpp): modified Gram-Schmidt Arnoldi on the device, one
// least-squares problem per row kept in QR form by Givens rotations on the host.
#include "gmres.hpp"
#include "../combine.hpp"
#include <cmath>
#include <limits>

namespace tide::detail {

namespace {

std::vector<double> row_dot(const Tensor& u, const Tensor& v, const Tensor& w2) {
  Tensor p = mul(u, v);
  if (w2.defined()) p = mul(p, w2);
  return mean(p, {1}).to_vector();
}

std::vector<double> row_norm(const Tensor& u, const Tensor& w2) {
  std::vector<double> d = row_dot(u, u, w2);
  for (double& x : d) x = std::sqrt(x);
  return d;
}

Tensor scale_rows(const Tensor& x, const std::vector<double>& c) { return mul(x, column(c, x.dtype(), x.device())); }

// One row's min |beta e1 - H y| in QR form: the rotated Hessenberg columns (upper triangular), the
// rotations and the rotated right-hand side, whose last entry is the residual norm.
struct RowLeastSquares {
  std::vector<std::vector<double>> columns;
  std::vector<double> cosine, sine, rhs;
  bool active = false;

  void start(double beta) {
    columns.clear(), cosine.clear(), sine.clear();
    rhs = {beta};
  }
  // Adds Hessenberg column h (length j + 2); returns the new residual norm.
  double add(std::vector<double> h) {
    const std::size_t j = columns.size();
    for (std::size_t i = 0; i < j; ++i) {
      const double a = cosine[i] * h[i] + sine[i] * h[i + 1];
      h[i + 1] = -sine[i] * h[i] + cosine[i] * h[i + 1];
      h[i] = a;
    }
    // a zero column (A singular on the Krylov space) cannot reduce the residual: the rotation that
    // swaps keeps |rhs[j]| as the last entry, and the column's coefficient is 0 (solution())
    const double d = std::hypot(h[j], h[j + 1]);
    const double c = d == 0.0 ? 0.0 : h[j] / d, s = d == 0.0 ? 1.0 : h[j + 1] / d;
    cosine.push_back(c), sine.push_back(s);
    h[j] = d;
    h.resize(j + 1);
    columns.push_back(std::move(h));
    rhs.push_back(-s * rhs[j]);
    rhs[j] *= c;
    return std::fabs(rhs[j + 1]);
  }
  // The basis coefficients y (back substitution).
  std::vector<double> solution() const {
    const std::size_t m = columns.size();
    std::vector<double> y(m);
    for (std::size_t i = m; i-- > 0;) {
      double acc = rhs[i];
      for (std::size_t j = i + 1; j < m; ++j) acc -= columns[j][i] * y[j];
      y[i] = columns[i][i] == 0.0 ? 0.0 : acc / columns[i][i];
    }
    return y;
  }
};

class BatchedGmres {
public:
  BatchedGmres(const LinearMap& apply, const LinearMap& precondition, const Tensor& b, const Tensor& w2, const std::vector<double>& tolerance,
               const GmresSettings& settings)
      : apply_(apply), precondition_(precondition), b_(b), w2_(w2), tol_(tolerance), settings_(settings), rows_(static_cast<std::size_t>(b.size(0))) {
    out_.x = Tensor::zeros(b.shape(), b.dtype(), b.device());
    out_.converged.assign(rows_.size(), 0);
    unsolved_.assign(rows_.size(), 0);
  }

  GmresResult run() {
    Tensor r = b_;
    while (start_cycle(r)) {
      arnoldi();
      out_.x = add(out_.x, combination());
      if (total_ >= settings_.max_iterations || !any_active()) break;
      r = sub(b_, product(out_.x));
    }
    if (precondition_) out_.x = precondition_(out_.x);  // u -> x = P u
    mark_unsolved();
    return std::move(out_);
  }

private:
  Tensor product(const Tensor& v) {
    ++out_.products;
    return apply_(precondition_ ? precondition_(v) : v);
  }

  bool any_active() const {
    for (const RowLeastSquares& row : rows_)
      if (row.active) return true;
    return false;
  }

  // Residual norms decide which rows go on; false when none does (or the budget is spent).
  bool start_cycle(const Tensor& r) {
    const std::vector<double> beta = row_norm(r, w2_);
    std::vector<double> inverse(rows_.size(), 0.0);
    bool any = false;
    for (std::size_t q = 0; q < rows_.size(); ++q) {
      out_.converged[q] = beta[q] <= tol_[q];
      // b's norm is not finite: b is not (or is so large that its weighted square overflows, where
      // NaN, which Newton names a singular system, is still safer than a zero correction)
      if (total_ == 0 && !std::isfinite(beta[q])) unsolved_[q] = 1;
      rows_[q].active = std::isfinite(beta[q]) && !out_.converged[q] && !unsolved_[q];
      rows_[q].start(beta[q]);
      if (rows_[q].active) inverse[q] = 1.0 / beta[q], any = true;
    }
    basis_.assign(1, scale_rows(r, inverse));
    return any && total_ < settings_.max_iterations;
  }

  // Up to `restart` Arnoldi steps; rows leave when their residual reaches the tolerance.
  void arnoldi() {
    for (int j = 0; j < settings_.restart && total_ < settings_.max_iterations; ++j) {
      ++total_;
      Tensor w = product(basis_.back());
      std::vector<std::vector<double>> h(static_cast<std::size_t>(j) + 2, std::vector<double>(rows_.size()));
      for (int i = 0; i <= j; ++i) {
        h[static_cast<std::size_t>(i)] = row_dot(w, basis_[static_cast<std::size_t>(i)], w2_);
        w = sub(w, scale_rows(basis_[static_cast<std::size_t>(i)], h[static_cast<std::size_t>(i)]));
      }
      h.back() = row_norm(w, w2_);
      if (!extend(h)) return;
      std::vector<double> inverse(rows_.size(), 0.0);
      for (std::size_t q = 0; q < rows_.size(); ++q)
        if (rows_[q].active && h.back()[q] > 0.0) inverse[q] = 1.0 / h.back()[q];
      basis_.push_back(scale_rows(w, inverse));
    }
  }

  // Each active row takes its new Hessenberg column; false when no row is active any more.
  bool extend(const std::vector<std::vector<double>>& h) {
    bool any = false;
    for (std::size_t q = 0; q < rows_.size(); ++q) {
      RowLeastSquares& row = rows_[q];
      if (!row.active) continue;
      std::vector<double> column_q(h.size());
      for (std::size_t i = 0; i < h.size(); ++i) column_q[i] = h[i][q];
      const double residual = row.add(std::move(column_q));
      // the Krylov space is invariant: with A nonsingular on it the solution is exact (residual 0);
      // a residual left there means A is singular and b - A x cannot get smaller
      const bool breakdown = !(h.back()[q] > 0.0);
      if (!std::isfinite(residual)) row.active = false;
      else if (residual <= tol_[q]) row.active = false, out_.converged[q] = 1;
      else if (breakdown) row.active = false, unsolved_[q] = 1;
      any = any || row.active;
    }
    return any;
  }

  // Rows whose b is not finite, or on which A proved singular, get NaN, as an LU's solve does:
  // their iterate solves nothing, and a caller (Newton) must not read it as a correction. (A NaN
  // residual's zero iterate was read as a zero correction: converged, with the stage at its guess.)
  void mark_unsolved() {
    std::vector<double> c(rows_.size(), 1.0);
    bool any = false;
    for (std::size_t q = 0; q < rows_.size(); ++q)
      if (unsolved_[q]) c[q] = std::numeric_limits<double>::quiet_NaN(), any = true;
    if (any) out_.x = scale_rows(out_.x, c);
  }

  // sum_j V_j y_j with each row's own coefficients (zero past the row's basis size).
  Tensor combination() const {
    Tensor x = Tensor::zeros(b_.shape(), b_.dtype(), b_.device());
    std::vector<std::vector<double>> y(rows_.size());
    for (std::size_t q = 0; q < rows_.size(); ++q) y[q] = rows_[q].solution();
    for (std::size_t j = 0; j < basis_.size(); ++j) {
      std::vector<double> c(rows_.size(), 0.0);
      bool any = false;
      for (std::size_t q = 0; q < rows_.size(); ++q)
        if (j < y[q].size()) c[q] = y[q][j], any = true;
      if (any) x = add(x, scale_rows(basis_[j], c));
    }
    return x;
  }

  const LinearMap& apply_;
  const LinearMap& precondition_;
  const Tensor& b_;
  const Tensor& w2_;
  const std::vector<double>& tol_;
  const GmresSettings& settings_;
  std::vector<RowLeastSquares> rows_;
  std::vector<char> unsolved_;  // per row: b not finite, or broke down with a residual left (A singular): no more cycles
  std::vector<Tensor> basis_;
  int total_ = 0;
  GmresResult out_;
};

}  // namespace

GmresResult gmres(const LinearMap& apply, const Tensor& b, const Tensor& w2, const std::vector<double>& tolerance,
                  const GmresSettings& settings, const LinearMap& precondition) {
  return BatchedGmres(apply, precondition, b, w2, tolerance, settings).run();
}

}  // namespace tide::detail
