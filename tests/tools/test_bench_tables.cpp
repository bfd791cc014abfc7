// The pieces of `tide bench` that decide what a figure says: how long a sample lasts (timing.hpp's
// calibration, checked by the calls it asks for, never by a time) and how a --peers table reads its
// samples and checks (peer_table.cpp: spread, check agreement, target verdicts), and how --python
// becomes the command line that starts an interpreter (peers.cpp, for --peers and `bench gpu`).
#include "peer_table.hpp"
#include "peers.hpp"
#include "timing.hpp"
#include "tide/core/error.hpp"
#include <doctest/doctest.h>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>

using namespace tide::cli;

namespace {

// tide's first side (1 ms per call, check 2.0) and the peers given as {label, ms per call, check}.
Comparison comparison(std::initializer_list<std::tuple<const char*, double, double>> peers, std::vector<PeerTarget> targets) {
  Comparison c{"tiny_solve B=64", {}, std::move(targets)};
  c.sides.push_back(SideResult{"tide", true, 1e-3, NAN, 2.0});
  for (const auto& [label, ms, check] : peers) c.sides.push_back(SideResult{label, false, ms * 1e-3, NAN, check});
  return c;
}

}  // namespace

TEST_CASE("a slow first call does not shorten the samples: they are sized from calls after the warm-up") {
  TimingPlan plan;
  plan.min_sample_seconds = 0.02;
  bool first = true;
  std::int64_t calls = 0;
  // the first call (tracing a plan, say) takes three warm-up windows; every later one next to nothing
  TimedCase c = repeated([&] {
    if (first) std::this_thread::sleep_for(std::chrono::milliseconds(30));
    first = false;
    ++calls;
  });
  calibrate(c, plan);
  // sized from the first call alone, a 20 ms sample would be a single call
  CHECK(c.calls_per_sample > 1000);
  CHECK(calls > 1000);
}

TEST_CASE("a case timed by its callee is sized by the time the callee reports") {
  TimingPlan plan;
  plan.min_sample_seconds = 1.0;
  std::vector<std::int64_t> asked;
  TimedCase c = timed_by_callee([&](std::int64_t n) {
    asked.push_back(n);
    return 0.25;  // a peer saying each call took 250 ms (it returns at once)
  });
  calibrate(c, plan);
  CHECK(c.calls_per_sample == 4);
  take_sample(c);
  CHECK(asked.back() == 4);
  CHECK(c.samples == std::vector<double>{0.25});
}

TEST_CASE("a callee that fails while calibrating keeps the case's fewest calls") {
  TimedCase c = timed_by_callee([](std::int64_t) { return NAN; });
  c.min_calls = 3;
  calibrate(c, TimingPlan{});
  CHECK(c.calls_per_sample == 3);
}

TEST_CASE("the spread needs two samples: one sample, or NaNs around it, give NaN") {
  CHECK(std::isnan(spread_of({})));
  CHECK(std::isnan(spread_of({2.0})));
  CHECK(std::isnan(spread_of({NAN, 2.0, NAN})));
  CHECK(spread_of({1.0, 3.0}) == doctest::Approx(0.5));  // (3 - 1) / 2 over the median 2
  CHECK(spread_of({1.0, NAN, 2.0, 3.0}) == doctest::Approx(0.5));
}

TEST_CASE("checks agree within the dtype's tolerance; the first tide side agrees with itself") {
  CHECK(check_tolerance("f32") == 1e-4);
  CHECK(check_tolerance("f64") == 1e-8);
  CHECK_THROWS_WITH_AS(check_tolerance("f16"), doctest::Contains("dtype 'f16'"), tide::Error);
  const Comparison c = comparison({{"jax close", 2, 2.0 + 2e-9}, {"jax near", 2, 2.0 + 2e-6}, {"jax off", 2, 8.0}, {"jax none", 2, NAN}}, {});
  CHECK(check_agrees(c.sides[0], c, 1e-8));
  CHECK(check_agrees(c.sides[1], c, 1e-8));
  CHECK_FALSE(check_agrees(c.sides[2], c, 1e-8));
  CHECK(check_agrees(c.sides[2], c, 1e-4));
  CHECK_FALSE(check_agrees(c.sides[3], c, 1e-4));
  CHECK_FALSE(check_agrees(c.sides[4], c, 1e-4));  // no check to compare: not an agreement
}

TEST_CASE("a target's verdict leaves out a faster peer whose check disagrees") {
  const Comparison c = comparison({{"diffrax", 5, 2.0}, {"diffrax vmap", 1, 3.0}}, {{"diffrax", 1.5}});
  const std::vector<TargetResult> r = evaluate_targets(c, 1e-4);
  REQUIRE(r.size() == 1);
  CHECK(r[0].against == "diffrax");
  CHECK(r[0].ratio == doctest::Approx(5.0));
  CHECK(r[0].check_agrees);
  CHECK(r[0].met);
  CHECK(r[0].text() == "tide >= 1.5x faster than diffrax per call: tide 5.00x faster than diffrax, met");
}

TEST_CASE("with no peer's check agreeing the verdict is \"check disagrees\", never met") {
  const Comparison c = comparison({{"jax jet re-run", 4, 1.0}, {"jax jet nested", 8, 1.0}}, {{"jax jet", 3.0}});
  const std::vector<TargetResult> r = evaluate_targets(c, 1e-8);
  REQUIRE(r.size() == 1);
  CHECK(r[0].against == "jax jet re-run");
  CHECK_FALSE(r[0].check_agrees);
  CHECK_FALSE(r[0].met);
  CHECK(r[0].text() == "tide >= 3x faster than jax jet per call: tide 4.00x faster than jax jet re-run, check disagrees");
  const nlohmann::json j = comparisons_json({c}, {}, 1e-8);
  CHECK(j["check_tolerance"] == 1e-8);
  CHECK(j["workloads"][0]["targets"][0]["check_agrees"] == false);
  CHECK(j["workloads"][0]["targets"][0]["met"] == false);
  CHECK(j["workloads"][0]["sides"][0]["check_agrees"] == true);
  CHECK(j["workloads"][0]["sides"][1]["check_agrees"] == false);
}

TEST_CASE("a target with no peer figure is not measured, whatever the checks") {
  const std::vector<TargetResult> r = evaluate_targets(comparison({}, {{"torchdiffeq", 30.0, true}}), 1e-4);
  REQUIRE(r.size() == 1);
  CHECK(r[0].against.empty());
  CHECK(r[0].text() == "tide >= 30x faster than torchdiffeq per NFE: no peer figure");
}

TEST_CASE("a target with no peer figure says nothing about the checks in its JSON: check_agrees is null") {
  // peers absent, and a peer whose every call failed (no time): nothing was compared
  for (const Comparison& c : {comparison({}, {{"diffrax", 1.5}}), comparison({{"diffrax", NAN, 2.0}}, {{"diffrax", 1.5}})}) {
    const std::vector<TargetResult> r = evaluate_targets(c, 1e-4);
    REQUIRE(r.size() == 1);
    CHECK_FALSE(r[0].measured());
    CHECK_FALSE(r[0].check_agrees);
    CHECK_FALSE(r[0].met);
    CHECK(r[0].text() == "tide >= 1.5x faster than diffrax per call: no peer figure");
    const nlohmann::json target = comparisons_json({c}, {}, 1e-4)["workloads"][0]["targets"][0];
    CHECK(target["measured"] == false);
    CHECK(target["check_agrees"].is_null());
    CHECK(target["speedup"].is_null());
    CHECK(target["met"] == false);
  }
  // a measured target keeps a boolean
  const nlohmann::json measured = comparisons_json({comparison({{"diffrax", 5, 2.0}}, {{"diffrax", 1.5}})}, {}, 1e-4);
  CHECK(measured["workloads"][0]["targets"][0]["check_agrees"] == true);
}

TEST_CASE("--python is a command split on blanks, unless it names an existing file") {
  CHECK(python_command("python3") == std::vector<std::string>{"python3"});
  CHECK(python_command("uv run python") == std::vector<std::string>{"uv", "run", "python"});
  CHECK(python_command("  uv  run\tpython ") == std::vector<std::string>{"uv", "run", "python"});
  // a path with a space that exists stays one word
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "tide python test";
  std::filesystem::create_directories(dir);
  const std::string interpreter = (dir / "my python").string();
  std::ofstream(interpreter) << "#!/bin/sh\n";
  CHECK(python_command(interpreter) == std::vector<std::string>{interpreter});
  std::filesystem::remove_all(dir);
  CHECK(python_command("   ") == std::vector<std::string>{"   "});  // no words: one, which fails to start by its name
}

TEST_CASE("bench gpu's shell line quotes each word of the --python command on its own") {
  std::vector<std::string> words = python_command("uv run python");
  words.insert(words.end(), {"bench/torch_gpu.py", "7"});
  CHECK(shell_line(words) == "'uv' 'run' 'python' 'bench/torch_gpu.py' '7'");
  CHECK(shell_line({"/opt/my python/bin/python", "it's.py"}) == "'/opt/my python/bin/python' 'it'\\''s.py'");
}

TEST_CASE("a peer started through a wrapper command runs its script") {
  // `env` with an argument is a wrapper: it must get the script as a word after its own
  PeerOptions options;
  options.python = "env -u TIDE_NOT_SET sh";
  options.dir = std::filesystem::temp_directory_path().string();
  const std::string script = "tide_wrapper_peer_test.sh";
  std::ofstream(std::filesystem::path(options.dir) / script)
      << "echo '{\"ok\": true, \"framework\": \"wrapped\", \"versions\": {}}'\nread line\n";
  Peer peer(options, script, {});
  std::filesystem::remove(std::filesystem::path(options.dir) / script);
  CHECK(peer.why() == "");
  CHECK(peer.framework() == "wrapped");
}
