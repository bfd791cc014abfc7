// The dataset registry (data/registry.hpp): every registered name reaches its loader, and an
// unknown one fails with the list of the known names (from the registry's own table). A library
// user loads "gesture" or "csv" from C++ with the same JSON as a `tide train` config.
#include "data_test_util.hpp"
#include "tide/data/registry.hpp"
#include <doctest/doctest.h>
#include <fmt/ranges.h>
#include <cmath>
#include <fstream>
#include <map>

using namespace tide;
using namespace tide::data;
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
      {"idx", {{"path", missing}, {"train_images", missing}, {"train_labels", missing}, {"test_images", missing}, {"test_labels", missing}}},
      {"traffic", {{"path", missing}}},
      {"gesture", {{"dir", missing}}},
      {"person_activity", {{"path", missing}}},
      {"mujoco", {{"path", csv}, {"window", 4}, {"stride", 2}}},
      {"csv", {{"path", csv}, {"time_column", "time"}, {"features", {"q0"}}, {"targets", {"q1"}}, {"task", "regression"}, {"window", 4}}},
      {"toy", {{"name", "moons"}, {"train", 50}, {"val", 5}, {"test", 5}}},
      {"vectors", {{"path", csv}, {"columns", {"q0", "q1"}}}},
      {"physionet", {{"dir", missing}}},
      {"periodic", {{"train", 10}, {"val", 2}, {"test", 2}, {"points", 5}}},
  };
  CHECK(spec.size() == dataset_names().size());
  for (const std::string& name : dataset_names()) {
    CAPTURE(name);
    REQUIRE(spec.count(name) == 1);
    json j = spec.at(name);
    j["dataset"] = name;
    if (j.value("path", j.value("dir", "")) == missing) {  // the loader ran, on the path given
      CHECK(error_of([&] { load_dataset(j, 1, "data"); }).find(missing) != std::string::npos);
    } else {
      const Dataset d = load_dataset(j, 1, "data");
      CHECK(d.description.starts_with(name + ": "));
      CHECK(d.train->size() > 0);
    }
  }
  CHECK(error_of([] { load_dataset({{"dataset", "nosuch"}}, 1, "data"); }) ==
        "data.dataset: expected one of " + joined(dataset_names()) + ", got \"nosuch\"");
  CHECK(error_of([] { load_dataset({{"train", 3}}, 1, "data"); }) == "data: missing key 'dataset' (one of " + joined(dataset_names()) + ")");
}


TEST_CASE("datasets: a misspelled key is named in the error of a load it may have caused, not only after a load that worked") {
  TempDir dir;
  const std::string path = dir.file("semi.csv");
  std::ofstream(path) << "x;y\n1;0\n2;1\n3;0\n4;1\n";
  json c = {{"dataset", "csv"}, {"path", path}, {"delimeter", ";"}, {"targets", "y"}, {"window", 1}};
  CHECK_ERROR_NAMES(load_dataset(c, 1, "data"), path + ": no column named 'y' (columns: 'x;y') (note: data.delimeter is no key of "
                                                "this dataset; did you mean 'delimiter'?)");
  CHECK_ERROR_NAMES(load_dataset_with_test_file(c, 1, "data", path), "(note: data.delimeter is no key of this dataset");
  // keys the loader had not read yet when it failed are no typos: no note
  c.erase("delimeter");
  c["limit_train"] = 2;
  const std::string message = error_of([&] { load_dataset(c, 1, "data"); });
  CHECK(message.find("no column named 'y'") != std::string::npos);
  CHECK(message.find("note:") == std::string::npos);
}

TEST_CASE("datasets: a file to predict may lack the target column, or hold it empty (new data to forecast)") {
  TempDir dir;
  const std::string train = dir.file("train.csv"), fresh = dir.file("new.csv"), empty = dir.file("empty.csv");
  std::ofstream(train) << "t,x,y\n0,1,a\n1,2,b\n2,3,a\n3,4,b\n4,5,a\n5,6,b\n6,7,a\n7,8,b\n8,9,a\n9,10,b\n";
  std::ofstream(fresh) << "t,x\n10,11\n11,12\n12,13\n";
  std::ofstream(empty) << "t,x,y\n10,11,\n11,12,\n12,13,\n";
  json c = {{"dataset", "csv"}, {"path", train}, {"time_column", "t"}, {"targets", "y"}, {"window", 2}, {"missing", "drop"},
            {"val_fraction", 0.2}, {"test_fraction", 0.2}};
  for (const std::string& file : {fresh, empty}) {
    CAPTURE(file);
    const Dataset d = load_dataset_with_test_file(c, 1, "data", file);  // was: "no column named 'y'", or every row dropped
    CHECK_FALSE(d.test_has_targets);
    const SequenceSet& t = sequences_of(*d.test, "test");
    CHECK(t.size() == 2);
    CHECK(t.task == Task::classification);
    CHECK(t.classes == 2);
    CHECK(t.mask.to_vector() == std::vector<double>{1, 1, 1, 0});
    CHECK(t.y.to_indices() == std::vector<std::int64_t>{0, 0, 0, 0});  // placeholders
  }
  CHECK(load_dataset_with_test_file(c, 1, "data", train).test_has_targets);
  c["missing_values"] = json::array({"NA"});  // an empty column is no target even when "" is not a missing value
  CHECK_FALSE(load_dataset_with_test_file(c, 1, "data", empty).test_has_targets);
  c.erase("missing_values");
  // regression: zeros of the targets' width; the targets' names are the columns'
  c["task"] = "regression", c["targets"] = json::array({"x"}), c["features"] = json::array({"t"});
  c.erase("time_column");
  const std::string times = dir.file("t_only.csv");
  std::ofstream(times) << "t\n10\n11\n12\n";
  const Dataset r = load_dataset_with_test_file(c, 1, "data", times);
  CHECK_FALSE(r.test_has_targets);
  CHECK(r.target_names == std::vector<std::string>{"x"});
  const SequenceSet& rt = sequences_of(*r.test, "test");
  CHECK(rt.task == Task::regression);
  CHECK(rt.y.shape() == Shape{2, 2, 1});
  CHECK(rt.y.to_vector() == std::vector<double>{0, 0, 0, 0});
}

TEST_CASE("datasets: text in a feature read in a target's place gets a feature's hint, not \"set task\"") {
  TempDir dir;
  const std::string train = dir.file("train.csv"), fresh = dir.file("new.csv");
  std::ofstream(train) << "t,x,y\n0,1,a\n1,2,b\n2,3,a\n3,4,b\n4,5,a\n5,6,b\n6,7,a\n7,8,b\n8,9,a\n9,10,b\n";
  std::ofstream(fresh) << "t,x\n10,11\n11,warm\n12,13\n";
  const json c = {{"dataset", "csv"}, {"path", train}, {"time_column", "t"}, {"targets", "y"}, {"window", 2},
                  {"val_fraction", 0.2}, {"test_fraction", 0.2}};
  // a file to predict without its targets reads its first feature in their place
  const std::string predicted = error_of([&] { load_dataset_with_test_file(c, 1, "data", fresh); });
  CHECK(predicted.find("new.csv:3: column 2 ('x'): 'warm' is not a number") != std::string::npos);
  CHECK(predicted.find("task") == std::string::npos);  // was: (a class label? set "task": "classification")
  // a mujoco file has no "task" key: its first variable stands in for the next-step targets
  const std::string rollouts = write_rollouts(dir);
  std::ofstream(rollouts, std::ios::app) << "10,0,abc,1\n";
  const std::string mujoco = error_of([&] { load_dataset({{"dataset", "mujoco"}, {"path", rollouts}, {"window", 4}}, 1, "data"); });
  CHECK(mujoco.find("column 3 ('q0'): 'abc' is not a number") != std::string::npos);
  CHECK(mujoco.find("task") == std::string::npos);
}

TEST_CASE("datasets: a gap in a file to predict says to fix the file, not the \"missing\" its run was trained with") {
  TempDir dir;
  const std::string labels = dir.file("labels.csv"), values = dir.file("values.csv"), part = dir.file("part.csv");
  std::ofstream(labels) << "t,x,y\n0,1,a\n1,2,b\n2,3,a\n3,4,b\n4,5,a\n5,6,b\n6,7,a\n7,8,b\n8,9,a\n9,10,b\n";
  std::ofstream(values) << "t,x,y\n0,1,5\n1,2,6\n2,3,5\n3,4,6\n4,5,5\n5,6,6\n6,7,5\n7,8,6\n8,9,5\n9,10,6\n";
  json c = {{"dataset", "csv"}, {"path", labels}, {"time_column", "t"}, {"targets", "y"}, {"window", 2},
            {"val_fraction", 0.2}, {"test_fraction", 0.2}};
  const std::string fill = "a file to predict holds every target or none: fill the target cells, or leave the whole column empty";
  // a label column partly empty: "drop" would leave out the rows to forecast, and the config is fixed
  std::ofstream(part) << "t,x,y\n10,11,a\n11,12,\n12,13,b\n";
  const std::string label = error_of([&] { load_dataset_with_test_file(c, 1, "data", part); });
  CHECK(label.find("part.csv:3: column 3 ('y'): missing class label '' (" + fill) != std::string::npos);
  CHECK(label.find("drop") == std::string::npos);
  c["path"] = values, c["task"] = "regression";
  std::ofstream(part) << "t,x,y\n10,11,5\n11,12,\n12,13,6\n";
  CHECK_ERROR_NAMES(load_dataset_with_test_file(c, 1, "data", part), "part.csv:3: column 3 ('y'): missing value '' (" + fill);
  c["missing"] = "fill_previous";
  std::ofstream(part) << "t,x,y\n10,11,\n11,12,5\n";
  CHECK_ERROR_NAMES(load_dataset_with_test_file(c, 1, "data", part), "(nothing to carry forward; " + fill);
  c.erase("missing");
  std::ofstream(part) << "t,x,y\n10,11,5\n11,,6\n";  // a feature's gap: the cell is what to fill
  CHECK_ERROR_NAMES(load_dataset_with_test_file(c, 1, "data", part),
                    "part.csv:3: column 2 ('x'): missing value '' (fill the cell: a file to predict is read with the config its "
                    "run was trained with");
  // the data to train on can still choose: the message names the key
  c["path"] = part;
  CHECK_ERROR_NAMES(load_dataset(c, 1, "data"), "part.csv:3: column 2 ('x'): missing value '' (set \"missing\" to fill_previous, zero or drop");
}
