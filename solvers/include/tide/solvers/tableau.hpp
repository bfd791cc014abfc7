// Runge-Kutta methods as data (ENGINE.md rule 3): a Butcher tableau, its embedded error weights and
// its interpolant. One stepping routine (step.cpp) serves every explicit and diagonally implicit
// tableau; the controller, the norm and the gradient kind are separate pieces.
#pragma once
#include <string>
#include <vector>

namespace tide {

// The solver methods, one line each: the registration line of a method (docs/design.md, "new
// solver method"). The enum, the names (the config / CLI spelling) and the stepper registry are
// generated from this list; each method's stepper lives in its own file under solvers/src/methods/.
#define TIDE_SOLVER_METHODS(X)                                                                  \
  X(euler) X(midpoint) X(heun) X(heun3) X(ralston) X(rk4) X(rk4_38) /* fixed step */             \
  X(heun_euler) X(bosh3) X(dopri5) X(tsit5) X(fehlberg45) X(dop853) /* adaptive explicit */     \
  X(adaptive_heun) X(fehlberg2) X(dopri8)                      /* torchdiffeq's own */           \
  X(kvaerno3)                                                  /* adaptive L-stable ESDIRK */    \
  X(ltc_fused)                                                 /* LTC semi-implicit Euler (fixed step) */

enum class Method {
#define TIDE_METHOD_ENUM(name) name,
  TIDE_SOLVER_METHODS(TIDE_METHOD_ENUM)
#undef TIDE_METHOD_ENUM
};

// Every method, in declaration order, and its name.
const std::vector<Method>& all_methods();
const char* method_name(Method method);
std::vector<std::string> method_names();  // every method's name, in all_methods() order
// Throws tide::Error listing the known names when `name` is not one of them.
Method method_from_name(const std::string& name);

struct Tableau {
  std::string name;
  int order = 1;              // order of the propagated solution
  int error_order = 0;        // order of the embedded solution (0: no error estimate, fixed step)
  std::vector<double> c;                 // nodes, size S
  std::vector<std::vector<double>> a;    // a[i][j], S x S (explicit: strictly lower triangular)
  std::vector<double> b;                 // propagated weights, size S
  // Error weights e = b - b_embedded (size S; empty when error_order == 0). The local error
  // estimate is h * sum_i e[i] k_i.
  std::vector<double> e;
  // DOP853 only: a second error estimator (Hairer's 3rd-order one) combined with `e` as
  // err = err5^2 / sqrt(err5^2 + 0.01 err3^2) (Hairer, Norsett, Wanner, II.10 / dop853.f).
  std::vector<double> e3;
  bool fsal = false;          // the last stage is f at the new state (reused as the next first stage)
  // The last stage is reused as the next step's first stage although it is f at another point
  // than the new state. torchdiffeq does this for every tableau (its adaptive_heun and fehlberg2
  // are the ones where it matters: one evaluation per step instead of two, and a different
  // method); tide's reproductions of those two set it, no other tableau does.
  bool reuse_last_stage = false;
  bool implicit = false;      // diagonal entries a[i][i] != 0 (ESDIRK: a[0][0] == 0)
  // Dense output: y(t + theta h) = y + h sum_i b_i(theta) k_i with
  // b_i(theta) = sum_p interp[i][p] theta^(p+1). Empty: cubic Hermite from the step's end points
  // (y0, f0, y1, f1), which needs f at the new state (free for FSAL methods).
  std::vector<std::vector<double>> interp;
  int interp_order = 3;       // order of the dense output (3 for the Hermite fallback)

  int stages() const { return static_cast<int>(c.size()); }
  bool adaptive() const { return error_order > 0; }
  // Where the method's stability region leaves the negative real axis: the smallest x > 0 with
  // |R(-x)| > 1 (R the stability function; bosh3 2.51, dopri5 3.31); infinity for an implicit
  // tableau. A step held near |h| * spectral radius = this limit is limited by stability.
  double real_stability_limit() const;
  // The smallest x in (0, real_stability_limit()] where the embedded error estimate of a linear
  // decay vanishes, E(-x) = 0 with E(z) = sum_k z^k e^T A^(k-1) 1 (bosh3: x = 1, where a step
  // with h * rate = 1 reports no error though it is off by 0.035); infinity when there is none
  // (or no estimate). The first step is kept clear of it.
  double real_error_zero() const;
};

// The tableau of a Runge-Kutta method; throws for a method that has none (ltc_fused).
const Tableau& tableau(Method method);

}  // namespace tide
