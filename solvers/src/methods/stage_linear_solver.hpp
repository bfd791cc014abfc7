// Internal: the linear systems of an implicit stage's Newton iteration, (I - s_r J_r) dk = b row by
// row (s_r = h_r gamma, J_r the Jacobian of sample r), behind one small interface: the dense solver
// (each sample's Jacobian and LU kept across stages and steps in ImplicitMemory) and the
// matrix-free Krylov solver (JVPs and GMRES). Each also gives the implicit function theorem's map
// (I - s J*)^-1 at a converged stage, differentiably, for a recorded step.
#pragma once
#include "../integrate.hpp"
#include "band_preconditioner.hpp"

namespace tide::detail {

// The LU factors of I - s J for one sample (host f64, partial pivoting).
struct LuFactors {
  std::vector<double> lu;
  std::vector<std::int64_t> pivot;
  bool ok = false;  // false: singular or not made
  void factor(const double* jacobian, double s, std::int64_t d);
  void solve(double* x, std::int64_t d, bool transposed = false) const;  // NaN when !ok
};

// One sample's Newton matrix: its Jacobian (from an earlier step's start, or from a fixed step's
// last try at a stage: its last iterate) and the factors of I - s J with the s they were made with.
struct DenseRowState {
  std::vector<double> jacobian;     // D x D, row-major
  LuFactors factors;
  double factored_s = 0.0;          // 0: not factorised
  std::int64_t jacobian_step = -1;  // the step attempt the Jacobian was computed in; -1: none
  bool stale = false;               // Newton contracted slowly with it: replaced at the next step
};

// What the implicit Runge-Kutta stepper keeps between the steps of one integration.
class ImplicitMemory final : public StepperMemory {
public:
  std::int64_t step = 0;  // step attempts begun
  DenseRowState& row(std::int64_t sample);
  BandRowState& band_row(std::int64_t sample);  // the Krylov path's preconditioner

private:
  std::vector<DenseRowState> rows_;  // by sample
  std::vector<BandRowState> band_rows_;
};

class StageLinearSolver {
public:
  virtual ~StageLinearSolver() = default;
  // Before a stage's Newton iteration; y, t: the step's start for ctx's rows.
  virtual void prepare(StepContext& ctx, const Tensor& y, const Var& t, const std::vector<double>& s) = 0;
  // dk with (I - s J) dk = b for ctx's rows, linearised at `point` = z + s k. `weight` [n, D] is
  // 1 / (atol + rtol |z|): Newton measures s |dk| with it, and the linear solve's accuracy too.
  virtual Tensor solve(StepContext& ctx, const Tensor& point, const Var& t, const Tensor& b, const std::vector<double>& s,
                       const Tensor& weight) = 0;
  // Whether row r's Jacobian was made in this step (so a failure with it is final).
  virtual bool current(const StepContext& ctx, std::size_t r) const = 0;
  // After Newton: failed rows whose Jacobian was kept from an earlier step get a new one at the
  // step's start (y, t) and are returned, to be retried; rows that converged slowly have theirs
  // replaced at the next step.
  virtual std::vector<char> refresh(StepContext& ctx, const Tensor& y, const Var& t, const std::vector<double>& s,
                                    const std::vector<char>& failed, const std::vector<char>& slow) = 0;
  // Newton's matrix for the picked rows made at `point` = z + s k, for the solves that follow (full
  // Newton: NewtonSettings::relinearise). The Krylov solver is linearised at every iterate already.
  virtual void linearise(StepContext& ctx, const Tensor& point, const Var& t, const std::vector<double>& s,
                         const std::vector<char>& pick) = 0;
  // rhs -> (I - s J*)^-1 rhs with J* the Jacobian at `point`, differentiable in rhs: the implicit
  // function theorem's map at a converged stage (made once, applied as often as needed).
  using StageSolve = std::function<Var(const Var& rhs)>;
  virtual StageSolve sensitivity(StepContext& ctx, const Tensor& point, const Var& t, const std::vector<double>& s) = 0;
  // Whether StageSolve's backward can itself be recorded (create_graph): then second derivatives
  // through the stage are worth making exact.
  virtual bool records_backward() const = 0;
};

// The solver `options` choose for a state of width D (automatic: Krylov above krylov_above).
std::unique_ptr<StageLinearSolver> make_stage_linear_solver(const ImplicitOptions& options, std::int64_t D, ImplicitMemory& memory);
std::unique_ptr<StageLinearSolver> make_dense_linear_solver(const ImplicitOptions& options, ImplicitMemory& memory);
std::unique_ptr<StageLinearSolver> make_krylov_linear_solver(const ImplicitOptions& options, ImplicitMemory& memory);

// Some rows of a step (positions in its batch) as a batch of their own: the rows a Jacobian is
// computed for, or a Newton iteration retried on.
class RowSubset {
public:
  RowSubset(const StepContext& ctx, const std::vector<char>& pick, Device device);
  bool empty() const { return positions_.empty(); }
  const std::vector<std::int64_t>& positions() const { return positions_; }
  StepContext context(StepContext& parent) const;  // evaluates these rows; must not outlive *this
  Tensor take(const Tensor& x) const;              // x's rows at the positions
  Var take(const Var& x) const;                    // (differentiable)
  std::vector<double> take(const std::vector<double>& v) const;
  Tensor merge(const Tensor& into, const Tensor& rows) const;  // `into` with the picked rows replaced
  Var merge(const Var& into, const Var& rows) const;           // (differentiable in both)

private:
  Tensor picked(const Tensor& like) const;  // 1 at the positions' rows, 0 elsewhere, broadcast to `like`
  std::vector<std::int64_t> positions_, samples_;
  Tensor index_;
  Rows rows_;
  std::int64_t batch_ = 0;
};

}  // namespace tide::detail
