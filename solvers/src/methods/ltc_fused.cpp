// The LTC fused stepper (Hasani et al. 2021, algorithm 1): for dz/dt = -(a(z, t) + b) z + c(z, t)
// one semi-implicit Euler step z <- (z + h c) / (1 + h (a + b)). The dynamics return concat(a, c);
// b is the constant SolveOptions::fused_b. It has no error estimate (fixed step) and lands on every
// output; its plain form -(a + b) z + c is solved by rk4 where a plain right-hand side is needed
// (the adjoint's backward solve).
#include "../stepper.hpp"
#include "tide/solvers/step.hpp"

namespace tide::detail {

namespace {

class LtcFused final : public Stepper {
public:
  explicit LtcFused(Tensor b) : b_(std::move(b)) {}
  Method method() const override { return Method::ltc_fused; }
  int order() const override { return 1; }
  int output_width() const override { return 2; }

  StepResult step(StepContext& ctx, const Var& y, const Var&, const std::vector<double>& t,
                  const std::vector<double>& h) const override {
    StepResult out;
    const DType dtype = y.dtype();
    const Device device = y.device();
    out.failed.assign(t.size(), 0);
    const Var tc = Var(column(t, dtype, device));
    const Var ac = ctx.eval(y, tc);
    const std::int64_t d = y.size(1);
    if (ac.rank() != 2 || ac.size(1) != 2 * d || ac.size(0) != y.size(0))
      fail("solve (ltc_fused): the dynamics must return concat(a, c) of shape [{}, {}], got {}", y.size(0), 2 * d, ac.shape().str());
    const Var b = Var(b_.defined() ? b_.to(dtype).to(device) : Tensor::zeros(Shape{1}, dtype, device));
    out.y_new = ltc_fused_update(y, slice(ac, 1, 0, d) + b, slice(ac, 1, d, 2 * d), Var(column(h, dtype, device)));
    out.stage_z = {y};
    out.stage_t = {tc};
    out.h = row_vector(h, dtype, device);
    return out;
  }

  Dynamics plain_rhs(const Dynamics& f) const override { return fused_rhs(f, b_); }
  StepperPtr plain_stepper(const StepperPtr&) const override { return make_rk4_stepper(SolveOptions{}); }

private:
  Tensor b_;
};

}  // namespace

StepperPtr make_ltc_fused_stepper(const SolveOptions& options) { return std::make_shared<LtcFused>(options.fused_b); }

}  // namespace tide::detail

namespace tide {

Var ltc_fused_update(const Var& z, const Var& a, const Var& c, const Var& h) { return (z + h * c) / (h * a + 1.0); }

}  // namespace tide
