// Internal: the diagonally implicit stages of an ESDIRK tableau, k_i = f(z_i + h gamma k_i, t_i),
// solved per row by simplified Newton with the Jacobian at the step's start (engine Jacobians:
// exact for any dynamics written in Var ops, per-row LU on the host).
#pragma once
#include "../stepper.hpp"

namespace tide::detail {

class ImplicitStages {
public:
  ImplicitStages(const Var& y, const std::vector<double>& t, int newton_max_iterations)
      : y_(y), t_(t), newton_max_iterations_(newton_max_iterations) {}

  // Stage i's value and where f was evaluated (z_i + s k_i). Marks rows that did not converge
  // in `failed`. Recorded (grad mode on): the value carries the implicit function theorem's
  // derivative, so discrete backprop through the stage is exact at convergence.
  struct Stage {
    Var k, z;
  };
  Stage solve(StepContext& ctx, const Var& zi, const Var& ti, const std::vector<double>& h, double gamma,
              const Tensor& guess, std::vector<char>& failed);

private:
  struct RowLU {
    std::vector<double> lu;
    std::vector<std::int64_t> pivot;
    std::vector<char> ok;
  };
  static std::vector<double> row_jacobians(StepContext& ctx, const Var& z, const Var& t);
  static RowLU factor_rows(const std::vector<double>& jac, const std::vector<double>& s, std::int64_t n, std::int64_t d);
  Tensor newton(StepContext& ctx, const Tensor& z, const Var& t, const std::vector<double>& s, Tensor k,
                std::vector<char>& failed) const;
  Var implicit_function_stage(StepContext& ctx, const Var& zi, const Var& ti, const std::vector<double>& s,
                              const Tensor& kstar) const;

  Var y_;
  std::vector<double> t_;
  int newton_max_iterations_;
  RowLU lu_;  // (I - s J) at the step's start, factored once per step
  bool factored_ = false;
};

}  // namespace tide::detail
