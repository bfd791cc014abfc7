// SolveOptions::torchdiffeq(method) takes torchdiffeq's steps and gives its answers on
// torchdiffeq's own test problems: every case recorded from torchdiffeq 0.2.5
// (tests/solvers/data/torchdiffeq_cases.json, written by bench/peers/torchdiffeq_parity.py record)
// must have torchdiffeq's number of evaluations and its outputs.
#include "torchdiffeq_parity.hpp"
#include "tide/solvers/options.hpp"
#include "tide/core/error.hpp"
#include <doctest/doctest.h>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

using nlohmann::json;

namespace {

json recorded_cases() {
  std::ifstream in("tests/solvers/data/torchdiffeq_cases.json");
  REQUIRE(in);
  return json::parse(in);
}

// The largest |tide - torchdiffeq| relative to max(1, |torchdiffeq|) over every output of a case.
double relative_difference(const json& recorded, const json& result) {
  std::vector<double> expected;
  for (const json& row : recorded["ys"])
    for (const json& v : row) expected.push_back(v.get<double>());
  const std::vector<double> ys = result["ys"].get<std::vector<double>>();
  double worst = 0.0;
  for (std::size_t i = 0; i < ys.size(); ++i) worst = std::max(worst, std::fabs(ys[i] - expected[i]) / std::max(1.0, std::fabs(expected[i])));
  return worst;
}

}  // namespace

TEST_CASE("the torchdiffeq preset reproduces torchdiffeq's evaluations and outputs on its test problems") {
  const json file = recorded_cases();
  const json& cases = file["cases"];
  REQUIRE(cases.size() == 100);
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const json& c = cases[i];
    const json r = tide::cli::run_torchdiffeq_case(c, i);
    CAPTURE(i);
    CAPTURE(c["problem"].get<std::string>());
    CAPTURE(c["method"].get<std::string>());
    CAPTURE(c["rtol"].get<double>());
    CHECK(r["nfe"].get<std::int64_t>() == c["nfe"].get<std::int64_t>());
    // dopri8's error estimates on these problems are at the rounding level of the state (about
    // 1e-17 for the harmonic oscillator's first step at rtol 1e-9): torchdiffeq sums them in its
    // BLAS's order, tide in its own, and the step sizes (r^(-1/8)) differ by a few percent while
    // the counts stay equal, so the interpolated outputs agree only to the quartic's accuracy
    const double bound = c["method"] == "dopri8" ? 1e-4 : 1e-10;
    CHECK(relative_difference(c, r) <= bound);
  }
}

TEST_CASE("the torchdiffeq preset names the methods it does not reproduce") {
  CHECK_THROWS_WITH_AS(tide::SolveOptions::torchdiffeq("implicit_adams"), doctest::Contains("has no tide counterpart"), tide::Error);
  CHECK_THROWS_WITH_AS(tide::SolveOptions::torchdiffeq("dopri"), doctest::Contains("unknown torchdiffeq method 'dopri'"), tide::Error);
  CHECK(tide::SolveOptions::torchdiffeq("rk4").method == tide::Method::rk4_38);  // torchdiffeq's rk4 is Kutta's 3/8 rule
  CHECK(tide::SolveOptions::torchdiffeq("heun2").method == tide::Method::heun);
}

TEST_CASE("a case field of the wrong JSON type names the case and the key") {
  const json good = json::parse(R"({"problem": "linear", "method": "rk4", "params": {"matrix": [[0, 1], [-1, 0]]},
    "y0": [1, 0], "times": [0, 1], "ys": [[1, 0], [0.54, -0.84]], "nfe": 4})");
  CHECK(tide::cli::run_torchdiffeq_case(good, 0)["nfe_torchdiffeq"] == 4);
  const auto with = [&good](const char* key, json value) {
    json c = good;
    c[key] = std::move(value);
    return c;
  };
  const auto refused = [](const json& c, const char* message) {
    CHECK_THROWS_WITH_AS(tide::cli::run_torchdiffeq_case(c, 3), doctest::Contains(message), tide::Error);
  };
  refused(with("rtol", "x"), "torchdiffeq case 3: key 'rtol': expected a number, got string");
  refused(with("atol", nullptr), "torchdiffeq case 3: key 'atol': expected a number, got null");
  refused(with("first_step", json::array()), "torchdiffeq case 3: key 'first_step': expected a number, got array");
  refused(with("method", 4), "torchdiffeq case 3: key 'method': expected a string, got number");
  refused(with("problem", true), "torchdiffeq case 3: key 'problem': expected a string, got boolean");
  refused(with("nfe", 4.5), "torchdiffeq case 3: key 'nfe': expected an integer, got number");
  refused(with("params", json::array()), "torchdiffeq case 3: key 'params': expected an object, got array");
  refused(with("params", {{"matrix", {{"a", 1}, {-1, 0}}}}), "torchdiffeq case 3: key 'params.matrix': expected numbers, got string");
  json constant = with("problem", "constant");
  constant["params"] = {{"a", "0.2"}};
  refused(constant, "torchdiffeq case 3: key 'params.a': expected a number, got string");
  refused(json::array(), "torchdiffeq case 3: expected an object, got array");
}

TEST_CASE("a cases file: nesting past 128 levels is refused while parsing; a case's error names the file") {
  // Found by a bug hunt: y0 nested 100,000 deep overflowed the stack (flatten), a segfault.
  const std::string dir = std::filesystem::temp_directory_path().string() + "/";
  const std::string deep = dir + "tide_torchdiffeq_deep_cases.json", bad = dir + "tide_torchdiffeq_bad_cases.json";
  std::ofstream(deep) << R"({"cases": [{"problem": "linear", "method": "rk4", "y0": )" << std::string(100000, '[') << "1"
                      << std::string(100000, ']') << "}]}";
  CHECK_THROWS_WITH_AS(tide::cli::run_torchdiffeq_cases(deep), doctest::Contains((deep + ": JSON nested deeper than 128 levels").c_str()), tide::Error);
  std::ofstream(bad) << R"({"cases": [{"problem": "linear", "method": "rk4", "rtol": "x"}]})";
  CHECK_THROWS_WITH_AS(tide::cli::run_torchdiffeq_cases(bad), doctest::Contains((bad + ": torchdiffeq case 0: key 'rtol'").c_str()), tide::Error);
  std::remove(deep.c_str()), std::remove(bad.c_str());
}
