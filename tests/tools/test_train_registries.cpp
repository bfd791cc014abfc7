// The name-keyed registries of `tide train` (datasets, optimizers, learning-rate schedules), built
// from the tool's sources: every registered name resolves, and an unknown one fails with the list
// of the known names (from the registry's own table).
#include "../data/data_test_util.hpp"
#include "tide/tide.hpp"
#include "train/datasets.hpp"
#include "train/train_config.hpp"
#include <doctest/doctest.h>
#include <fmt/ranges.h>
#include <cmath>
#include <fstream>
#include <map>

using namespace tide;
using namespace tide::cli;
using json = nlohmann::json;

namespace {

using tide::data::test::error_of;
using tide::data::test::TempDir;

std::string joined(const std::vector<std::string>& names) { return fmt::format("{}", fmt::join(names, ", ")); }

// 100 rows of one episode: time, episode, q0, q1 (the shape `tide data mujoco` writes).
std::string write_rollouts(const TempDir& dir) {
  const std::string path = dir.file("rollouts.csv");
  std::ofstream out(path);
  out << "time,episode,q0,q1\n";
  for (int i = 0; i < 100; ++i) out << 0.1 * i << ",0," << std::sin(0.1 * i) << "," << std::cos(0.1 * i) << "\n";
  return path;
}

}  // namespace

TEST_CASE("datasets: every name dataset_names() lists reaches its loader; an unknown one fails listing them") {
  TempDir dir;
  const std::string csv = write_rollouts(dir), missing = dir.file("missing");
  const std::map<std::string, json> spec = {
      {"xor", {{"train", 64}, {"test", 16}}},
      {"fashion_mnist", {{"dir", missing}}},
      {"traffic", {{"path", missing}}},
      {"gesture", {{"dir", missing}}},
      {"person_activity", {{"path", missing}}},
      {"mujoco", {{"path", csv}, {"window", 4}, {"stride", 2}}},
      {"csv", {{"path", csv}, {"time_column", "time"}, {"features", {"q0", "q1"}}, {"targets", {"q0"}}, {"task", "regression"}, {"window", 4}}},
  };
  CHECK(spec.size() == dataset_names().size());
  for (const std::string& name : dataset_names()) {
    CAPTURE(name);
    REQUIRE(spec.count(name) == 1);
    json j = spec.at(name);
    j["dataset"] = name;
    if (j.value("path", j.value("dir", "")) == missing) {  // the loader ran, on the path given
      CHECK(error_of([&] { load_data(j, 1, "data"); }).find(missing) != std::string::npos);
    } else {
      CHECK(load_data(j, 1, "data").description.starts_with(name + ": "));
    }
  }
  CHECK(error_of([] { load_data({{"dataset", "nosuch"}}, 1, "data"); }) ==
        "data.dataset: expected one of " + joined(dataset_names()) + ", got \"nosuch\"");
  CHECK(error_of([] { load_data({{"train", 3}}, 1, "data"); }) == "data: missing key 'dataset' (one of " + joined(dataset_names()) + ")");
}

TEST_CASE("optimizers: every name optimizer_names() lists builds its optimizer; an unknown one fails listing them") {
  const std::map<std::string, std::string> kind = {{"adam", "kind.Adam"}, {"adamw", "kind.AdamW"}, {"sgd", "kind.SGD"}, {"rmsprop", "kind.RMSprop"}};
  CHECK(kind.size() == optimizer_names().size());
  for (const std::string& name : optimizer_names()) {
    CAPTURE(name);
    const std::unique_ptr<Optimizer> optimizer = make_optimizer({.type = name, .lr = 0.1}, {Var::parameter(Tensor::ones(Shape{2}))});
    REQUIRE(optimizer != nullptr);
    CHECK(optimizer->learning_rate() == 0.1);
    CHECK(optimizer->state().front().first == kind.at(name));
  }
  CHECK(error_of([] { make_optimizer({.type = "adamm"}, {}); }) == "unknown optimizer 'adamm' (known: " + joined(optimizer_names()) + ")");
  CHECK(error_of([] { parse_train_config({{"data", json::object()}, {"model", json::object()}, {"optimizer", {{"type", "adamm"}}}}, "c.json"); }) ==
        "c.json.optimizer.type: expected one of " + joined(optimizer_names()) + ", got \"adamm\"");
}

TEST_CASE("schedules: every name schedule_names() lists gives a rate; an unknown one fails listing them") {
  TrainConfig c;
  c.optimizer.lr = 0.1;
  c.schedule.step_epochs = 1;
  const std::map<std::string, double> at_epoch_1 = {{"constant", 0.1}, {"cosine", 0.05}, {"step", 0.01}};  // of 2 epochs
  c.epochs = 2;
  CHECK(at_epoch_1.size() == schedule_names().size());
  for (const std::string& name : schedule_names()) {
    CAPTURE(name);
    c.schedule.type = name;
    CHECK(c.learning_rate(0, 0, 10) == doctest::Approx(0.1));
    CHECK(c.learning_rate(1, 0, 10) == doctest::Approx(at_epoch_1.at(name)));
  }
  c.schedule.type = "linear";
  CHECK(error_of([&] { c.learning_rate(0, 0, 10); }) == "unknown LR schedule 'linear' (known: " + joined(schedule_names()) + ")");
  CHECK(error_of([] { parse_train_config({{"data", json::object()}, {"model", json::object()}, {"schedule", {{"type", "linear"}}}}, "c.json"); }) ==
        "c.json.schedule.type: expected one of " + joined(schedule_names()) + ", got \"linear\"");
}
