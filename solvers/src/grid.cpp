// The per-sample time grids of a solve: checked (finite, strictly monotone, mask a prefix per
// row), padded with each sample's last time, and STEER's training-time draws applied to them.
#include "solve_internal.hpp"
#include <cmath>

namespace tide::detail {

namespace {

// Sample b's first c times strictly monotone, in either direction; a repeat is named as one
// (checked first: it would also read as a change of direction).
void check_strictly_monotone(const Grid& g, std::int64_t b, std::int64_t c) {
  for (std::int64_t j = 1; j < c; ++j)
    if (g.at(b, j) == g.at(b, j - 1))
      fail("solve: times of sample {} repeat a value at index {} ({}); times must be strictly monotone", b, j, g.at(b, j));
  for (std::int64_t j = 2; j < c; ++j) {
    const double d0 = g.at(b, j - 1) - g.at(b, j - 2), d1 = g.at(b, j) - g.at(b, j - 1);
    if ((d0 > 0) != (d1 > 0))
      fail("solve: times of sample {} are not monotone (t[{}] = {}, t[{}] = {}, t[{}] = {})", b, j - 2, g.at(b, j - 2), j - 1,
           g.at(b, j - 1), j, g.at(b, j));
  }
}

}  // namespace

Grid make_grid(const Var& times, std::int64_t B, const Tensor& mask) {
  if (!times.defined()) fail("solve: times is undefined");
  if (!is_floating(times.dtype())) fail("solve: times must be f32 or f64, got {}", times.str());
  if (times.rank() != 1 && times.rank() != 2) fail("solve: times must be [T] or [B, T] (per sample), got {}", times.str());
  if (times.rank() == 2 && times.size(0) != B) fail("solve: per-sample times {} do not match the batch of y0 ({} samples)", times.str(), B);
  Grid g;
  g.B = B;
  g.T = times.size(times.rank() - 1);
  if (g.T < 1) fail("solve: times {} is empty", times.str());
  const std::vector<double> tv = times.value().to_vector();
  std::vector<double> mv;
  if (mask.defined()) {
    if (times.rank() != 2) fail("solve: a mask needs per-sample times [B, T]; times is {}", times.str());
    if (!(mask.shape() == times.shape())) fail("solve: mask {} does not match times {}", mask.str(), times.str());
    mv = mask.to_vector();
    const std::size_t T = static_cast<std::size_t>(g.T);
    for (std::size_t i = 0; i < mv.size(); ++i)  // nonzero is valid: a NaN would count as valid, silently
      if (std::isnan(mv[i])) fail("solve: mask[{}, {}] is NaN (1: a valid time, 0: padding)", i / T, i % T);
  }
  g.t.resize(static_cast<std::size_t>(B * g.T));
  g.count.assign(static_cast<std::size_t>(B), g.T);
  for (std::int64_t b = 0; b < B; ++b) {
    std::int64_t c = g.T;
    if (!mv.empty()) {
      c = 0;
      while (c < g.T && mv[static_cast<std::size_t>(b * g.T + c)] != 0) ++c;
      for (std::int64_t j = c; j < g.T; ++j)
        if (mv[static_cast<std::size_t>(b * g.T + j)] != 0)
          fail("solve: mask row {} is not a prefix (valid at {} after padding at {}); pad sequences at the end", b, j, c);
      if (c == 0) fail("solve: mask row {} has no valid time (a sample needs at least its start time)", b);
    }
    g.count[static_cast<std::size_t>(b)] = c;
    for (std::int64_t j = 0; j < g.T; ++j) {
      const std::int64_t src = times.rank() == 2 ? b * g.T + std::min(j, c - 1) : std::min(j, c - 1);
      const double t = tv[static_cast<std::size_t>(src)];
      if (!std::isfinite(t)) fail("solve: times[{}] of sample {} is not finite ({})", j, b, t);
      g.t[static_cast<std::size_t>(b * g.T + j)] = t;
    }
    check_strictly_monotone(g, b, c);
  }
  return g;
}

namespace {

// Per-interval STEER on sample b's grid: interval j's signed length dt becomes drawn(j, dt), the
// intervals following one another from the first time.
template <class Drawn>
void redraw_intervals(Grid& g, std::int64_t b, const std::vector<double>& orig, Drawn drawn) {
  for (std::size_t j = 1; j < orig.size(); ++j) {
    const double dt = orig[j] - orig[j - 1];
    g.t[static_cast<std::size_t>(b * g.T) + j] = g.at(b, static_cast<std::int64_t>(j) - 1) + drawn(static_cast<std::int64_t>(j), dt);
  }
}

}  // namespace

// STEER: training-time draws of each interval's length (steer.per_interval) or of the last time.
void apply_steer(Grid& g, const Steer& steer, std::uint64_t seed, bool per_sample_grid) {
  if (!steer.enabled) return;
  if (!(steer.relative >= 0 && steer.relative < 1)) fail("solve (STEER): relative = {} must lie in [0, 1)", steer.relative);
  // (NaN fails these too: a NaN end time ran to max_steps; a negative eps drew negative lengths)
  if (steer.per_interval && !(steer.eps >= 0 && std::isfinite(steer.eps)))
    fail("solve (STEER): eps = {} must be finite and >= 0", steer.eps);
  // the single-interval form reads b alone: relative, or b = 0, was a STEER that drew nothing
  if (!steer.per_interval && steer.relative != 0)
    fail("solve (STEER): relative = {} applies to the per-interval form (set per_interval); the single-interval form "
         "draws the last time in [t - b, t + b]", steer.relative);
  if (!steer.per_interval && steer.b == 0)
    fail("solve (STEER): b = {} draws nothing: the single-interval form needs b > 0 (below the last interval's length), "
         "or set per_interval", steer.b);
  Generator gen(seed ^ 0x5354454552ull);
  const std::int64_t draws = per_sample_grid ? g.B : 1, intervals = std::max<std::int64_t>(g.T - 1, 1);
  // constant relative half-width: the factors sequence models draw too (steer_intervals)
  const bool relative = steer.per_interval && steer.relative > 0;
  const Tensor u = relative ? steer_intervals(Tensor::ones(Shape{draws, intervals}, DType::f64), steer.relative, gen)
                            : gen.uniform(Shape{draws, intervals}, -1.0, 1.0, DType::f64);
  const std::vector<double> uv = u.to_vector();
  for (std::int64_t b = 0; b < g.B; ++b) {
    const std::int64_t c = g.count[static_cast<std::size_t>(b)];
    const std::int64_t row = per_sample_grid ? b : 0;
    const double* ub = uv.data() + row * intervals;
    std::vector<double> orig(static_cast<std::size_t>(c));
    for (std::int64_t j = 0; j < c; ++j) orig[static_cast<std::size_t>(j)] = g.at(b, j);
    if (relative) {
      redraw_intervals(g, b, orig, [&](std::int64_t j, double dt) { return dt * ub[j - 1]; });
    } else if (steer.per_interval) {
      // each interval's length is drawn from U(|dt| - b_i, |dt| + b_i) with b_i = |dt| - eps
      redraw_intervals(g, b, orig, [&](std::int64_t j, double dt) {
        const double bi = std::max(0.0, std::fabs(dt) - steer.eps);  // an interval shorter than eps is kept
        const double len = std::fabs(dt) + bi * ub[j - 1];
        return dt > 0 ? len : -len;
      });
    } else if (c >= 2) {
      const double span = orig[static_cast<std::size_t>(c - 1)] - orig[static_cast<std::size_t>(c - 2)];
      if (!(steer.b >= 0 && steer.b < std::fabs(span)))
        fail("solve (STEER): b = {} must lie in [0, {}) (the last interval's length)", steer.b, std::fabs(span));
      g.t[static_cast<std::size_t>(b * g.T + c - 1)] = orig[static_cast<std::size_t>(c - 1)] + steer.b * ub[0];
    }
    for (std::int64_t j = c; j < g.T; ++j) g.t[static_cast<std::size_t>(b * g.T + j)] = g.at(b, c - 1);
  }
}

}  // namespace tide::detail

namespace tide {

Tensor steer_intervals(const Tensor& lengths, double relative, Generator& gen) {
  if (!(relative >= 0 && relative < 1)) fail("STEER: the relative half-width must lie in [0, 1), got {}", relative);
  return mul(lengths, gen.uniform(lengths.shape(), 1.0 - relative, 1.0 + relative, lengths.dtype()));
}

}  // namespace tide
