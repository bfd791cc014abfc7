// The figures `tide train` writes for a model family (train/figures.hpp) and the SVG panels with
// embedded PNG rasters under them (svg_panels.hpp): the PNG decodes back to its pixels, and flows
// on 2-D, 1-D and image data each get their figure.
#include "svg_panels.hpp"
#include "train/figures.hpp"
#include "tide/data/vectors.hpp"
#include "tide/models/cnf.hpp"
#include <doctest/doctest.h>
#include <filesystem>
#include <fstream>
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
