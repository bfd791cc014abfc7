// Jet: construction, coefficient access, conversions between normalised and derivative
// coefficients, and promotion of shallower Jets when levels are combined.
#include "tide/taylor/jet.hpp"
#include "tide/taylor/jet_ops.hpp"
#include "tide/autodiff/composite.hpp"
#include "tide/core/plan.hpp"
#include <fmt/ranges.h>
#include <algorithm>
#include <cmath>
#include "jet_access.hpp"

namespace tide {

using detail::JetAccess;

namespace {
void check_orders(const std::vector<int>& orders, const char* what) {
  if (static_cast<int>(orders.size()) > max_jet_levels)
    fail("{}: {} nested levels, at most {} are supported", what, orders.size(), max_jet_levels);
  for (int k : orders)
    if (k < 0 || k > max_taylor_order) fail("{}: Taylor order {} is outside 0..{}", what, k, max_taylor_order);
}

// Skipped while a plan is traced (values cannot be read back then), as ode_taylor's check is.
void check_finite(const Var& v, const char* what) {
  if (Trace::active()) return;
  const Tensor t = v.value();
  if (!std::isfinite(tide::reduce(Op::sum, tide::mul_scalar(t, 0.0), all_axes(t.rank()), false).item())) {
    const auto values = t.to_vector();
    std::int64_t bad = 0;
    while (bad < static_cast<std::int64_t>(values.size()) && std::isfinite(values[static_cast<std::size_t>(bad)])) ++bad;
    fail("{}: non-finite coefficient {} at flat index {} of {}", what, values[static_cast<std::size_t>(bad)], bad, t.shape().str());
  }
}

Var factorials(int count, const Var& like, bool inverse) {
  std::vector<double> f(static_cast<std::size_t>(count));
  double acc = 1.0;
  for (int k = 0; k < count; ++k) {
    if (k > 0) acc *= k;
    f[static_cast<std::size_t>(k)] = inverse ? 1.0 / acc : acc;
  }
  Shape s = Shape::filled(like.rank(), 1);
  s[0] = count;
  return Var(Tensor::from_vector(f, s, like.dtype()).to(like.device()));
}
}  // namespace

Jet::Jet(Var constant) : data_(std::move(constant)) {}

void detail::check_levels_fit(int levels, const Shape& value, const char* what, int K) {
  if (levels + value.rank() > max_rank)
    fail("{}: {} nested levels over a value of shape {} need {} axes, but a tensor holds at most {} (levels + the value's rank <= {})",
         fmt::format(fmt::runtime(what), K), levels, value.str(), levels + value.rank(), max_rank, max_rank);
}

Jet JetAccess::from_data(Var data, const std::vector<int>& orders) {
  check_orders(orders, "Jet");
  if (data.rank() < static_cast<int>(orders.size()))
    fail("Jet: data {} has fewer axes than its {} levels", data.shape().str(), orders.size());
  for (std::size_t i = 0; i < orders.size(); ++i)
    if (data.shape()[static_cast<int>(i)] != orders[i] + 1)
      fail("Jet: axis {} of {} should hold {} coefficients", i, data.shape().str(), orders[i] + 1);
  if (!is_floating(data.dtype())) fail("Jet: coefficients must be floating, got {}", dtype_name(data.dtype()));
  Jet j;
  j.data_ = std::move(data);
  j.levels_ = static_cast<int>(orders.size());
  for (std::size_t i = 0; i < orders.size(); ++i) j.orders_[i] = static_cast<std::uint8_t>(orders[i]);
  return j;
}

namespace {
struct OpenFrame {
  std::vector<int> dual, high_water;  // the jvp's dual orders; the deepest orders made while it runs
};
thread_local std::vector<OpenFrame> open_levels;
const std::vector<int> no_levels;
}  // namespace

const std::vector<int>& JetAccess::open_orders() { return open_levels.empty() ? no_levels : open_levels.back().dual; }
const std::vector<int>& JetAccess::open_high_water() { return open_levels.empty() ? no_levels : open_levels.back().high_water; }
void JetAccess::note_level(const std::vector<int>& orders) {
  if (!open_levels.empty() && orders.size() > open_levels.back().high_water.size()) open_levels.back().high_water = orders;
}
detail::OpenLevel::OpenLevel(std::vector<int> orders) { open_levels.push_back({orders, orders}); }
detail::OpenLevel::~OpenLevel() { open_levels.pop_back(); }

Jet JetAccess::traced(const TaylorTrace* trace, int slot, Var primal) {
  Jet j(std::move(primal));
  j.trace_ = trace;
  j.slot_ = slot;
  return j;
}

Jet Jet::from_coefficients(const Var& stacked) {
  if (!stacked.defined() || stacked.rank() < 1) fail("Jet::from_coefficients: expected coefficients stacked [K+1, ...], got a 0-d value");
  const std::int64_t K = stacked.shape()[0] - 1;
  if (K < 0 || K > max_taylor_order)
    fail("Jet::from_coefficients: {} coefficients in {}, the order K must be in 0..{}", K + 1, stacked.shape().str(), max_taylor_order);
  if (!is_floating(stacked.dtype()))
    fail("Jet::from_coefficients: coefficients must be floating, got {}{}", dtype_name(stacked.dtype()), stacked.shape().str());
  check_finite(stacked, "Jet::from_coefficients");
  if (!JetAccess::open_orders().empty()) {  // inside a jvp: the new level goes above the open ones
    std::vector<Jet> series;
    for (std::int64_t k = 0; k <= K; ++k) series.emplace_back(select(stacked, 0, k));
    return from_series(series);
  }
  return JetAccess::from_data(stacked, {static_cast<int>(K)});
}

Jet Jet::from_derivatives(const Var& stacked) {
  if (!stacked.defined() || stacked.rank() < 1) fail("Jet::from_derivatives: expected derivatives stacked [K+1, ...], got a 0-d value");
  if (!is_floating(stacked.dtype()))
    fail("Jet::from_derivatives: derivatives must be floating, got {}{}", dtype_name(stacked.dtype()), stacked.shape().str());
  return from_coefficients(derivatives_to_coefficients(stacked));
}

Var coefficients_to_derivatives(const Var& stacked) { return stacked * factorials(static_cast<int>(stacked.shape()[0]), stacked, false); }
Var derivatives_to_coefficients(const Var& stacked) { return stacked * factorials(static_cast<int>(stacked.shape()[0]), stacked, true); }

Shape Jet::shape() const {
  const Shape& s = data_.shape();
  Shape out;
  for (int i = levels_; i < s.rank(); ++i) out.push_back(s[i]);
  return out;
}

Var Jet::primal() const {
  Var v = data_;
  for (int i = 0; i < levels_; ++i) v = select(v, 0, 0);
  return v;
}

Jet Jet::coefficient(int k) const {
  if (slot_ >= 0) fail("Jet::coefficient: a value on an incremental trace has only its primal until the trace is run");
  if (k < 0) fail("Jet::coefficient: negative order {}", k);
  const std::vector<int> inner(orders_.begin() + (levels_ > 0 ? 1 : 0), orders_.begin() + levels_);
  if (levels_ == 0 || k > order()) {
    if (k == 0) return *this;
    Shape s;
    for (int i = 1; i < data_.rank(); ++i) s.push_back(data_.shape()[i]);
    if (levels_ == 0) s = data_.shape();
    return JetAccess::from_data(Var(Tensor::zeros(s, dtype(), device())), inner);
  }
  return JetAccess::from_data(select(data_, 0, k), inner);
}

Var Jet::coefficients() const {
  if (levels_ > 1) fail("Jet::coefficients: a Jet with {} nested levels has no single coefficient stack; use coefficient(k)", levels_);
  return levels_ == 1 ? data_ : unsqueeze(data_, 0);
}
Var Jet::derivatives() const { return coefficients_to_derivatives(coefficients()); }

namespace {
// The data of j lifted to the given level orders (j's levels are the innermost ones): the levels
// j lacks are constant, zero above order 0.
Var promote(const Jet& j, const std::vector<int>& orders) {
  const std::vector<int> own = j.orders();
  if (own.size() > orders.size() || !std::equal(own.begin(), own.end(), orders.end() - static_cast<std::ptrdiff_t>(own.size())))
    fail("Jet: cannot combine Jets with level orders [{}] and [{}]", fmt::join(own, ", "), fmt::join(orders, ", "));
  if (own.size() == orders.size()) return j.data();
  const std::vector<int> inner(orders.begin() + 1, orders.end());
  const Var below = promote(j, inner);
  std::vector<Var> parts{unsqueeze(below, 0)};
  if (orders[0] > 0) {
    Shape zs = below.shape();
    zs = composite::unsqueezed(zs, 0);
    zs[0] = orders[0];
    parts.push_back(Var(Tensor::zeros(zs, below.dtype(), below.device())));
  }
  return parts.size() == 1 ? parts[0] : concat(parts, 0);
}
}  // namespace

Jet Jet::promoted(const Jet& j, const std::vector<int>& orders) {
  if (JetAccess::trace_slot(j) >= 0) fail("Jet::promoted: values on an incremental trace cannot be promoted");
  return JetAccess::from_data(promote(j, orders), orders);
}

namespace {
// A new outermost level over the given coefficients, their levels promoted to the deepest one's
// (and, for a level a user makes, to those of the jvp calls running: JetAccess::open_orders).
Jet series_level(const std::vector<Jet>& coefficients, bool above_open) {
  if (coefficients.empty()) fail("Jet::from_series: no coefficients given");
  if (static_cast<int>(coefficients.size()) - 1 > max_taylor_order)
    fail("Jet::from_series: {} coefficients, the order must be at most {}", coefficients.size(), max_taylor_order);
  const Jet* deepest = &coefficients[0];
  for (const Jet& c : coefficients) {
    if (JetAccess::trace_slot(c) >= 0) fail("Jet::from_series: values on an incremental trace cannot be stacked");
    if (!(c.shape() == coefficients[0].shape()))
      fail("Jet::from_series: coefficient shapes differ: {} and {}", coefficients[0].shape().str(), c.shape().str());
    if (c.dtype() != coefficients[0].dtype())
      fail("Jet::from_series: coefficient dtypes differ: {} and {}", dtype_name(coefficients[0].dtype()), dtype_name(c.dtype()));
    if (c.levels() > deepest->levels()) deepest = &c;
  }
  std::vector<int> inner = deepest->orders();
  if (above_open && JetAccess::open_orders().size() > inner.size()) inner = JetAccess::open_orders();
  detail::check_levels_fit(static_cast<int>(inner.size()) + 1, coefficients[0].shape(), "Jet::from_series");
  std::vector<Var> parts;
  for (const Jet& c : coefficients) parts.push_back(promote(c, inner));
  std::vector<int> orders{static_cast<int>(coefficients.size()) - 1};
  orders.insert(orders.end(), inner.begin(), inner.end());
  if (above_open) JetAccess::note_level(orders);
  return JetAccess::from_data(stack(parts, 0), orders);
}
}  // namespace

Jet Jet::from_series(const std::vector<Jet>& coefficients) { return series_level(coefficients, true); }
Jet JetAccess::stacked_series(const std::vector<Jet>& coefficients) { return series_level(coefficients, false); }

}  // namespace tide
