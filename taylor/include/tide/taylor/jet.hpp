// Jet: a truncated Taylor series carried through a computation (ENGINE.md rule 2). A Jet holds
// normalised coefficients x_k = x^(k)/k!, stacked in one Var of shape [K+1, ...]. Jets nest: a
// Jet with L levels has shape [K_0+1, ..., K_{L-1}+1, ...], its level-0 coefficients being Jets
// with L-1 levels; nested first-order jets (K = 1 per level) are the duals of nested forward mode.
// A Jet with no level is a constant (parameters, data): its series is zero above order 0 and is
// never materialised. All coefficients are Vars, so grad() through a Jet is exact.
#pragma once
#include "tide/autodiff/ops.hpp"
#include <array>
#include <vector>

namespace tide {

class TaylorTrace;
namespace detail {
struct JetAccess;
}  // namespace detail

// Highest Taylor order a Jet level may have, and the deepest nesting of levels. A Jet's data has
// one axis per level and then the value's, max_rank (core/shape.hpp) in all: levels + the value's
// rank <= max_rank, checked where a level is made (Jet::from_series, jvp, nested_jvp, ode_taylor).
inline constexpr int max_taylor_order = 32;
inline constexpr int max_jet_levels = max_rank;

class Jet {
public:
  Jet() = default;
  Jet(Var constant);  // a constant: implicit so Vars and Tensors mix with Jets
  Jet(Tensor constant) : Jet(Var(std::move(constant))) {}

  // One Taylor level from normalised coefficients [K+1, ...] (x_k = x^(k)/k!). Throws on K out
  // of range or non-finite coefficients (not checked inside a function being compiled, which cannot
  // read values).
  static Jet from_coefficients(const Var& stacked);
  // One Taylor level from derivative coefficients [K+1, ...] (x^(k), as JAX's jet takes them).
  static Jet from_derivatives(const Var& stacked);
  // A new outermost level whose coefficients 0..K are the given Jets (same shape; constants and
  // shallower Jets are promoted to the deepest one's levels).
  static Jet from_series(const std::vector<Jet>& coefficients);

  // j with the given level orders: the levels j lacks (the outermost ones) are constant.
  static Jet promoted(const Jet& j, const std::vector<int>& orders);

  bool defined() const { return data_.defined() || slot_ >= 0; }
  int levels() const { return levels_; }
  int order() const { return levels_ == 0 ? 0 : orders_[0]; }  // of the outermost level
  int order(int level) const { return orders_[static_cast<std::size_t>(level)]; }
  std::vector<int> orders() const { return {orders_.begin(), orders_.begin() + levels_}; }  // outermost first

  // The order-0 value (all levels), the shape and dtype of the represented value.
  Var primal() const;
  Shape shape() const;
  int rank() const { return shape().rank(); }
  DType dtype() const { return data_.dtype(); }
  Device device() const { return data_.device(); }

  // Coefficient k of the outermost level: a Jet with one level less (zero past the order).
  Jet coefficient(int k) const;
  // The stacked data [K_0+1, ..., ...] (for a constant, the value itself).
  const Var& data() const { return data_; }
  // One-level Jets: normalised coefficients [K+1, ...] and derivatives k! x_k.
  Var coefficients() const;
  Var derivatives() const;

  // The primal as a constant: no series, no place on a trace.
  Jet detach() const { return Jet(primal().detach()); }

private:
  friend struct detail::JetAccess;  // taylor/src/jet_access.hpp: traced values, stacked data
  Var data_;
  std::array<std::uint8_t, max_jet_levels> orders_{};
  int levels_ = 0;
  int slot_ = -1;
  const TaylorTrace* trace_ = nullptr;
};

// The order-0 value, for code written over Var and Jet alike (composite.hpp).
inline Tensor value_of(const Jet& x) { return x.primal().value(); }

// Normalised <-> derivative coefficients along axis 0 of a stack [K+1, ...]: x_k * k! and x_k / k!.
Var coefficients_to_derivatives(const Var& stacked);
Var derivatives_to_coefficients(const Var& stacked);

}  // namespace tide
