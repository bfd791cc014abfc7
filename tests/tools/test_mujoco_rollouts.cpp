// MuJoCo rollouts: the CSV reads back, ~10% of frames are dropped (irregular times), the output is
// reproducible from the seed, and bad input names the file.
#include "mujoco_rollouts.hpp"
#include "tide/core/error.hpp"
#include <doctest/doctest.h>
#include <unistd.h>
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace tide::cli;
namespace fs = std::filesystem;

namespace {

// A per-process scratch folder, removed at exit.
struct Scratch {
  fs::path dir = fs::temp_directory_path() / ("tide_mujoco_test_" + std::to_string(::getpid()));
  Scratch() { fs::create_directories(dir); }
  ~Scratch() {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  }
};
const Scratch scratch;

std::string path_in_scratch(const std::string& name) { return (scratch.dir / name).string(); }

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A tiny planar walker (a free torso with two hinged legs and motors), used when Debian's samples
// are not installed.
const char* tiny_model = R"(<mujoco model="tiny">
  <option timestep="0.005"/>
  <worldbody>
    <geom name="floor" type="plane" size="5 5 .1"/>
    <body name="torso" pos="0 0 .6">
      <freejoint name="root"/>
      <geom type="capsule" fromto="-.2 0 0 .2 0 0" size=".05"/>
      <body name="leg1" pos=".2 0 0"><joint name="hip1" type="hinge" axis="0 1 0" range="-60 60" limited="true" damping="1"/>
        <geom type="capsule" fromto="0 0 0 0 0 -.4" size=".04"/></body>
      <body name="leg2" pos="-.2 0 0"><joint name="hip2" type="hinge" axis="0 1 0" range="-60 60" limited="true" damping="1"/>
        <geom type="capsule" fromto="0 0 0 0 0 -.4" size=".04"/></body>
    </body>
  </worldbody>
  <actuator>
    <motor joint="hip1" gear="20" ctrlrange="-1 1" ctrllimited="true"/>
    <motor joint="hip2" gear="20" ctrlrange="-1 1" ctrllimited="true"/>
  </actuator>
</mujoco>
)";

std::string test_model() {
  if (fs::exists(default_mujoco_model)) return default_mujoco_model;
  const std::string path = path_in_scratch("tiny.xml");
  std::ofstream(path) << tiny_model;
  return path;
}

struct Csv {
  std::vector<std::string> header;
  std::vector<std::vector<double>> rows;
};

// A strict reader for what the writer produces: plain comma-separated numbers under a header.
Csv parse(const std::string& text) {
  Csv csv;
  std::istringstream lines(text);
  std::string line;
  auto split = [](const std::string& s) {
    std::vector<std::string> fields;
    std::size_t start = 0;
    for (std::size_t comma; (comma = s.find(',', start)) != std::string::npos; start = comma + 1)
      fields.push_back(s.substr(start, comma - start));
    fields.push_back(s.substr(start));
    return fields;
  };
  REQUIRE(std::getline(lines, line));
  csv.header = split(line);
  while (std::getline(lines, line)) {
    const auto fields = split(line);
    REQUIRE(fields.size() == csv.header.size());
    std::vector<double> row;
    for (const auto& field : fields) {
      char* end = nullptr;
      row.push_back(std::strtod(field.c_str(), &end));
      REQUIRE_MESSAGE((!field.empty() && *end == '\0'), "not a number: '" << field << "'");
    }
    csv.rows.push_back(std::move(row));
  }
  return csv;
}

RolloutSpec small_spec() {
  RolloutSpec spec;
  spec.model_path = test_model();
  spec.episodes = 3;
  spec.steps = 40;
  return spec;
}

}  // namespace

TEST_CASE("mujoco rollouts: 3 episodes x 40 frames read back with ~10% of the frames dropped") {
  const auto spec = small_spec();
  const auto out = path_in_scratch("rollouts.csv");
  const auto stats = write_mujoco_rollouts(spec, out);
  const Csv csv = parse(read_text(out));
  REQUIRE(csv.header.size() >= 3);
  CHECK(csv.header[0] == "episode");
  CHECK(csv.header[1] == "time");
  CHECK(static_cast<std::int64_t>(csv.header.size()) == stats.features + 2);
  CHECK(static_cast<std::int64_t>(csv.rows.size()) == stats.rows);
  CHECK(stats.episodes == 3);
  CHECK(stats.rows >= 100);  // about 90% of 120
  CHECK(stats.rows <= 112);
  CHECK(stats.mean_dt > stats.frame_period);
  CHECK(!fs::exists(out + ".tmp"));

  bool long_gap = false;
  std::vector<int> rows_per_episode(3, 0);
  for (std::size_t r = 0; r < csv.rows.size(); ++r) {
    const auto& row = csv.rows[r];
    for (double v : row) REQUIRE(std::isfinite(v));
    const int episode = static_cast<int>(row[0]);
    REQUIRE(episode >= 0);
    REQUIRE(episode < 3);
    ++rows_per_episode[static_cast<std::size_t>(episode)];
    if (r > 0 && csv.rows[r - 1][0] == row[0]) {
      const double gap = row[1] - csv.rows[r - 1][1];
      CHECK(gap > 0);  // times strictly increase within an episode
      if (gap > 1.5 * stats.frame_period) long_gap = true;
    } else {
      CHECK(row[1] == 0.0);  // the first frame is never dropped
    }
  }
  CHECK(long_gap);  // irregular: at least one gap of two frame periods
  for (int n : rows_per_episode) CHECK(n == 36);
}

TEST_CASE("mujoco rollouts: the same seed gives the same bytes, another seed other bytes") {
  auto spec = small_spec();
  const auto a = path_in_scratch("seed_a.csv"), b = path_in_scratch("seed_b.csv"), c = path_in_scratch("seed_c.csv");
  write_mujoco_rollouts(spec, a);
  write_mujoco_rollouts(spec, b);
  CHECK(read_text(a) == read_text(b));
  spec.seed = 2;
  write_mujoco_rollouts(spec, c);
  CHECK(read_text(a) != read_text(c));
}

TEST_CASE("mujoco rollouts: the random controller and the feature names") {
  auto spec = small_spec();
  spec.controller = "random";
  spec.episodes = 1;
  const auto stats = write_mujoco_rollouts(spec, path_in_scratch("random.csv"));
  CHECK(stats.rows == 36);
  REQUIRE(!stats.feature_names.empty());
  // the root's x,y are not features; its height is
  CHECK(std::find(stats.feature_names.begin(), stats.feature_names.end(), "qpos_root_0") == stats.feature_names.end());
  CHECK(std::find(stats.feature_names.begin(), stats.feature_names.end(), "qpos_root_2") != stats.feature_names.end());
  CHECK(std::find(stats.feature_names.begin(), stats.feature_names.end(), "qvel_root_0") != stats.feature_names.end());
}

TEST_CASE("mujoco rollouts: joint names that become the same column get a suffix") {
  // "a.b" and "a_b" are both a_b as columns, and the unnamed joint's joint2 is taken
  const auto clash = path_in_scratch("clash.xml");
  std::ofstream(clash) << R"(<mujoco><worldbody><body pos="0 0 1">
    <joint name="a.b" type="slide" axis="0 0 1"/><joint name="a_b" type="hinge"/><joint type="hinge" axis="1 0 0"/>
    <joint name="joint2" type="hinge" axis="0 1 0"/><geom size=".1"/></body></worldbody></mujoco>)";
  auto spec = small_spec();
  spec.model_path = clash;
  spec.episodes = 1;
  spec.steps = 3;
  const auto stats = write_mujoco_rollouts(spec, path_in_scratch("clash.csv"));
  CHECK(stats.feature_names == std::vector<std::string>{"qpos_a_b_0", "qpos_a_b_2_0", "qpos_joint2_0", "qpos_joint2_2_0",
                                                         "qvel_a_b_0", "qvel_a_b_2_0", "qvel_joint2_0", "qvel_joint2_2_0"});
  const Csv csv = parse(read_text(path_in_scratch("clash.csv")));
  CHECK(csv.header == std::vector<std::string>{"episode", "time", "qpos_a_b_0", "qpos_a_b_2_0", "qpos_joint2_0", "qpos_joint2_2_0",
                                               "qvel_a_b_0", "qvel_a_b_2_0", "qvel_joint2_0", "qvel_joint2_2_0"});
}

TEST_CASE("mujoco rollouts: bad input names the file") {
  auto spec = small_spec();
  spec.model_path = path_in_scratch("no_such_model.xml");
  CHECK_THROWS_WITH_AS(write_mujoco_rollouts(spec, path_in_scratch("x.csv")),
                       doctest::Contains(spec.model_path.c_str()), tide::Error);

  const auto broken = path_in_scratch("broken.xml");
  std::ofstream(broken) << "<mujoco><worldbody><body><geom type=\"nosuchtype\"/></body></worldbody></mujoco>\n";
  spec.model_path = broken;
  CHECK_THROWS_WITH_AS(write_mujoco_rollouts(spec, path_in_scratch("x.csv")), doctest::Contains(broken.c_str()),
                       tide::Error);
  CHECK_THROWS_WITH_AS(write_mujoco_rollouts(spec, path_in_scratch("x.csv")), doctest::Contains("nosuchtype"),
                       tide::Error);

  spec = small_spec();
  const auto unwritable = path_in_scratch("no_such_folder/out.csv");
  CHECK_THROWS_WITH_AS(write_mujoco_rollouts(spec, unwritable), doctest::Contains(unwritable.c_str()), tide::Error);
  spec.controller = "pid";
  CHECK_THROWS_WITH_AS(write_mujoco_rollouts(spec, path_in_scratch("x.csv")), doctest::Contains("pid"), tide::Error);
}

TEST_CASE("mujoco rollouts: a simulation that always goes non-finite stops with an error") {
  // a stiff spring on a light ball integrated with a huge explicit step: every restart diverges
  const auto unstable = path_in_scratch("unstable.xml");
  std::ofstream(unstable) << R"(<mujoco><option timestep="0.5" integrator="Euler"/><worldbody><body>
    <joint name="h" type="hinge" stiffness="1e9"/><geom type="sphere" size=".1" mass=".001"/></body></worldbody>
    <actuator><motor joint="h"/></actuator></mujoco>)";
  auto spec = small_spec();
  spec.model_path = unstable;
  CHECK_THROWS_WITH_AS(write_mujoco_rollouts(spec, path_in_scratch("x.csv")), doctest::Contains("went non-finite"),
                       tide::Error);
  CHECK(!fs::exists(path_in_scratch("x.csv.tmp")));
}

TEST_CASE("mujoco rollouts: MuJoCo's fatal error and a timestep that is not positive are errors naming the model") {
  // Found by a bug hunt: MuJoCo's own handler printed "Press Enter to exit", waited on stdin and
  // exited the process, leaving the output's temporary file and a MUJOCO_LOG.TXT; timestep 0 wrote
  // frames that never advanced in time, exit 0.
  const auto small_stack = path_in_scratch("small_stack.xml");  // loads, then runs out of stack at the first contacts
  std::ofstream(small_stack) << R"(<mujoco><size nstack="1000"/><worldbody><geom type="plane" size="5 5 0.1"/>
    <body pos="0 0 0.5"><freejoint/><geom type="box" size="0.1 0.1 0.1"/></body>
    <body pos="0.05 0 0.8"><freejoint/><geom type="box" size="0.1 0.1 0.1"/></body>
    <body pos="0 0.05 1.1"><freejoint/><geom type="box" size="0.1 0.1 0.1"/></body></worldbody></mujoco>)";
  auto spec = small_spec();
  spec.model_path = small_stack;
  spec.steps = 300, spec.controller = "none";
  const std::string out = path_in_scratch("stack.csv");
  CHECK_THROWS_WITH_AS(write_mujoco_rollouts(spec, out),
                       doctest::Contains(("simulating '" + small_stack + "' (frame").c_str()), tide::Error);
  CHECK_THROWS_WITH_AS(write_mujoco_rollouts(spec, out),
                       doctest::Contains("MuJoCo stopped with 'Stack overflow' (a larger <size nstack=...> in the model may help)"), tide::Error);
  for (const auto& entry : fs::directory_iterator(scratch.dir)) CHECK(entry.path().filename().string().find("stack.csv") == std::string::npos);
  for (const char* step : {"0", "-0.01"}) {
    const auto frozen = path_in_scratch("frozen.xml");
    std::ofstream(frozen) << "<mujoco><option timestep=\"" << step << "\"/><worldbody><body><joint type=\"slide\"/>"
                          << "<geom type=\"sphere\" size=\".1\"/></body></worldbody></mujoco>";
    spec = small_spec();
    spec.model_path = frozen;
    CHECK_THROWS_WITH_AS(write_mujoco_rollouts(spec, path_in_scratch("x.csv")),
                         doctest::Contains(("the model '" + frozen + "' has timestep " + step + ": it must be positive").c_str()), tide::Error);
  }
}
