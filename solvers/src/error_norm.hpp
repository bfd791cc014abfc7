// Internal: the error norm piece of an adaptive solve. Per-state absolute and relative tolerances,
// the states left out of control (seminorm, regulariser states), RMS or max over the state, and
// one combined ratio for the whole batch when the batch shares one step (torchdiffeq's choice).
#pragma once
#include "combine.hpp"
#include "tide/solvers/options.hpp"

namespace tide::detail {

class ErrorNorm {
public:
  ErrorNorm() = default;
  // atol / rtol / controlled per state (size D), already checked
  ErrorNorm(NormKind kind, bool shared, std::vector<double> atol, std::vector<double> rtol, std::vector<char> controlled);

  // The error ratio of each row (accept when <= 1): infinite for failed rows; one value for all
  // rows when the batch shares its step.
  std::vector<double> ratios(const RowError& error, const std::vector<char>& failed) const;
  // The norm of each row of x scaled by atol + rtol |scale_by| (the first-step heuristic).
  std::vector<double> norms(const Tensor& x, const Tensor& scale_by, const ErrorScale& scale) const;
  // The scales on a device, made once per integration.
  ErrorScale scale_on(Device device) const { return error_scale(atol_, rtol_, controlled_, device); }

  // Refuses tolerances no step can meet: for a controlled state i, atol_i + rtol_i |y0_i| below
  // the unit roundoff of y0's dtype times |y0_i| (the rounding of y0_i itself), at the largest
  // |y0_i| of the batch. Such a solve would shrink its steps until max_steps and end no more
  // accurate than rtol = unit roundoff; it is refused up front, naming the state and the floor.
  void check_attainable(const Tensor& y0) const;

  // Whether any state is under error control (a seminorm over every state leaves none).
  bool controls_any() const;
  const std::vector<double>& atol() const { return atol_; }
  const std::vector<double>& rtol() const { return rtol_; }
  const std::vector<char>& controlled() const { return controlled_; }
  // the same norm over [state, adjoint] (the adjoint's augmented system), the tolerances replaced
  // where given (> 0): the state half under the forward's control, every adjoint state controlled
  // (one with no tolerance takes the loosest atol and rtol of the states)
  ErrorNorm doubled(double atol, double rtol) const;

private:
  NormKind kind_ = NormKind::rms;
  bool shared_ = false;
  std::vector<double> atol_, rtol_;
  std::vector<char> controlled_;
};

}  // namespace tide::detail
