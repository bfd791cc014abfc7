// The figures `tide train` writes for a model family (train/figures.hpp) and the SVG panels with
// embedded PNG rasters under them (svg_panels.hpp): the PNG decodes back to its pixels, and flows
// on 2-D, 1-D and image data each get their figure. The line plots' round ticks (svg_plot.hpp),
// the run's learning curves and `tide plot`'s overlay of several runs (train/run_plots.hpp).
#include "svg_panels.hpp"
#include "svg_plot.hpp"
#include "train/figures.hpp"
#include "train/run_plots.hpp"
#include "tide/data/vectors.hpp"
#include "tide/data/irregular.hpp"
#include "tide/models/cnf.hpp"
#include "tide/models/latent_ode.hpp"
#include <doctest/doctest.h>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <zlib.h>

using namespace tide;
namespace fs = std::filesystem;

namespace {

std::uint32_t be32(const std::string& s, std::size_t at) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(s[at + i]);
  return v;
}

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

data::Dataset vector_dataset(const Tensor& x, std::vector<std::int64_t> image = {}) {
  data::VectorSet s;
  s.name = "test";
  s.x = x;
  s.image = std::move(image);
  data::Dataset d;
  d.train = d.val = d.test = std::make_shared<data::VectorExamples>(s);
  return d;
}

models::CnfOptions quick(std::int64_t dims) {
  models::CnfOptions o;
  o.dims = dims;
  o.hidden = {6};
  o.train.ode = models::OdeSpec{Method::rk4, 1, 1e-3, 1e-4, GradientKind::discrete};
  o.train.steps = 2;
  o.test = o.train;
  return o;
}

}  // namespace

TEST_CASE("encode_png: a PNG whose header and inflated rows give back the pixels") {
  std::vector<unsigned char> rgb;
  for (int i = 0; i < 3 * 5 * 3; ++i) rgb.push_back(static_cast<unsigned char>(i * 7));
  const std::string png = cli::encode_png(rgb, 5, 3);
  REQUIRE(png.substr(0, 8) == std::string("\x89PNG\r\n\x1a\n", 8));
  CHECK(png.substr(12, 4) == "IHDR");
  CHECK(be32(png, 16) == 5);
  CHECK(be32(png, 20) == 3);
  const std::size_t idat = png.find("IDAT");
  REQUIRE(idat != std::string::npos);
  const std::uint32_t n = be32(png, idat - 4);
  std::string rows(3 * (1 + 15), '\0');
  uLongf size = static_cast<uLongf>(rows.size());
  REQUIRE(uncompress(reinterpret_cast<Bytef*>(rows.data()), &size, reinterpret_cast<const Bytef*>(png.data() + idat + 4), n) == Z_OK);
  for (int r = 0; r < 3; ++r) {
    CHECK(rows[static_cast<std::size_t>(r * 16)] == 0);
    for (int c = 0; c < 15; ++c) CHECK(static_cast<unsigned char>(rows[static_cast<std::size_t>(r * 16 + 1 + c)]) == rgb[static_cast<std::size_t>(r * 15 + c)]);
  }
  CHECK(png.substr(png.size() - 8, 4) == "IEND");
  CHECK_THROWS_WITH(cli::encode_png(rgb, 4, 3), doctest::Contains("not a 4 x 3 RGB image"));
}

TEST_CASE("figures: flows on 2-D, 1-D and image data write density.svg or samples.svg; other models none") {
  const fs::path dir = fs::temp_directory_path() / "tide_test_figures";
  fs::remove_all(dir);
  fs::create_directories(dir);
  Generator gen(1);
  {
    const models::CnfModel m(quick(2), gen);
    const auto files = cli::write_model_figures(m, vector_dataset(gen.normal(Shape{300, 2}, 0, 1, DType::f64)), dir.string(), "two");
    REQUIRE(files == std::vector<std::string>{(dir / "density.svg").string()});
    const std::string svg = read(files[0]);
    CHECK(svg.find("learned density") != std::string::npos);
    CHECK(svg.find("data:image/png;base64,iVBORw0KGgo") != std::string::npos);
    CHECK(svg.find("<polyline") != std::string::npos);
  }
  {
    const models::CnfModel m(quick(1), gen);
    const auto files = cli::write_model_figures(m, vector_dataset(gen.normal(Shape{300, 1}, 0, 1, DType::f64)), dir.string(), "one");
    REQUIRE(files.size() == 1);
    CHECK(read(files[0]).find("learned density") != std::string::npos);
  }
  {
    models::CnfOptions o = quick(4);
    o.image = {1, 2, 2};
    const models::CnfModel m(o, gen);
    const Tensor bytes = gen.uniform(Shape{10, 4}, 0, 255, DType::f64);
    const auto files = cli::write_model_figures(m, vector_dataset(bytes, {1, 2, 2}), dir.string(), "images");
    REQUIRE(files == std::vector<std::string>{(dir / "samples.svg").string()});
    CHECK(read(files[0]).find("data:image/png;base64,") != std::string::npos);
  }
  fs::remove_all(dir);
}

TEST_CASE("figures: a latent ODE's reconstruction line is its dense trajectory; an RNN-VAE's goes through its predictions") {
  // Found by a bug hunt: the RNN-VAE's GRU was stepped over 100 dense times, a line that missed
  // the predictions it is scored on (its output depends on the times it steps over).
  const fs::path dir = fs::temp_directory_path() / "tide_test_latent_figures";
  fs::remove_all(dir);
  fs::create_directories(dir);
  data::IrregularSet s;
  s.name = "test";
  s.variables = {"x"};
  s.times = Tensor::from_vector({0.2, 0.5, 1.1}, Shape{1, 3}, DType::f64);
  s.values = Tensor::from_vector({0.1, -0.3, 0.4}, Shape{1, 3, 1}, DType::f32);
  s.mask = Tensor::ones(Shape{1, 3, 1}, DType::f32);
  s.lengths = Tensor::from_indices({3}, Shape{1});
  data::Dataset d;
  d.train = d.val = d.test = std::make_shared<data::IrregularExamples>(s);
  const auto points_of_first_line = [&](const models::LatentOdeModel& m) {
    const auto files = cli::write_model_figures(m, d, dir.string(), "latent");
    REQUIRE(files.size() == 1);
    const std::string svg = read(files[0]), key = "<polyline points=\"";
    const std::size_t at = svg.find(key);
    REQUIRE(at != std::string::npos);
    const std::string pts = svg.substr(at + key.size(), svg.find('"', at + key.size()) - at - key.size());
    return std::count(pts.begin(), pts.end(), ',');
  };
  models::LatentOdeOptions o;
  o.variables = 1, o.latent = 2, o.encoder_state = 3, o.dynamics_hidden = {4}, o.encoder_hidden = {4}, o.gru_units = 4;
  Generator gen(3);
  CHECK(points_of_first_line(models::LatentOdeModel(o, gen)) == 100);
  o.generative_model = models::LatentGenerative::rnn;
  CHECK(points_of_first_line(models::LatentOdeModel(o, gen)) == 3);
  fs::remove_all(dir);
}

TEST_CASE("linear ticks: round 1-2-5 steps, exact values and labels with equal decimals") {
  const cli::AxisTicks unit = cli::linear_ticks(0, 1);
  CHECK(unit.values == std::vector<double>{0, 0.2, 0.4, 0.6, 0.8, 1});
  CHECK(unit.labels == std::vector<std::string>{"0.0", "0.2", "0.4", "0.6", "0.8", "1.0"});
  const cli::AxisTicks mid = cli::linear_ticks(0.3, 0.9);
  CHECK(mid.values == std::vector<double>{0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9});  // 0.3, not 0.30000000000000004
  CHECK(mid.labels.front() == "0.3");
  const cli::AxisTicks close = cli::linear_ticks(0.851, 0.897);  // widened to the outer ticks
  CHECK(close.lo == 0.85);
  CHECK(close.hi == 0.9);
  CHECK(close.labels == std::vector<std::string>{"0.85", "0.86", "0.87", "0.88", "0.89", "0.90"});
  const cli::AxisTicks signs = cli::linear_ticks(-2.5, 3.7);
  CHECK(signs.values == std::vector<double>{-3, -2, -1, 0, 1, 2, 3, 4});
  CHECK(signs.labels[3] == "0");
  const cli::AxisTicks flat = cli::linear_ticks(0.01, 0.01);  // a constant: from 0 to twice it
  CHECK(flat.lo == 0);
  CHECK(flat.hi == doctest::Approx(0.02));
  CHECK(flat.labels.back() == "0.020");
}

TEST_CASE("linear ticks: epochs get integer ticks (50, 100, ... over 300 epochs; never 2.5)") {
  const cli::AxisTicks long_run = cli::linear_ticks(1, 300, true, 10);
  CHECK(long_run.values == std::vector<double>{0, 50, 100, 150, 200, 250, 300});
  CHECK(long_run.labels[1] == "50");
  const cli::AxisTicks short_run = cli::linear_ticks(1, 5, true, 10);
  CHECK(short_run.values == std::vector<double>{1, 2, 3, 4, 5});
  for (double v : cli::linear_ticks(1, 3, true, 20).values) CHECK(v == std::floor(v));
  CHECK(cli::linear_ticks(1, 3, false, 20).values[1] == 1.1);  // without `integer` the step goes below 1
}

TEST_CASE("log ticks: whole decades, plain labels when short, scientific on a wide axis") {
  const cli::AxisTicks lr = cli::log_ticks(3e-4, 0.02);
  CHECK(lr.values == std::vector<double>{1e-4, 1e-3, 1e-2, 1e-1});
  CHECK(lr.labels == std::vector<std::string>{"0.0001", "0.001", "0.01", "0.1"});
  const cli::AxisTicks wide = cli::log_ticks(3e-7, 2e-2);
  CHECK(wide.lo == 1e-7);
  CHECK(wide.labels.front() == "1e-07");
  CHECK(wide.labels.back() == "1e-01");
  CHECK(cli::log_ticks(1e-12, 1e3).labels[1].empty());  // 16 decades: every other one labelled
}

TEST_CASE("render_svg: a log axis says so in its label; markers only on short series") {
  cli::Plot p{"t", "epoch", "loss", true, {{"a", {1, 2, 3}, {1, 10, 100}}}};
  std::string svg = cli::render_svg(p);
  CHECK(svg.find("loss (log scale)") != std::string::npos);
  CHECK(svg.find("<circle") != std::string::npos);
  p.log_y = false;
  p.series[0] = {"a", {}, {}};
  for (int i = 1; i <= 300; ++i) p.series[0].x.push_back(i), p.series[0].y.push_back(1.0 / i);
  svg = cli::render_svg(p);
  CHECK(svg.find("log scale") == std::string::npos);
  CHECK(svg.find("<circle") == std::string::npos);
  CHECK(svg.find(">2.5<") == std::string::npos);
}

namespace {

std::vector<nlohmann::json> records(int epochs, double scale) {
  std::vector<nlohmann::json> out;
  for (int e = 1; e <= epochs; ++e)
    out.push_back({{"epoch", e}, {"lr", 0.01}, {"train_loss", scale / e}, {"val_loss", 1.5 * scale / e}, {"val_f1", scale * 0.1 * e}});
  return out;
}

void write_run(const fs::path& dir, const std::vector<nlohmann::json>& recs, const std::string& metric = "") {
  fs::create_directories(dir);
  std::ofstream m(dir / "metrics.jsonl");
  for (const auto& r : recs) m << r.dump() << "\n";
  if (!metric.empty()) std::ofstream(dir / "summary.json") << nlohmann::json{{"metric", metric}}.dump();
}

// The message of the tide::Error `f` throws ("" when it throws none).
template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("run curves: linear loss axis, the best epoch and the test score on the metric plot") {
  const auto recs = records(12, 1.0);
  const cli::Plot loss = cli::loss_plot(recs, "run", 9);
  CHECK_FALSE(loss.log_y);  // 1 .. 1/12 spans about one decade
  const cli::Plot f1 = cli::metric_plot(recs, "f1", "run", 9, 0.897);
  REQUIRE(f1.series.size() == 1);  // no train_f1 in the records: val only
  REQUIRE(f1.vlines.size() == 1);
  CHECK(f1.vlines[0].label == "best (epoch 9)");
  REQUIRE(f1.marks.size() == 1);
  CHECK(f1.marks[0].x == 9);
  CHECK(f1.marks[0].label == "test 0.897");
  CHECK(cli::metric_plot(recs, "f1", "run", 9).marks.empty());  // during training: no test yet
  const std::string svg = cli::render_svg(f1);
  CHECK(svg.find("best (epoch 9)") != std::string::npos);
  CHECK(svg.find("test 0.897") != std::string::npos);
  auto steep = records(12, 1.0);
  for (std::size_t i = 0; i < steep.size(); ++i) steep[i]["train_loss"] = std::pow(0.5, static_cast<double>(i));
  CHECK(cli::loss_plot(steep, "run").log_y);  // 1 .. 1/2048: over two decades
  auto decaying = recs;
  for (std::size_t i = 0; i < decaying.size(); ++i) decaying[i]["lr"] = 0.1 * std::pow(0.5, static_cast<double>(i));
  CHECK(cli::lr_plot(decaying, "run").log_y);
  CHECK_FALSE(cli::lr_plot(recs, "run").log_y);
}

TEST_CASE("run curves: best_metric nfe marks the best epoch and the test score on the one nfe.svg") {
  // (the metric plot went to nfe.svg, then the NFE plot replaced it without either mark)
  const fs::path dir = fs::temp_directory_path() / "tide_test_nfe_curve";
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto recs = records(4, 1.0);
  for (std::size_t i = 0; i < recs.size(); ++i)
    recs[i]["train_nfe"] = 40.0 + static_cast<double>(i), recs[i]["val_nfe"] = 30.0 + static_cast<double>(i), recs[i]["train_nfe_backward"] = 0.0;
  cli::write_run_curves(dir.string(), recs, "nfe", "run", 2, 31.0);
  const std::string nfe = read((dir / "nfe.svg").string());
  CHECK(nfe.find("evaluations of the dynamics per batch") != std::string::npos);
  CHECK(nfe.find("best (epoch 2)") != std::string::npos);
  CHECK(nfe.find("test 31") != std::string::npos);
  cli::write_run_curves(dir.string(), recs, "f1", "run", 3, 0.5);  // another metric: nfe.svg marks nothing
  const std::string plain = read((dir / "nfe.svg").string());
  CHECK(plain.find("best (epoch") == std::string::npos);
  CHECK(plain.find("test ") == std::string::npos);
  CHECK(read((dir / "f1.svg").string()).find("best (epoch 3)") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("tide plot: one line per run, the mean with its min..max band, errors naming the run") {
  const fs::path dir = fs::temp_directory_path() / "tide_test_run_plots";
  fs::remove_all(dir);
  write_run(dir / "seed1", records(3, 1.0), "f1");
  write_run(dir / "seed2", records(4, 3.0));
  const std::vector<std::string> runs = {(dir / "seed1").string(), (dir / "seed2").string() + "/"};
  const cli::Plot lines = cli::overlay_plot(runs);
  CHECK(lines.y_label == "val_f1");  // the first run's summary metric
  REQUIRE(lines.series.size() == 2);
  CHECK(lines.series[0].name == "seed1");
  CHECK(lines.series[1].name == "seed2");
  CHECK(lines.series[1].y.size() == 4);
  const cli::Plot mean = cli::overlay_plot(runs, "train_loss", true);
  REQUIRE(mean.series.size() == 3);  // two faint runs, then the mean
  const cli::PlotSeries& m = mean.series.back();
  CHECK(m.name.find("min..max") != std::string::npos);
  CHECK(m.x == std::vector<double>{1, 2, 3});  // the epochs both runs reached
  CHECK(m.y[0] == doctest::Approx(2.0));       // (1 + 3) / 2
  CHECK(m.band_low[1] == doctest::Approx(0.5));
  CHECK(m.band_high[1] == doctest::Approx(1.5));
  CHECK(mean.series[0].opacity < 1);
  CHECK(cli::overlay_plot(runs, "loss").y_label == "val_loss");
  const std::string missing_key = error_of([&] { cli::overlay_plot(runs, "auc"); });
  CHECK(missing_key.find("seed1") != std::string::npos);
  CHECK(missing_key.find("\"val_auc\"") != std::string::npos);
  const std::string missing_run = error_of([&] { cli::overlay_plot({(dir / "nowhere").string()}); });
  CHECK(missing_run.find("nowhere") != std::string::npos);
  CHECK(missing_run.find("metrics.jsonl") != std::string::npos);
  write_run(dir / "no_summary", records(2, 1.0));
  CHECK(cli::overlay_plot({(dir / "no_summary").string()}).y_label == "val_loss");
  fs::remove_all(dir);
}

TEST_CASE("tide plot: 20 runs get 20 distinct line styles (colour and dash pattern)") {
  // the palette's 7 colours times solid/dashed repeated from the 15th run on
  const fs::path dir = fs::temp_directory_path() / "tide_test_run_plots_styles";
  fs::remove_all(dir);
  std::vector<std::string> runs;
  for (int i = 0; i < 20; ++i) {
    write_run(dir / ("seed" + std::to_string(i)), records(2, 1.0 + i));
    runs.push_back((dir / ("seed" + std::to_string(i))).string());
  }
  const cli::Plot p = cli::overlay_plot(runs);
  REQUIRE(p.series.size() == 20);
  const std::string svg = cli::render_svg(p);
  std::set<std::string> styles;
  for (std::size_t at = svg.find("<polyline"); at != std::string::npos; at = svg.find("<polyline", at + 1)) {
    const std::size_t stroke = svg.find("stroke=", at), points = svg.find("points=", at);
    const std::string tag = svg.substr(stroke, points - stroke);  // colour, width, opacity and the dash attribute
    styles.insert(tag);
  }
  CHECK(styles.size() == 20);
  fs::remove_all(dir);
}

TEST_CASE("tide plot: an epoch without the metric (train_auc undefined, a NaN written as null) is skipped") {
  const fs::path dir = fs::temp_directory_path() / "tide_test_run_plots_gaps";
  fs::remove_all(dir);
  auto recs = records(4, 1.0);
  for (std::size_t i = 0; i < recs.size(); ++i)
    if (i != 1) recs[i]["train_auc"] = 0.5 + 0.1 * static_cast<double>(i);
  recs[3]["train_auc"] = nullptr;
  write_run(dir / "run", recs);
  const cli::Plot p = cli::overlay_plot({(dir / "run").string()}, "train_auc");
  REQUIRE(p.series.size() == 1);
  CHECK(p.series[0].x == std::vector<double>{1, 3});
  CHECK(p.series[0].y == std::vector<double>{0.5, 0.7});
  const std::string none = error_of([&] { cli::overlay_plot({(dir / "run").string()}, "val_auc"); });
  CHECK(none.find("no epoch") != std::string::npos);
  CHECK(none.find("\"val_auc\"") != std::string::npos);
  CHECK(none.find("train_auc") == std::string::npos);  // the last epoch's numbers: its train_auc is null
  fs::remove_all(dir);
}

TEST_CASE("render_panels: a path is cut at a point that is not finite, never drawn through NaN") {
  cli::Panel p;
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  p.paths = {{{0.0, 0.0}, {0.5, nan}, {1.0, -inf}, {0.2, 0.3}, {0.4, 0.5}}};
  const std::string svg = cli::render_panels({p}, 1, "cut");
  CHECK(svg.find("nan") == std::string::npos);
  CHECK(svg.find("inf") == std::string::npos);
  std::size_t lines = 0;
  for (std::size_t at = svg.find("<polyline"); at != std::string::npos; at = svg.find("<polyline", at + 1)) ++lines;
  CHECK(lines == 2);  // {(0, 0)} and {(0.2, 0.3), (0.4, 0.5)}
}

TEST_CASE("axes stay finite for values near the largest double and tell subnormal ticks apart") {
  // (+-1e308 wrote cy="inf" / "-inf" over a 0.0..0.2 axis: the span overflowed; subnormal ticks all read 0e+00)
  for (const std::vector<double>& ys : {std::vector<double>{-1e308, 0, 1e308}, {1.7e308, 1.75e308, 1.79e308}, {-1.79e308, 1.79e308, 0}}) {
    const std::string svg = cli::render_svg({"t", "epoch", "metric", false, {{"a", {1, 2, 3}, ys}}});
    CHECK(svg.find("inf") == std::string::npos);
    CHECK(svg.find("nan") == std::string::npos);
  }
  const cli::AxisTicks huge = cli::linear_ticks(-1.7e308, 1.7e308);
  CHECK(huge.lo <= -1.7e308);
  CHECK(huge.hi >= 1.7e308);
  REQUIRE(huge.values.size() >= 3);
  for (double v : huge.values) CHECK(std::isfinite(v));
  CHECK(std::isfinite(cli::linear_ticks(1.7e308, 1.7e308).hi));  // a constant: 0 to twice it, which overflows
  for (const double unit : {1e-310, std::numeric_limits<double>::denorm_min()}) {
    CAPTURE(unit);
    const cli::AxisTicks tiny = cli::linear_ticks(unit, 7 * unit);
    REQUIRE(tiny.values.size() >= 3);
    CHECK(tiny.lo <= unit);
    CHECK(tiny.hi >= 7 * unit);
    CHECK(std::adjacent_find(tiny.labels.begin(), tiny.labels.end()) == tiny.labels.end());
    const std::string svg = cli::render_svg({"t", "epoch", "metric", false, {{"a", {1, 2, 3}, {unit, 4 * unit, 7 * unit}}}});
    CHECK(svg.find("inf") == std::string::npos);
    CHECK(svg.find("nan") == std::string::npos);
  }
  const cli::AxisTicks decades = cli::log_ticks(std::numeric_limits<double>::denorm_min(), 1.7e308);
  for (double v : decades.values) CHECK((std::isfinite(v) && v > 0));
  CHECK(decades.hi >= 1.7e308);
}

TEST_CASE("tide plot: the mean of runs near the largest double is finite (their sum overflowed)") {
  const fs::path dir = fs::temp_directory_path() / "tide_test_run_plots_huge";
  fs::remove_all(dir);
  write_run(dir / "a", records(2, 1e308));
  write_run(dir / "b", records(2, 1.5e308));
  const cli::Plot mean = cli::overlay_plot({(dir / "a").string(), (dir / "b").string()}, "train_loss", true);
  REQUIRE(mean.series.back().y.size() == 2);
  CHECK(mean.series.back().y[0] == doctest::Approx(1.25e308));
  CHECK(cli::render_svg(mean).find("inf") == std::string::npos);
  fs::remove_all(dir);
}

namespace {

// Whether `text` is well-formed UTF-8 with no character XML 1.0 forbids (a C0 control but tab,
// line feed and carriage return): what an SVG must hold to parse.
bool xml_text(const std::string& text) {
  for (char c : text)
    if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') return false;
  try {
    (void)nlohmann::json(text).dump();  // throws on ill-formed UTF-8
    return true;
  } catch (const nlohmann::json::type_error&) {
    return false;
  }
}

// The "x,y" pairs of the SVG's first polyline.
std::vector<std::pair<double, double>> polyline_points(const std::string& svg) {
  const std::size_t at = svg.find("points=\"", svg.find("<polyline")) + 8;
  std::istringstream in(svg.substr(at, svg.find('"', at) - at));
  std::vector<std::pair<double, double>> points;
  double x = 0, y = 0;
  char comma = 0;
  while (in >> x >> comma >> y) points.emplace_back(x, y);
  return points;
}

}  // namespace

TEST_CASE("xml_escape: control characters and ill-formed UTF-8 become U+FFFD, well-formed UTF-8 stays") {
  // (a run name with \x01 or a Latin-1 directory name "caf\xe9" made every SVG of the run invalid XML)
  const std::string fffd = "\xEF\xBF\xBD";
  CHECK(cli::xml_escape("a\x01" "b\x1b" "c\td\ne\rf") == "a" + fffd + "b" + fffd + "c\td\ne\rf");
  CHECK(cli::xml_escape("caf\xe9 <&>\"") == "caf" + fffd + " &lt;&amp;&gt;&quot;");
  CHECK(cli::xml_escape("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80") == "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80");
  CHECK(cli::xml_escape("\xe6\x97" "x") == fffd + "x");              // a cut sequence: one U+FFFD
  CHECK(cli::xml_escape("\xc0\xaf") == fffd + fffd);                  // an overlong '/'
  CHECK(cli::xml_escape("\xed\xa0\x80") == fffd + fffd + fffd);       // a surrogate
  CHECK(cli::xml_escape("\xf4\x90\x80\x80") == fffd + fffd + fffd + fffd);  // past U+10FFFF
  CHECK(cli::xml_escape("\xef\xbf\xbf") == fffd);                     // U+FFFF, not an XML character
  CHECK(cli::xml_escape("\xe9") == fffd);                             // at the end of the text
  cli::Plot p{"a\x01name \xe9", "epoch\x02", "loss \xff", false, {{"tr\x1b" "ain caf\xc3\xa9", {1, 2}, {1, 2}}}};
  p.vlines.push_back({1, "best\x03"});
  p.marks.push_back({2, 2, "test\x04 \xe9"});
  const std::string svg = cli::render_svg(p);
  CHECK(xml_text(svg));
  CHECK(svg.find("a" + fffd + "name " + fffd) != std::string::npos);
  CHECK(svg.find("tr" + fffd + "ain caf\xc3\xa9") != std::string::npos);
  cli::Panel panel;
  panel.title = "pa\x02nel \xe9";
  const std::string panels = cli::render_panels({panel}, 1, "t\x03itle");
  CHECK(xml_text(panels));
  CHECK(panels.find("pa" + fffd + "nel " + fffd) != std::string::npos);
}

TEST_CASE("render_svg: a log axis with no positive y and a marked epoch gets the default decade 1..10") {
  // (the y range came from the x extent alone: log_ticks(inf, -inf) recursed until the stack overflowed)
  cli::Plot p{"errors", "epoch", "error", true, {{"err", {1, 2, 3}, {0, 0, 0}}}};
  p.vlines.push_back({2, "best (epoch 2)"});
  const std::string svg = cli::render_svg(p);
  CHECK(svg.find("best (epoch 2)") != std::string::npos);
  CHECK(svg.find(">1</text>") != std::string::npos);
  CHECK(svg.find(">10</text>") != std::string::npos);
  CHECK(svg.find("nan") == std::string::npos);
  CHECK(svg.find("inf") == std::string::npos);
  p.log_y = false;
  p.series[0].y = {std::nan(""), std::nan(""), std::nan("")};
  const std::string linear = cli::render_svg(p);  // a linear axis: 0..1, not 0..1.8e308
  CHECK(linear.find(">1.0</text>") != std::string::npos);
  CHECK(linear.find("e+308") == std::string::npos);
  const double inf = std::numeric_limits<double>::infinity();
  for (const auto& [lo, hi] : {std::pair{inf, -inf}, {std::nan(""), 5.0}, {2.0, 1.0}}) {
    const cli::AxisTicks t = cli::log_ticks(lo, hi);
    CHECK(t.values == std::vector<double>{1, 10});
  }
  const cli::AxisTicks clamped = cli::log_ticks(0, inf);
  for (double v : clamped.values) CHECK((std::isfinite(v) && v > 0));
  CHECK(clamped.hi == std::numeric_limits<double>::max());
  CHECK(cli::log_ticks(-5, -1).values.back() == 1e-323);
}

TEST_CASE("render_svg: a 100,000-point series is thinned to 4 points a pixel column, its min and max kept") {
  // (write_run_curves re-rendered every point each epoch: 1.2 MB an SVG, most of a long run's time)
  cli::PlotSeries s{"long", {}, {}};
  for (int i = 1; i <= 100000; ++i)  // every 1000th y NaN (the last one too), left out of the line
    s.x.push_back(i), s.y.push_back(i % 1000 == 0 ? std::nan("") : 0.5 + 0.3 * std::sin(i * 0.37));
  s.y[31337] = 0.0, s.y[77777] = 1.0;  // the lowest and the highest point
  const std::string svg = cli::render_svg({"t", "epoch", "loss", false, {s}});
  const auto points = polyline_points(svg);
  const double plot_width = 450;  // 720 wide, less 80 left and 190 for the legend
  CHECK(points.size() > 2 * plot_width);
  CHECK(points.size() <= 4 * (plot_width + 1));
  CHECK(svg.find("nan") == std::string::npos);
  CHECK(svg.size() < 40000);
  CHECK(std::is_sorted(points.begin(), points.end(), [](auto a, auto b) { return a.first < b.first; }));  // data order, along x
  // the same axes as three points spanning the data: its top and bottom are the long series' extremes
  const auto reference = polyline_points(cli::render_svg({"t", "epoch", "loss", false, {{"long", {1, 31338, 77778, 99999}, {0.5, 0.0, 1.0, 0.5}}}}));
  REQUIRE(reference.size() == 4);
  CHECK(std::find(points.begin(), points.end(), reference[1]) != points.end());
  CHECK(std::find(points.begin(), points.end(), reference[2]) != points.end());
  CHECK(std::min_element(points.begin(), points.end(), [](auto a, auto b) { return a.second < b.second; })->second == reference[2].second);
  CHECK(std::max_element(points.begin(), points.end(), [](auto a, auto b) { return a.second < b.second; })->second == reference[1].second);
  cli::PlotSeries shorter{"long", {s.x.begin(), s.x.begin() + 1800}, {s.y.begin(), s.y.begin() + 1800}};
  CHECK(polyline_points(cli::render_svg({"t", "epoch", "loss", false, {shorter}})).size() == 1800 - 1);  // one NaN left out, none thinned
}

TEST_CASE("a run's curves are redrawn after each of its first 99 epochs, then on a schedule whose total drawing stays linear") {
  // (every epoch redrew every point: the curves' share of a run grew with its epochs)
  for (std::size_t n = 1; n <= 100; ++n) CHECK(cli::curves_due(n));
  CHECK_FALSE(cli::curves_due(101));
  CHECK(cli::curves_due(110));
  std::size_t draws = 0, points = 0;
  const std::size_t epochs = 100000;
  for (std::size_t n = 1; n <= epochs; ++n)
    if (cli::curves_due(n)) ++draws, points += n;
  CHECK(draws < 400);            // 90 per decade past the first 99
  CHECK(points < 100 * epochs);  // points drawn over the run: ~56 per epoch here (every epoch: 5e9 in all)
  CHECK(cli::curves_due(1000));
  CHECK_FALSE(cli::curves_due(1001));
}
