// The method registry, generated from TIDE_SOLVER_METHODS (tableau.hpp): names, lookup by name and
// the stepper of each method. A method's own file defines its make_<name>_stepper factory.
#include "../integrate.hpp"
#include "tide/core/named.hpp"
#include "tide/core/shared_count.hpp"
#include <array>

namespace tide {

namespace {

constexpr Named<Method> kMethods[] = {
#define TIDE_METHOD_ROW(name) {#name, Method::name},
    TIDE_SOLVER_METHODS(TIDE_METHOD_ROW)
#undef TIDE_METHOD_ROW
};
constexpr std::size_t kCount = sizeof(kMethods) / sizeof(kMethods[0]);

using Factory = detail::StepperPtr (*)(const SolveOptions&);
constexpr Factory kFactories[] = {
#define TIDE_METHOD_FACTORY(name) &detail::make_##name##_stepper,
    TIDE_SOLVER_METHODS(TIDE_METHOD_FACTORY)
#undef TIDE_METHOD_FACTORY
};

std::size_t index_of(Method method) {
  const auto i = static_cast<std::size_t>(method);
  if (i >= kCount) fail("solver method id {} is not a registered method", static_cast<int>(method));
  return i;
}

}  // namespace

const std::vector<Method>& all_methods() {
  static const std::vector<Method> methods = [] {
    std::vector<Method> m;
    for (std::size_t i = 0; i < kCount; ++i) m.push_back(static_cast<Method>(i));
    return m;
  }();
  return methods;
}

const char* method_name(Method method) { return kMethods[index_of(method)].name.data(); }

Method method_from_name(const std::string& name) { return lookup(kMethods, name, "ODE method"); }

std::vector<std::string> method_names() { return names_of(kMethods); }

const Tableau& tableau(Method method) {
  const Tableau* t = detail::default_stepper(method).tableau();
  if (!t) fail("tableau: method '{}' is not a Runge-Kutta method and has no Butcher tableau", method_name(method));
  return *t;
}

namespace detail {

StepperPtr make_stepper(const SolveOptions& options) { return kFactories[index_of(options.method)](options); }

const Stepper& default_stepper(Method method) {
  static const auto steppers = [] {
    std::array<StepperPtr, kCount> s;
    for (std::size_t i = 0; i < kCount; ++i) s[i] = kFactories[i](SolveOptions{});
    return s;
  }();
  return *steppers[index_of(method)];
}

RowError Stepper::error(const Var&, const StepResult&, const ErrorScale&) const {
  fail("solve ({}): the method has no error estimate (it is a fixed-step method)", name());
}

std::vector<double> Stepper::dense_weights(double theta, double, bool* needs_f_new) const {
  if (theta != 1.0) fail("solve ({}): the method has no dense output inside a step", name());
  *needs_f_new = false;
  return {0.0, 1.0};  // y_new
}

Var StepContext::eval(const Var& z, const Var& t) {
  Var out = system.eval(z, t, rows);
  count();
  return out;
}

void StepContext::count() {
  if (count_backward) {
    count_shared(stats.backward_calls);  // threads differentiating one solve share its stats
    return;
  }
  ++stats.calls;
  for (std::int64_t b : samples) ++stats.nfe[static_cast<std::size_t>(b)];
}

}  // namespace detail
}  // namespace tide
