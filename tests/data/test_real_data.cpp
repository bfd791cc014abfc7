// The loaders on the real files in ../shared/data (and Fashion-MNIST where installed). Each case
// reports itself skipped when its data is absent, so the suite passes on any machine.
#include "data_test_util.hpp"
#include "tide/data/gesture.hpp"
#include "tide/data/idx.hpp"
#include "tide/data/irregular.hpp"
#include "tide/data/traffic.hpp"
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <numbers>
#include <optional>

using namespace tide;
using namespace tide::data;

TEST_CASE("traffic: 12,043 windows of 32 x 7 from the real file, split 10/15/75") {
  const auto path = locate_shared_data("traffic/Metro_Interstate_Traffic_Volume.csv");
  if (!path) {
    MESSAGE("skipped: traffic/Metro_Interstate_Traffic_Volume.csv not found in the shared data folder");
    return;
  }
  const SequenceSet all = traffic_windows(*path);
  CHECK(all.size() == 12043);
  CHECK(all.x.shape() == Shape{12043, 32, 7});
  CHECK(all.y.shape() == Shape{12043, 32, 1});
  CHECK(all.task == Task::regression);
  // the first row: None, 288.28 K, 0, 0, 40% clouds, Tuesday 2012-10-02 09:00, volume 5545
  const auto x = all.x.slice(0, 0, 1).to_vector();
  CHECK(x[0] == 0.0);
  CHECK(x[2] == 0.0);
  CHECK(x[4] == 40.0);
  CHECK(x[5] == 1.0);  // Tuesday (Monday = 0)
  CHECK(x[6] == doctest::Approx(std::sin(9 * std::numbers::pi / 24)));
  // window 1 starts 4 rows later; its row 0 is row 4 of window 0
  CHECK(all.x.slice(0, 1, 2).to_vector()[0 + 5] == x[4 * 7 + 5]);
  // the target is standardised: mean ~0 and std ~1 over the windowed rows
  const auto y = all.y.to_vector();
  double mean = 0;
  for (double v : y) mean += v;
  mean /= static_cast<double>(y.size());
  CHECK(std::abs(mean) < 0.05);
  const Split s = traffic(*path, 1);
  CHECK(s.val.size() == 1204);
  CHECK(s.test.size() == 1806);
  CHECK(s.train.size() == 12043 - 1204 - 1806);
}

TEST_CASE("gesture: 605 windows of 32 x 32 from the seven va3 files") {
  const auto dir = locate_shared_data("gesture");
  if (!dir || !std::filesystem::exists(*dir + "/a3_va3.csv")) {
    MESSAGE("skipped: gesture/*_va3.csv not found in the shared data folder");
    return;
  }
  const SequenceSet all = gesture_windows(*dir);
  CHECK(all.size() == 605);
  CHECK(all.x.shape() == Shape{605, 32, 32});
  CHECK(all.y.shape() == Shape{605, 32});
  CHECK(all.classes == 5);
  const Standardizer st = Standardizer::fit(all);  // already standardised over all windows
  for (std::size_t f = 0; f < 32; ++f) {
    CHECK(std::abs(st.mean[f]) < 1e-4);
    CHECK(st.std[f] == doctest::Approx(1.0).epsilon(1e-4));
  }
  const auto y = all.y.to_indices();
  for (std::int64_t c = 0; c < 5; ++c) CHECK(std::count(y.begin(), y.end(), c) > 0);
  const Split s = gesture(*dir, 2);
  CHECK(s.val.size() == 60);
  CHECK(s.test.size() == 90);
  CHECK(s.train.size() == 455);
}

TEST_CASE("event-based Fashion-MNIST from the Debian package's gzipped IDX files") {
  const std::string dir = fashion_mnist_dir();
  if (!std::filesystem::exists(dir + "/train-images-idx3-ubyte.gz") &&
      !std::filesystem::exists(dir + "/train-images-idx3-ubyte")) {
    MESSAGE("skipped: Fashion-MNIST not installed in " << dir << " (apt-get install dataset-fashion-mnist)");
    return;
  }
  const Split s = event_fashion_mnist(dir, 0, 0.1);
  CHECK(s.train.size() == 54000);
  CHECK(s.val.size() == 6000);
  CHECK(s.test.size() == 10000);
  CHECK(s.test.x.shape() == Shape{10000, 256, 1});
  s.test.validate();
  // every test image's events cover its 784 pixels unless truncated at 256 events
  const auto dt = s.test.dt.to_vector(), mask = s.test.mask.to_vector();
  std::int64_t whole = 0;
  for (std::size_t i = 0; i < 10000; ++i) {
    double total = 0, events = 0;
    for (std::size_t t = 0; t < 256; ++t) total += dt[i * 256 + t], events += mask[i * 256 + t];
    whole += events < 256 && std::abs(total * 256 - 784) < 1e-3;
  }
  CHECK(whole > 9000);
}

namespace {

// Sets (or, with nullptr, unsets) an environment variable for the life of the scope.
class ScopedEnv {
public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) ::setenv(name, value, 1);
    else ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_) ::setenv(name_, old_->c_str(), 1);
    else ::unsetenv(name_);
  }

private:
  const char* name_;
  std::optional<std::string> old_;
};

// Changes the working directory for the life of the scope.
class ScopedCwd {
public:
  explicit ScopedCwd(const std::filesystem::path& dir) : old_(std::filesystem::current_path()) { std::filesystem::current_path(dir); }
  ~ScopedCwd() { std::filesystem::current_path(old_); }

private:
  std::filesystem::path old_;
};

}  // namespace

TEST_CASE("find_shared_data looks at $TIDE_DATA_DIR, the per-user data folder, then the working directory") {
  namespace fs = std::filesystem;
  tide::data::test::TempDir root;
  const fs::path env = root.path() / "env", xdg = root.path() / "xdg", home = root.path() / "home", cwd = root.path() / "run";
  for (const fs::path& d : {env, xdg / "tide", home / ".local/share/tide", cwd / "shared/data", root.path() / "shared/data"}) {
    fs::create_directories(d);
    tide::data::test::write_file((d / "probe.csv").string(), "a\n1\n");
  }
  ScopedCwd in_run(cwd);
  ScopedEnv data_dir("TIDE_DATA_DIR", env.c_str()), data_home("XDG_DATA_HOME", xdg.c_str()), user("HOME", home.c_str());
  CHECK(locate_shared_data("probe.csv") == (env / "probe.csv").string());
  fs::remove(env / "probe.csv");
  CHECK(find_shared_data("probe.csv") == (xdg / "tide/probe.csv").string());
  fs::remove(xdg / "tide/probe.csv");
  CHECK(locate_shared_data("probe.csv") == "shared/data/probe.csv");  // ~/.local/share/tide only stands in for an unset XDG_DATA_HOME
  {
    ScopedEnv no_xdg("XDG_DATA_HOME", nullptr);  // the XDG default: ~/.local/share/tide
    CHECK(locate_shared_data("probe.csv") == (home / ".local/share/tide/probe.csv").string());
  }
  {
    ScopedEnv relative_xdg("XDG_DATA_HOME", "relative/xdg");  // ignored, as the XDG spec says
    CHECK(locate_shared_data("probe.csv") == (home / ".local/share/tide/probe.csv").string());
  }
  fs::remove(cwd / "shared/data/probe.csv");
  CHECK(locate_shared_data("probe.csv") == "../shared/data/probe.csv");
  CHECK_FALSE(locate_shared_data("no/such/file.csv").has_value());
  CHECK_ERROR_NAMES(find_shared_data("no/such/file.csv"),
                    fmt::format("shared data 'no/such/file.csv' not found (looked at {}, {}, shared/data/no/such/file.csv, "
                                "../shared/data/no/such/file.csv, ../../shared/data/no/such/file.csv); put it under "
                                "$TIDE_DATA_DIR or the per-user data folder $XDG_DATA_HOME/tide (default ~/.local/share/tide)",
                                (env / "no/such/file.csv").string(), (xdg / "tide/no/such/file.csv").string()));
}

TEST_CASE("find_shared_data without TIDE_DATA_DIR, XDG_DATA_HOME or HOME searches the working directory only") {
  ScopedEnv data_dir("TIDE_DATA_DIR", nullptr), data_home("XDG_DATA_HOME", nullptr), user("HOME", nullptr);
  CHECK_ERROR_NAMES(find_shared_data("no/such/file.csv"),
                    "(looked at shared/data/no/such/file.csv, ../shared/data/no/such/file.csv, ../../shared/data/no/such/file.csv)");
}

TEST_CASE("physionet: the real set-a and set-b, 7,990 records with time series, 1,122 deaths") {
  const auto dir = locate_shared_data("physionet2012");
  if (!dir || !std::filesystem::exists(*dir + "/set-a.tar.gz")) {
    MESSAGE("skipped: physionet2012/set-a.tar.gz not found in the shared data folder");
    return;
  }
  if (std::getenv("TIDE_SKIP_HEAVY")) {
    MESSAGE("skipped: TIDE_SKIP_HEAVY is set (reads 8,000 records)");
    return;
  }
  const PhysionetData d = read_physionet({*dir + "/set-a.tar.gz", *dir + "/set-b.tar.gz"},
                                         {*dir + "/Outcomes-a.txt", *dir + "/Outcomes-b.txt"});
  // the records with descriptors only: the three of set-a the data README lists, and seven of set-b
  std::vector<std::int64_t> left_out = d.without_series;
  std::sort(left_out.begin(), left_out.end());
  CHECK(left_out == std::vector<std::int64_t>{140501, 140936, 141264, 142731, 142998, 143656, 145611, 147514, 150309, 150649});
  CHECK(d.set.size() == 7990);
  CHECK(d.set.dims() == 37);
  double deaths = 0;
  for (std::int64_t y : d.set.labels.to_indices()) deaths += static_cast<double>(y);
  CHECK(deaths == 1122);  // the Outcomes files' in-hospital deaths (none among the records left out)
  const std::vector<double> t = d.set.times.to_vector();
  CHECK(*std::max_element(t.begin(), t.end()) <= 1.0 + 1e-12);  // 48 h at 0.1 h steps, in units of 48 h
}
