// The dense stage linear solver (stage_linear_solver.hpp): each sample's Jacobian from D
// vector-Jacobian products of one recorded evaluation (exact for any dynamics written in Var ops)
// and the LU of I - s J on the host, both kept in ImplicitMemory across stages and steps by
// CVODE's rules: a new Jacobian when there is none, when it is jacobian_max_age step attempts old,
// or when Newton failed or contracted slowly with it; a new factorisation when s moved by more than
// refactor_ratio.
#include "stage_linear_solver.hpp"
#include "tide/core/shared_count.hpp"
#include "tide/autodiff/custom.hpp"
#include "tide/autodiff/grad.hpp"
#include <cmath>

namespace tide::detail {

namespace {

// Per-row Jacobians J[r] (D x D, row-major, f64) at (z, t) for ctx's rows.
std::vector<double> row_jacobians(StepContext& ctx, const Tensor& z, const Var& t) {
  const std::int64_t n = z.size(0), d = z.size(1);
  EnableGrad enable;
  const Var leaf = Var::parameter(z.contiguous());
  const Var out = ctx.eval(leaf, t.detach());  // counted as one evaluation
  std::vector<double> jac(static_cast<std::size_t>(n * d * d), 0.0);
  GradOptions o;
  o.allow_unused = true;
  for (std::int64_t i = 0; i < d; ++i) {
    Tensor e = Tensor::zeros(z.shape(), z.dtype(), z.device());
    e.slice(1, i, i + 1).fill_(1.0);
    const std::vector<double> g = grad({out}, {leaf}, {Var(e)}, o)[0].value().to_vector();  // row i of every J[r]
    for (std::int64_t r = 0; r < n; ++r)
      std::copy_n(g.begin() + r * d, d, jac.begin() + (r * d + i) * d);
  }
  count_shared(ctx.stats.jacobian_evaluations, n);
  return jac;
}

// The rows' (I - s J)^-1 b (or its transpose) with fixed factors: linear in b, so its backward is
// the transposed solve, whose backward is this solve again: differentiable to any order.
class FactoredSolve final : public CustomBackward {
public:
  FactoredSolve(std::shared_ptr<const std::vector<LuFactors>> factors, bool transposed)
      : factors_(std::move(factors)), transposed_(transposed) {}
  const char* name() const override { return "implicit stage solve"; }
  Tensor apply(const Tensor& b) const {
    const std::int64_t n = b.size(0), d = b.size(1);
    std::vector<double> x = b.to_vector();
    for (std::int64_t r = 0; r < n; ++r) (*factors_)[static_cast<std::size_t>(r)].solve(x.data() + r * d, d, transposed_);
    return Tensor::from_vector(x, b.shape(), b.dtype(), b.device());
  }
  std::vector<Var> backward(const Var& g) override {
    auto back = std::make_shared<FactoredSolve>(factors_, !transposed_);
    return {record_custom(back->apply(g.value()), {g}, back)};
  }

private:
  std::shared_ptr<const std::vector<LuFactors>> factors_;
  bool transposed_;
};

class DenseLinearSolver final : public StageLinearSolver {
public:
  DenseLinearSolver(const ImplicitOptions& options, ImplicitMemory& memory) : options_(options), memory_(memory) {}

  void prepare(StepContext& ctx, const Tensor& y, const Var& t, const std::vector<double>& s) override {
    std::vector<char> renew(ctx.samples.size(), 0);
    for (std::size_t r = 0; r < renew.size(); ++r) renew[r] = needs_jacobian(ctx, r, y.size(1));
    evaluate(ctx, y, t, renew);
    for (std::size_t r = 0; r < renew.size(); ++r) {
      DenseRowState& row = memory_.row(ctx.samples[r]);
      if (renew[r] || row.factored_s == 0.0 || std::fabs(s[r] / row.factored_s - 1.0) > options_.refactor_ratio)
        factor(ctx, row, s[r], y.size(1));
    }
  }

  Tensor solve(StepContext& ctx, const Tensor&, const Var&, const Tensor& b, const std::vector<double>&, const Tensor&) override {
    const std::int64_t n = b.size(0), d = b.size(1);
    std::vector<double> x = b.to_vector();
    for (std::int64_t r = 0; r < n; ++r) memory_.row(ctx.samples[static_cast<std::size_t>(r)]).factors.solve(x.data() + r * d, d);
    return Tensor::from_vector(x, b.shape(), b.dtype(), b.device());
  }

  bool current(const StepContext& ctx, std::size_t r) const override {
    return memory_.row(ctx.samples[r]).jacobian_step == memory_.step;
  }

  std::vector<char> refresh(StepContext& ctx, const Tensor& y, const Var& t, const std::vector<double>& s,
                            const std::vector<char>& failed, const std::vector<char>& slow) override {
    std::vector<char> retry(failed.size(), 0);
    for (std::size_t r = 0; r < failed.size(); ++r) {
      retry[r] = failed[r] && !current(ctx, r);
      if (slow[r]) memory_.row(ctx.samples[r]).stale = true;
    }
    evaluate(ctx, y, t, retry);
    for (std::size_t r = 0; r < retry.size(); ++r)
      if (retry[r]) factor(ctx, memory_.row(ctx.samples[r]), s[r], y.size(1));
    return retry;
  }

  void linearise(StepContext& ctx, const Tensor& point, const Var& t, const std::vector<double>& s,
                 const std::vector<char>& pick) override {
    evaluate(ctx, point, t, pick);
    for (std::size_t r = 0; r < s.size(); ++r)
      if (pick[r]) factor(ctx, memory_.row(ctx.samples[r]), s[r], point.size(1));
  }

  StageSolve sensitivity(StepContext& ctx, const Tensor& point, const Var& t, const std::vector<double>& s) override {
    const std::int64_t n = point.size(0), d = point.size(1);
    const std::vector<double> jac = row_jacobians(ctx, point, t);
    auto factors = std::make_shared<std::vector<LuFactors>>(static_cast<std::size_t>(n));
    for (std::int64_t r = 0; r < n; ++r) (*factors)[static_cast<std::size_t>(r)].factor(jac.data() + r * d * d, s[static_cast<std::size_t>(r)], d);
    count_shared(ctx.stats.factorisations, n);
    return [solve = std::make_shared<FactoredSolve>(factors, false)](const Var& rhs) {
      return record_custom(solve->apply(rhs.value()), {rhs}, solve);
    };
  }

  bool records_backward() const override { return true; }

private:
  bool needs_jacobian(const StepContext& ctx, std::size_t r, std::int64_t d) const {
    const DenseRowState& row = memory_.row(ctx.samples[r]);
    if (current(ctx, r)) return false;
    return !options_.jacobian_reuse || row.jacobian_step < 0 || row.stale || static_cast<std::int64_t>(row.jacobian.size()) != d * d ||
           memory_.step - row.jacobian_step >= options_.jacobian_max_age;
  }

  // New Jacobians at y (the step's start, or an iterate) for the picked rows, evaluated together.
  void evaluate(StepContext& ctx, const Tensor& y, const Var& t, const std::vector<char>& pick) {
    const RowSubset sub(ctx, pick, y.device());
    if (sub.empty()) return;
    StepContext sctx = sub.context(ctx);
    const std::int64_t d = y.size(1);
    const std::vector<double> jac = row_jacobians(sctx, sub.take(y), Var(sub.take(t.value())));
    for (std::size_t q = 0; q < sub.positions().size(); ++q) {
      DenseRowState& row = memory_.row(sctx.samples[q]);
      row.jacobian.assign(jac.begin() + static_cast<std::int64_t>(q) * d * d, jac.begin() + static_cast<std::int64_t>(q + 1) * d * d);
      row.jacobian_step = memory_.step;
      row.stale = false;
    }
  }

  void factor(StepContext& ctx, DenseRowState& row, double s, std::int64_t d) {
    row.factors.factor(row.jacobian.data(), s, d);
    row.factored_s = s;
    count_shared(ctx.stats.factorisations);
  }

  const ImplicitOptions& options_;
  ImplicitMemory& memory_;
};

}  // namespace

std::unique_ptr<StageLinearSolver> make_dense_linear_solver(const ImplicitOptions& options, ImplicitMemory& memory) {
  return std::make_unique<DenseLinearSolver>(options, memory);
}

}  // namespace tide::detail
