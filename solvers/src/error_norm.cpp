// The error norm piece (error_norm.hpp). DOP853's two estimators combine as
// err = err5^2 / sqrt(err5^2 + 0.01 err3^2) (Hairer, Norsett, Wanner II.10 / dop853.f), under
// either norm.
#include "error_norm.hpp"
#include <algorithm>
#include <cmath>

namespace tide::detail {

namespace {

double combined(const std::vector<double>& v, bool max_norm) {
  double acc = 0.0;
  for (double x : v) acc = max_norm ? std::max(acc, x) : acc + x * x;
  return max_norm ? acc : std::sqrt(acc / static_cast<double>(std::max<std::size_t>(v.size(), 1)));
}

double dop853_ratio(double s5, double s3, double count) {
  const double den = s5 + 0.01 * s3;
  return den > 0 ? s5 / std::sqrt(count * den) : 0.0;
}

// The max norm: the largest scaled error, DOP853's two estimators combined as above over the
// maxima (each a one-state RMS).
double max_ratio(double m5, double m3, bool second) { return second ? dop853_ratio(m5 * m5, m3 * m3, 1.0) : m5; }

}  // namespace

bool ErrorNorm::controls_any() const { return std::find(controlled_.begin(), controlled_.end(), 1) != controlled_.end(); }

ErrorNorm::ErrorNorm(NormKind kind, bool shared, std::vector<double> atol, std::vector<double> rtol, std::vector<char> controlled)
    : kind_(kind), shared_(shared), atol_(std::move(atol)), rtol_(std::move(rtol)), controlled_(std::move(controlled)) {}

std::vector<double> ErrorNorm::ratios(const RowError& e, const std::vector<char>& failed) const {
  const std::size_t n = e.sumsq.size();
  const bool max_norm = kind_ == NormKind::max;
  const double cnt = static_cast<double>(std::max<std::int64_t>(e.count, 1));
  std::vector<double> ratio(n);
  for (std::size_t r = 0; r < n; ++r) {
    ratio[r] = max_norm ? max_ratio(e.maximum[r], e.maximum3[r], e.second)
               : e.second ? dop853_ratio(e.sumsq[r], e.sumsq3[r], cnt)
                          : std::sqrt(e.sumsq[r] / cnt);
    if (failed[r]) ratio[r] = INFINITY;
  }
  if (!shared_) return ratio;
  double s5 = 0, s3 = 0, mx = 0, mx3 = 0;
  bool bad = false;
  for (std::size_t r = 0; r < n; ++r) {
    s5 += e.sumsq[r], s3 += e.sumsq3[r], bad = bad || failed[r];
    mx = std::max(mx, e.maximum[r]), mx3 = std::max(mx3, e.maximum3[r]);
  }
  const double rows = static_cast<double>(n);
  double all = max_norm ? max_ratio(mx, mx3, e.second) : e.second ? dop853_ratio(s5, s3, cnt) / std::sqrt(rows) : std::sqrt(s5 / (cnt * rows));
  if (bad) all = INFINITY;
  return std::vector<double>(n, all);
}

std::vector<double> ErrorNorm::norms(const Tensor& x, const Tensor& scale_by, const ErrorScale& scale) const {
  const bool max_norm = kind_ == NormKind::max;
  std::vector<double> d = row_norm(x, scale_by, scale, max_norm);
  if (shared_) d.assign(d.size(), combined(d, max_norm));
  return d;
}

void ErrorNorm::check_attainable(const Tensor& y0) const {
  const Tensor host = y0.to(Device::cpu()).to(DType::f64).contiguous();
  const std::int64_t B = host.size(0), D = std::min<std::int64_t>(host.size(1), static_cast<std::int64_t>(atol_.size()));
  const double* v = host.data<double>();
  const double u = y0.dtype() == DType::f32 ? 0x1p-24 : 0x1p-53;  // unit roundoff
  for (std::int64_t i = 0; i < D; ++i) {
    const std::size_t s = static_cast<std::size_t>(i);
    if (!controlled_[s]) continue;
    // no error is within a zero tolerance, and a state at 0 has no rounding floor to name either
    // (it failed later as "non-finite", misleadingly)
    if (atol_[s] == 0.0 && rtol_[s] == 0.0)
      fail("solve: state {} has atol = rtol = 0, which no step can meet; give it atol > 0 or rtol > 0 (atol_per_state, "
           "rtol_per_state), or leave it out of error control (seminorm)", i);
    double a = 0.0;
    for (std::int64_t b = 0; b < B; ++b)
      if (std::isfinite(v[b * host.size(1) + i])) a = std::max(a, std::fabs(v[b * host.size(1) + i]));
    if (a > 0 && atol_[s] + rtol_[s] * a < u * a)
      fail("solve: the tolerance asked for state {} (atol {:g} + rtol {:g} x |y0| = {:.3g} at |y0| = {:.3g}) is below the "
           "rounding of a {} state ({:.3g} x |y0| = {:.3g}): no step can meet it. Use rtol >= {:.2g} (100x that is a "
           "practical floor) or atol >= {:.3g}{}",
           i, atol_[s], rtol_[s], atol_[s] + rtol_[s] * a, a, dtype_name(y0.dtype()), u, u * a, u, u * a,
           y0.dtype() == DType::f32 ? ", or an f64 state" : "");
  }
}

// The y half re-integrates the forward solution: the forward's control (a seminorm or regulariser
// state stays out, as its tolerance may be 0). The adjoint half controls every state; a state
// with no tolerance (atol = rtol = 0, possible only outside the forward's control) takes the
// loosest atol and rtol of the states there (0 / 0 would make every error infinite).
ErrorNorm ErrorNorm::doubled(double atol, double rtol) const {
  std::vector<double> a = atol_, r = rtol_;
  if (atol > 0) a.assign(a.size(), atol);
  if (rtol > 0) r.assign(r.size(), rtol);
  const double loosest_a = *std::max_element(a.begin(), a.end()), loosest_r = *std::max_element(r.begin(), r.end());
  const std::size_t D = a.size();
  for (std::size_t i = 0; i < D; ++i) {
    const bool none = a[i] == 0.0 && r[i] == 0.0;
    a.push_back(none ? loosest_a : a[i]);
    r.push_back(none ? loosest_r : r[i]);
  }
  std::vector<char> controlled = controlled_;
  controlled.resize(2 * D, 1);
  return ErrorNorm(kind_, shared_, std::move(a), std::move(r), std::move(controlled));
}

}  // namespace tide::detail
