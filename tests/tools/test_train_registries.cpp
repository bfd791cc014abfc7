// The name-keyed registries of `tide train` (optimizers, learning-rate schedules; the datasets'
// is tested with the data layer), built
// from the tool's sources: every registered name resolves, and an unknown one fails with the list
// of the known names (from the registry's own table).
#include "../data/data_test_util.hpp"
#include "tide/data/config_object.hpp"
#include "tide/tide.hpp"
#include "train/train_config.hpp"
#include <doctest/doctest.h>
#include <fmt/ranges.h>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>

using namespace tide;
using namespace tide::cli;
using json = nlohmann::json;

namespace {

using tide::data::test::error_of;

std::string joined(const std::vector<std::string>& names) { return fmt::format("{}", fmt::join(names, ", ")); }

}  // namespace

TEST_CASE("optimizers: every name optimizer_names() lists builds its optimizer; an unknown one fails listing them") {
  const std::map<std::string, std::string> kind = {{"adam", "kind.Adam"}, {"adamw", "kind.AdamW"}, {"sgd", "kind.SGD"}, {"rmsprop", "kind.RMSprop"}, {"adamax", "kind.Adamax"}};
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
  // warm-up rises to lr itself, then cosine anneals over the steps after it (12 steps, 5 of warm-up)
  c.schedule = {.type = "cosine", .warmup_steps = 5};
  c.epochs = 1;
  CHECK(c.learning_rate(0, 0, 12) == doctest::Approx(0.1 / 5));
  CHECK(c.learning_rate(0, 4, 12) == doctest::Approx(0.1));
  CHECK(c.learning_rate(0, 5, 12) == doctest::Approx(0.1));
  CHECK(c.learning_rate(0, 11, 12) == doctest::Approx(0.05 * (1 + std::cos(M_PI * 6 / 7))));
  c.schedule.type = "linear";
  CHECK(error_of([&] { c.learning_rate(0, 0, 10); }) == "unknown LR schedule 'linear' (known: " + joined(schedule_names()) + ")");
  CHECK(error_of([] { parse_train_config({{"data", json::object()}, {"model", json::object()}, {"schedule", {{"type", "linear"}}}}, "c.json"); }) ==
        "c.json.schedule.type: expected one of " + joined(schedule_names()) + ", got \"linear\"");
}

TEST_CASE("configs: a key that another optimizer or schedule type reads is refused, not ignored; the name is one path component") {
  const auto with = [](const json& extra) {
    json config = {{"data", json::object()}, {"model", json::object()}};
    config.update(extra);
    return config;
  };
  const auto parse = [&](const json& extra) { return error_of([&] { parse_train_config(with(extra), "c.json"); }); };
  const auto accepted = [&](const json& extra) { CHECK_NOTHROW(parse_train_config(with(extra), "c.json")); };
  CHECK(parse({{"optimizer", {{"type", "adam"}, {"momentum", 0.9}}}}) ==
        "c.json.optimizer.momentum: momentum applies to sgd and rmsprop; adam has no momentum setting");
  accepted({{"optimizer", {{"type", "sgd"}, {"momentum", 0.9}}}});
  accepted({{"optimizer", {{"type", "rmsprop"}, {"momentum", 0.9}}}});
  CHECK(parse({{"schedule", {{"type", "cosine"}, {"gamma", 0.5}}}}) == "c.json.schedule.gamma: applies to the step schedule, not cosine");
  CHECK(parse({{"schedule", {{"type", "constant"}, {"min_lr", 0.001}}}}) == "c.json.schedule.min_lr: applies to the cosine schedule, not constant");
  CHECK(parse({{"schedule", {{"type", "cosine"}, {"step_epochs", 2}}}}) == "c.json.schedule.step_epochs: applies to the step schedule, not cosine");
  CHECK(parse({{"optimizer", {{"lr", 0.01}}}, {"schedule", {{"type", "cosine"}, {"min_lr", 1.0}}}}) ==
        "c.json.schedule.min_lr: 1 is above the optimizer's lr 0.01: cosine anneals down to it");
  accepted({{"schedule", {{"type", "cosine"}, {"min_lr", 0.001}, {"warmup_steps", 5}}}});
  accepted({{"schedule", {{"type", "step"}, {"gamma", 0.5}, {"step_epochs", 2}, {"warmup_steps", 5}}}});
  // a run's recorded config (eval, predict, export, --resume) is read as the version that trained it read it
  CHECK_NOTHROW(parse_train_config(with({{"optimizer", {{"type", "adam"}, {"momentum", 0.9}}}, {"schedule", {{"type", "cosine"}, {"gamma", 0.5}, {"min_lr", 1.0}}}}),
                                   "c.json", ConfigUse::recorded));
  for (const char* name : {".", ".."}) CHECK(parse({{"name", name}}).starts_with("c.json.name: expected a non-empty name without '/', not '.' or '..'"));
  accepted({{"name", "..x"}});
}

TEST_CASE("configs: deep nesting is refused while parsing and no message dumps a large value") {
  const std::string deep = "{\"name\": " + std::string(100000, '[') + std::string(100000, ']') + "}";
  CHECK(error_of([&] { parse_json_text(deep, "deep.json"); }) == "deep.json: JSON nested deeper than 128 levels");
  std::string nested = "1";
  for (int i = 0; i < 100; ++i) nested = "[" + nested + ", 2, 3]";
  const json config = parse_json_text("{\"name\": " + nested + ", \"data\": {}, \"model\": {}}", "c.json");
  const std::string message = error_of([&] { parse_train_config(config, "c.json"); });
  CHECK(message == "c.json.name: expected a string, got an array of 3 elements");
  const json long_text = {{"name", std::string(5000, 'x')}, {"data", json::object()}, {"model", json::object()}, {"epochs", std::string(5000, 'y')}};
  CHECK(error_of([&] { parse_train_config(long_text, "c.json"); }).size() < 160);
}

TEST_CASE("configs: a key given twice in one object is an error naming its path, not the last value silently") {
  CHECK(error_of([] { parse_json_text("{\"data\": {\"window\": 8, \"path\": \"a.csv\", \"window\": 16}}", "c.json"); }) ==
        "c.json: key 'data.window' appears twice in one object (JSON keeps only the last; remove one)");
  CHECK(error_of([] { parse_json_text("{\"epochs\": 1, \"epochs\": 2}", "c.json"); }).find("key 'epochs' appears twice") != std::string::npos);
  // the same key in different objects, and in objects inside arrays, is fine
  CHECK(parse_json_text("{\"a\": {\"k\": 1}, \"b\": {\"k\": 2}, \"c\": [{\"k\": 1}, {\"k\": 2}], \"k\": 3}", "c.json").at("k") == 3);
}

TEST_CASE("configs: a number beyond a double's range is a tide::Error naming the file (found by fuzz/config.cpp)") {
  CHECK(error_of([] { parse_json_text("-41e308", "fuzz.json"); }) == "fuzz.json: invalid JSON (number overflow parsing '-41e308')");
  CHECK(error_of([] { parse_json_text("{\"lr\": 1e999}", "c.json"); }) == "c.json: invalid JSON (number overflow parsing '1e999')");
  CHECK(parse_json_text("1e308", "c.json").get<double>() == 1e308);
}

TEST_CASE("configs: best_metric \"\" is refused, naming the key (it was taken as the model's own metric)") {
  const json config = {{"data", json::object()}, {"model", json::object()}, {"best_metric", ""}};
  CHECK(error_of([&] { parse_train_config(config, "c.json"); }) ==
        "c.json.best_metric: expected a validation metric's name (\"f1\", \"loss\", ...), got \"\"; leave the key out for the model's own");
  CHECK(parse_train_config(config, "c.json", ConfigUse::recorded).best_metric.empty());  // a run trained with it stays readable
  CHECK(parse_train_config({{"data", json::object()}, {"model", json::object()}, {"best_metric", "f1"}}, "c.json").best_metric == "f1");
}

TEST_CASE("configs: an integer above INT64_MAX is refused, not read wrapped (2^64 - 1 was read as -1 where -1 is allowed)") {
  const json j = {{"n", std::numeric_limits<std::uint64_t>::max()}, {"m", std::uint64_t{1} << 63}, {"k", 7}, {"v", {1, std::numeric_limits<std::uint64_t>::max()}}};
  ConfigObject k(j, "c");
  CHECK(error_of([&] { k.integer("n", 0, -1, 10); }) == "c.n: expected an integer in -1..10, got 18446744073709551615");
  CHECK(error_of([&] { k.integer("m", 0, std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max()); }) != "");
  CHECK(k.integer("k", 0, -1, 10) == 7);
  CHECK(error_of([&] { k.integer("k", 0, 8, 10); }) == "c.k: expected an integer in 8..10, got 7");
  CHECK(error_of([&] { k.integers("v", {}, -1, 10); }) != "");
}

TEST_CASE("configs: a run's recorded config with a model key refused since (an NCP's hidden) is read; a new run's is refused") {
  const json j = {{"data", {{"dataset", "xor"}}},
                  {"model", {{"type", "ltc_biophysical"}, {"wiring", "ncp"}, {"hidden", 100}}}};
  const tide::cli::TrainConfig fresh = tide::cli::parse_train_config(j, "c.json");
  CHECK_THROWS_WITH_AS(tide::cli::check_model_before_data(fresh), doctest::Contains("model.hidden: 100 is not the NCP's size"), tide::Error);
  const tide::cli::TrainConfig run = tide::cli::parse_train_config(j, "run/config.json", tide::cli::ConfigUse::recorded);
  CHECK(run.recorded);
  CHECK_NOTHROW(tide::cli::check_model_before_data(run));
}
