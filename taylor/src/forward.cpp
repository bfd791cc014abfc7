#include "tide/taylor/forward.hpp"
#include "jet_access.hpp"
#include <algorithm>

namespace tide {

using detail::JetAccess;
using detail::OpenLevel;

namespace {
// Coefficient k of y's level at index i (0: the outermost): a Jet without that level.
Jet level_coefficient(const Jet& y, int i, int k) {
  if (i == 0) return y.coefficient(k);
  std::vector<int> orders = y.orders();
  orders.erase(orders.begin() + i);
  return JetAccess::from_data(select(y.data(), i, k), orders);
}

void check_pair(const Jet& x, const Jet& v, std::size_t i) {
  if (!x.defined() || !v.defined()) fail("jvp: primal or tangent {} is undefined", i);
  if (!(x.shape() == v.shape()))
    fail("jvp: primal {} has shape {} but its tangent has shape {}", i, x.shape().str(), v.shape().str());
  if (x.dtype() != v.dtype())
    fail("jvp: primal {} is {} but its tangent is {}", i, dtype_name(x.dtype()), dtype_name(v.dtype()));
}
// The argument with the most levels, after checking every pair.
const Jet& deepest_argument(const std::vector<Jet>& x, const std::vector<Jet>& v) {
  const Jet* deepest = &x[0];
  for (std::size_t i = 0; i < x.size(); ++i) {
    check_pair(x[i], v[i], i);
    if (JetAccess::trace_slot(x[i]) >= 0 || JetAccess::trace_slot(v[i]) >= 0)
      fail("jvp: values on an incremental Taylor trace cannot be differentiated by jvp; use TaylorForm::rerun");
    if (x[i].levels() > deepest->levels()) deepest = &x[i];
    if (v[i].levels() > deepest->levels()) deepest = &v[i];
  }
  return *deepest;
}
}  // namespace

std::pair<Jet, Jet> jvp(const MultiJetFn& f, const std::vector<Jet>& x, const std::vector<Jet>& v) {
  if (x.size() != v.size()) fail("jvp: {} primals but {} tangents", x.size(), v.size());
  if (x.empty()) fail("jvp: no primals given");
  // Every dual sits on one new level, above the deepest level of any argument and above every level
  // made inside the jvp running around this one, its duals included (values f closes over may carry those).
  std::vector<int> inner = deepest_argument(x, v).orders();
  if (JetAccess::open_high_water().size() > inner.size()) inner = JetAccess::open_high_water();
  for (const Jet& xi : x) detail::check_levels_fit(static_cast<int>(inner.size()) + 1, xi.shape(), "jvp");
  std::vector<Jet> duals;
  for (std::size_t i = 0; i < x.size(); ++i)
    duals.push_back(Jet::from_series({Jet::promoted(x[i], inner), Jet::promoted(v[i], inner)}));
  const int L = static_cast<int>(inner.size()) + 1;
  Jet y;
  {
    OpenLevel open(duals[0].orders());
    y = f(duals);
  }
  if (y.levels() < L) return {y, Jet(Tensor::zeros(y.shape(), y.dtype(), y.device()))};
  // the dual level is the L-th from the innermost; f may have put Taylor levels of its own above it
  const int at = y.levels() - L;
  return {level_coefficient(y, at, 0), level_coefficient(y, at, 1)};
}

std::pair<Jet, Jet> jvp(const JetFn& f, const Jet& x, const Jet& v) {
  return jvp([&f](const std::vector<Jet>& a) { return f(a[0]); }, std::vector<Jet>{x}, std::vector<Jet>{v});
}

Jet nested_jvp(const JetFn& f, const Jet& x, const Jet& v, int K) {
  if (K < 0 || K > max_nested_jvp) fail("nested_jvp: K = {} is outside 0..{}", K, max_nested_jvp);
  if (K > 0 && x.defined()) {  // each jvp adds a level above x's, v's and those of the jvp calls running
    const std::size_t below = std::max({static_cast<std::size_t>(x.levels()), static_cast<std::size_t>(v.levels()),
                                        JetAccess::open_high_water().size()});
    detail::check_levels_fit(static_cast<int>(below) + K, x.shape(), "nested_jvp (K = {})", K);
  }
  JetFn g = f;
  for (int i = 0; i < K; ++i) g = [g, v](const Jet& y) { return jvp(g, y, v).second; };
  return g(x);
}

Jet taylor_directional(const JetFn& f, const Var& x, const Var& v, int K) {
  if (K < 0 || K > max_taylor_order) fail("taylor_directional: K = {} is outside 0..{}", K, max_taylor_order);
  if (!(x.shape() == v.shape())) fail("taylor_directional: x has shape {} but v has shape {}", x.shape().str(), v.shape().str());
  if (x.dtype() != v.dtype()) fail("taylor_directional: x is {} but v is {}", dtype_name(x.dtype()), dtype_name(v.dtype()));
  std::vector<Var> c{x};
  if (K >= 1) c.push_back(v);
  for (int k = 2; k <= K; ++k) c.push_back(Var(Tensor::zeros(x.shape(), x.dtype(), x.device())));
  return f(Jet::from_coefficients(stack(c, 0)));
}

}  // namespace tide
