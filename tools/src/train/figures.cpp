#include "train/figures.hpp"
#include "svg_panels.hpp"
#include "svg_plot.hpp"
#include "tide/data/irregular.hpp"
#include "tide/data/vectors.hpp"
#include "tide/models/cnf.hpp"
#include "tide/models/latent_ode.hpp"
#include <fmt/format.h>
#include <algorithm>
#include <cmath>

namespace tide::cli {

namespace {

constexpr int kGrid = 100;

// A square range [-R, R] holding 99.5% of the data along every axis, padded a little (at least 0.5).
double half_width(const Tensor& x) {
  std::vector<double> a = x.to_vector();
  if (a.empty()) fail("figures: the test split is empty");
  for (double& v : a) v = std::abs(v);
  const auto k = static_cast<std::ptrdiff_t>(0.995 * static_cast<double>(a.size() - 1));
  std::nth_element(a.begin(), a.begin() + k, a.end());
  const double R = std::ceil(a[static_cast<std::size_t>(k)] * 1.1 * 2) / 2;
  return std::isfinite(R) ? std::max(R, 0.5) : 0.5;
}

// The bin of v among `bins` equal bins over [lo, lo + width), or -1 outside (NaN included).
int bin_of(double v, double lo, double width, int bins) {
  const double u = (v - lo) / width * bins;
  return u >= 0 && u < bins ? static_cast<int>(u) : -1;
}

Panel square_panel(const std::string& title, double R) {
  Panel p;
  p.title = title;
  p.x0 = p.y0 = -R, p.x1 = p.y1 = R;
  return p;
}

// The grid's cell centres, row 0 at the top: [kGrid^2, 2].
Tensor grid_points(double R) {
  std::vector<double> p;
  for (int r = 0; r < kGrid; ++r)
    for (int c = 0; c < kGrid; ++c) {
      p.push_back(-R + (c + 0.5) * 2 * R / kGrid);
      p.push_back(R - (r + 0.5) * 2 * R / kGrid);
    }
  return Tensor::from_vector(p, Shape{kGrid * kGrid, 2}, DType::f64);
}

Panel histogram_2d(const Tensor& x, double R) {
  Panel p = square_panel("data (histogram)", R);
  p.raster.assign(kGrid * kGrid, 0.0), p.raster_width = p.raster_height = kGrid;
  const std::vector<double> v = x.to_vector();
  for (std::size_t i = 0; i + 1 < v.size(); i += 2) {
    const int c = bin_of(v[i], -R, 2 * R, kGrid), r = bin_of(-v[i + 1], -R, 2 * R, kGrid);
    if (c >= 0 && r >= 0) p.raster[static_cast<std::size_t>(r * kGrid + c)] += 1;
  }
  return p;
}

Panel learned_density(const models::CnfModel& m, double R) {
  Panel p = square_panel("learned density", R);
  const Tensor g = grid_points(R);
  for (std::int64_t b = 0; b < g.size(0); b += 2000) {
    const Var lp = m.log_density(Var(g.slice(0, b, std::min(g.size(0), b + 2000))));
    for (double v : lp.value().to_vector()) p.raster.push_back(std::exp(v));
  }
  p.raster_width = p.raster_height = kGrid;
  return p;
}

std::vector<std::pair<double, double>> pairs(const std::vector<double>& v) {
  std::vector<std::pair<double, double>> out;
  for (std::size_t i = 0; i + 1 < v.size(); i += 2) out.emplace_back(v[i], v[i + 1]);
  return out;
}

Panel flow_paths(const models::CnfModel& m, double R, Generator& gen) {
  Panel p = square_panel("paths from the base (blue) to samples (red)", R);
  const std::int64_t n = 150;
  const Tensor traj = m.trajectories(gen.normal(Shape{n, 2}, 0.0, 1.0, DType::f64), 12);  // [P, n, 2]
  const std::vector<double> v = traj.to_vector();
  const std::int64_t P = traj.size(0);
  for (std::int64_t i = 0; i < n; ++i) {
    std::vector<std::pair<double, double>> path;
    for (std::int64_t t = 0; t < P; ++t) path.emplace_back(v[static_cast<std::size_t>((t * n + i) * 2)], v[static_cast<std::size_t>((t * n + i) * 2 + 1)]);
    p.points.push_back(path.back());
    p.paths.push_back(std::move(path));
  }
  return p;
}

std::vector<std::string> figures_2d(const models::CnfModel& m, const data::VectorSet& test, const std::string& dir, const std::string& title) {
  const double R = half_width(test.x);
  Generator gen(7);
  Panel samples = square_panel("samples", R);
  samples.points = pairs(m.sample(2000, gen).to_vector());
  const std::string path = dir + "/density.svg";
  write_panels(path, {histogram_2d(test.x, R), learned_density(m, R), samples, flow_paths(m, R, gen)}, 4, title);
  return {path};
}

std::vector<std::string> figures_1d(const models::CnfModel& m, const data::VectorSet& test, const std::string& dir, const std::string& title) {
  const double R = half_width(test.x);
  const int bins = 60;
  PlotSeries hist{"data (histogram)", {}, {}}, model{"learned density", {}, {}, true};
  std::vector<double> counts(bins, 0.0);
  for (double v : test.x.to_vector()) {
    const int b = bin_of(v, -R, 2 * R, bins);
    if (b >= 0) counts[static_cast<std::size_t>(b)] += 1;
  }
  const double width = 2 * R / bins, n = static_cast<double>(test.size());
  std::vector<double> xs;
  for (int b = 0; b < bins; ++b) {
    hist.x.push_back(-R + (b + 0.5) * width), hist.y.push_back(counts[static_cast<std::size_t>(b)] / (n * width));
    xs.push_back(-R + (b + 0.5) * width);
  }
  const Var lp = m.log_density(Var(Tensor::from_vector(xs, Shape{bins, 1}, DType::f64)));
  model.x = xs;
  for (double v : lp.value().to_vector()) model.y.push_back(std::exp(v));
  const std::string path = dir + "/density.svg";
  write_svg(path, Plot{title + ": density", "x", "density", false, {hist, model}});
  return {path};
}

std::vector<std::string> image_grid(const models::CnfModel& m, const std::string& dir, const std::string& title) {
  const auto& shape = m.options().image;  // {channels, rows, cols}; the first channel is shown
  const std::int64_t rows = shape[1], cols = shape[2], side = 8, D = m.options().dims;
  Generator gen(7);
  const std::vector<double> v = m.sample(side * side, gen).to_vector();
  Panel p;
  p.title = "samples";
  p.axes = false, p.colours = ColourMap::grey;
  p.raster_width = static_cast<int>(side * cols), p.raster_height = static_cast<int>(side * rows);
  p.raster.assign(static_cast<std::size_t>(p.raster_width * p.raster_height), 0.0);
  for (std::int64_t i = 0; i < side * side; ++i)
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = 0; c < cols; ++c)
        p.raster[static_cast<std::size_t>(((i / side) * rows + r) * p.raster_width + (i % side) * cols + c)] =
            std::clamp(v[static_cast<std::size_t>(i * D + r * cols + c)], 0.0, 255.0);
  const std::string path = dir + "/samples.svg";
  write_panels(path, {p}, 1, title);
  return {path};
}

// The `count` variables observed most often in `set`.
std::vector<std::int64_t> most_observed(const data::IrregularSet& set, std::size_t count) {
  const auto D = static_cast<std::size_t>(set.dims());
  std::vector<double> seen(D, 0.0);
  const std::vector<double> m = set.mask.to_vector();
  for (std::size_t i = 0; i < m.size(); ++i) seen[i % D] += m[i];
  std::vector<std::int64_t> order(D);
  for (std::size_t d = 0; d < D; ++d) order[d] = static_cast<std::int64_t>(d);
  std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) { return seen[static_cast<std::size_t>(a)] > seen[static_cast<std::size_t>(b)]; });
  order.resize(std::min(count, D));
  return order;
}

// A model's line through one sequence: times and the decoded values there [times, D].
struct Curve {
  std::vector<double> t, v;
};

// Sequence n's line from its z0 [B, L]: the latent ODE's trajectory on a dense grid over
// [0, t_end] (a flow: the same values at any grid's times); the RNN-VAE's predictions at the
// sequence's own times, as scored (its GRU's output depends on the times it steps over, so a dense
// grid drew a line that missed them).
Curve model_curve(const models::LatentOdeModel& m, const data::IrregularSet& set, const Tensor& z0, std::int64_t n, double t_end) {
  Curve c;
  if (m.options().generative_model == models::LatentGenerative::rnn) {
    const data::IrregularSet one = set.slice(n, n + 1);
    const auto steps = static_cast<std::size_t>(one.lengths.to_indices()[0]);
    models::LatentPass pass;
    c.t = one.times.to_vector(), c.v = m.decode(unsqueeze(Var(z0.slice(0, n, n + 1)), 0), one, {}, {}, 0, pass).value().to_vector();
    c.t.resize(steps), c.v.resize(steps * static_cast<std::size_t>(set.dims()));
    return c;
  }
  const int points = 100;
  c.v = m.trajectories(z0.slice(0, n, n + 1), t_end, points).second.to_vector();  // [points, 1, D]
  for (int i = 0; i < points; ++i) c.t.push_back(t_end * i / (points - 1));
  return c;
}

// One panel per (sequence, variable): the observations as dots and the reconstruction from the
// posterior mean of z0 as a line over [0, the sequence's last time].
std::vector<std::string> reconstructions(const models::LatentOdeModel& m, const data::IrregularSet& test, const std::string& dir,
                                         const std::string& title) {
  const std::int64_t shown = std::min<std::int64_t>(4, test.size()), D = test.dims();
  const data::IrregularSet set = test.slice(0, shown);
  const std::vector<std::int64_t> variables = most_observed(test, 3);
  const auto [seen, scored] = m.task_masks(set, nullptr);
  const Tensor z0 = m.encode(set, seen).first.value();
  const std::vector<double> t = set.times.to_vector(), v = set.values.to_vector(), mask = set.mask.to_vector();
  const std::vector<std::int64_t> len = set.lengths.to_indices();
  std::vector<Panel> panels;
  for (std::int64_t n = 0; n < shown; ++n) {
    const std::int64_t Ts = set.steps();
    const double t_end = std::max(t[static_cast<std::size_t>(n * Ts + len[static_cast<std::size_t>(n)] - 1)], 1e-6);
    const Curve curve = model_curve(m, set, z0, n, t_end);
    for (std::int64_t d : variables) {
      Panel p;
      p.title = fmt::format("sequence {}: {}", n, test.variables[static_cast<std::size_t>(d)]);
      p.x0 = 0, p.x1 = t_end;
      double lo = INFINITY, hi = -INFINITY;
      std::vector<std::pair<double, double>> line;
      for (std::size_t i = 0; i < curve.t.size(); ++i) {
        const double y = curve.v[i * static_cast<std::size_t>(D) + static_cast<std::size_t>(d)];
        line.emplace_back(curve.t[i], y), lo = std::min(lo, y), hi = std::max(hi, y);
      }
      p.paths.push_back(line);
      for (std::int64_t k = 0; k < len[static_cast<std::size_t>(n)]; ++k) {
        const auto i = static_cast<std::size_t>((n * Ts + k) * D + d);
        if (mask[i] == 0) continue;
        p.points.emplace_back(t[static_cast<std::size_t>(n * Ts + k)], v[i]), lo = std::min(lo, v[i]), hi = std::max(hi, v[i]);
      }
      const double pad = 0.1 * std::max(hi - lo, 1e-3);
      p.y0 = lo - pad, p.y1 = hi + pad;
      panels.push_back(std::move(p));
    }
  }
  const std::string path = dir + "/reconstructions.svg";
  const int columns = variables.size() == 1 ? static_cast<int>(shown) : static_cast<int>(variables.size());
  write_panels(path, panels, columns, title + ": reconstructions (dots: observations)");
  return {path};
}

}  // namespace

std::vector<std::string> write_model_figures(const models::Model& model, const data::Dataset& data, const std::string& dir,
                                             const std::string& title) {
  NoGrad no_grad;
  if (const auto* latent = dynamic_cast<const models::LatentOdeModel*>(&model))
    return reconstructions(*latent, data::irregular_of(*data.test, "figures"), dir, title);
  const auto* cnf = dynamic_cast<const models::CnfModel*>(&model);
  if (!cnf) return {};
  const data::VectorSet& test = data::vectors_of(*data.test, "figures");
  if (cnf->is_image()) return image_grid(*cnf, dir, title);
  if (test.dims() == 2) return figures_2d(*cnf, test, dir, title);
  if (test.dims() == 1) return figures_1d(*cnf, test, dir, title);
  return {};
}

}  // namespace tide::cli
