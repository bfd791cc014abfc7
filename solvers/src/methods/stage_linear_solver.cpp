// The pieces the stage linear solvers share (stage_linear_solver.hpp): per-sample LU factors, the
// integration's memory of them, row subsets, and the choice of solver.
#include "stage_linear_solver.hpp"
#include <cmath>
#include <limits>

namespace tide::detail {

void LuFactors::factor(const double* jacobian, double s, std::int64_t d) {
  lu.assign(jacobian, jacobian + d * d);
  pivot.assign(static_cast<std::size_t>(d), 0);
  for (double& a : lu) a *= -s;
  for (std::int64_t i = 0; i < d; ++i) lu[static_cast<std::size_t>(i * d + i)] += 1.0;
  ok = lu_factor(lu.data(), d, pivot.data());
}

void LuFactors::solve(double* x, std::int64_t d, bool transposed) const {
  if (!ok) {
    std::fill(x, x + d, std::numeric_limits<double>::quiet_NaN());
    return;
  }
  if (transposed) lu_solve_transposed(lu.data(), pivot.data(), d, x);
  else lu_solve(lu.data(), pivot.data(), d, x);
}

DenseRowState& ImplicitMemory::row(std::int64_t sample) {
  if (static_cast<std::int64_t>(rows_.size()) <= sample) rows_.resize(static_cast<std::size_t>(sample + 1));
  return rows_[static_cast<std::size_t>(sample)];
}

BandRowState& ImplicitMemory::band_row(std::int64_t sample) {
  if (static_cast<std::int64_t>(band_rows_.size()) <= sample) band_rows_.resize(static_cast<std::size_t>(sample + 1));
  return band_rows_[static_cast<std::size_t>(sample)];
}

std::unique_ptr<StageLinearSolver> make_stage_linear_solver(const ImplicitOptions& options, std::int64_t D, ImplicitMemory& memory) {
  const bool krylov = options.jacobian == ImplicitOptions::Jacobian::krylov ||
                      (options.jacobian == ImplicitOptions::Jacobian::automatic && D > options.krylov_above);
  return krylov ? make_krylov_linear_solver(options, memory) : make_dense_linear_solver(options, memory);
}

RowSubset::RowSubset(const StepContext& ctx, const std::vector<char>& pick, Device device)
    : batch_(static_cast<std::int64_t>(pick.size())) {
  for (std::size_t r = 0; r < pick.size(); ++r)
    if (pick[r]) positions_.push_back(static_cast<std::int64_t>(r)), samples_.push_back(ctx.samples[r]);
  if (empty()) return;
  const auto n = static_cast<std::int64_t>(positions_.size());
  index_ = Tensor::from_indices(positions_, Shape{n}, device);
  rows_ = Rows(Tensor::from_indices(samples_, Shape{n}, device));
}

StepContext RowSubset::context(StepContext& parent) const {
  return StepContext{parent.system, rows_, samples_, parent.stats, parent.count_backward, parent.atol, parent.rtol, parent.memory};
}

Tensor RowSubset::take(const Tensor& x) const { return index_select(x, 0, index_); }

Var RowSubset::take(const Var& x) const { return index_select(x, 0, index_); }

std::vector<double> RowSubset::take(const std::vector<double>& v) const {
  std::vector<double> out;
  for (std::int64_t p : positions_) out.push_back(v[static_cast<std::size_t>(p)]);
  return out;
}

Tensor RowSubset::picked(const Tensor& like) const {
  std::vector<double> mask(static_cast<std::size_t>(batch_), 0.0);
  for (std::int64_t p : positions_) mask[static_cast<std::size_t>(p)] = 1.0;
  return column(mask, like.dtype(), like.device()).broadcast_to(like.shape());
}

Tensor RowSubset::merge(const Tensor& into, const Tensor& rows) const { return where(picked(into), index_add(rows, 0, index_, batch_), into); }

Var RowSubset::merge(const Var& into, const Var& rows) const {
  return where(Var(picked(into.value())), index_add(rows, 0, index_, batch_), into);
}

}  // namespace tide::detail
