// The dataset registry (data/registry.hpp): every registered name reaches its loader, and an
// unknown one fails with the list of the known names (from the registry's own table). A library
// user loads "gesture" or "csv" from C++ with the same JSON as a `tide train` config.
#include "data_test_util.hpp"
#include "tide/data/person_activity.hpp"
#include "tide/data/registry.hpp"
#include <doctest/doctest.h>
#include <fmt/ranges.h>
#include <cmath>
#include <fstream>
#include <map>
#include <numeric>

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

namespace {

// `tide data mujoco`'s shape: episodes of the given lengths, one variable q0.
std::string write_episodes(const TempDir& dir, const std::string& name, const std::vector<int>& lengths) {
  const std::string path = dir.file(name);
  std::ofstream out(path);
  out << "episode,time,q0\n";
  for (std::size_t e = 0; e < lengths.size(); ++e)
    for (int i = 0; i < lengths[e]; ++i) out << e << "," << 0.1 * i << "," << std::sin(0.3 * i + static_cast<double>(e)) << "\n";
  return path;
}

}  // namespace

TEST_CASE("datasets: mujoco windows of one row have no next state: left out, and a part left without one fails at load time") {
  TempDir dir;
  // episodes of 12 rows, windows of 8 overlap: each episode is split by time, 0.1 and 0.15 of 12 rows
  // are one row each, so every val and test window has one row (was: accepted, then an empty mask in validation)
  const std::string split = write_episodes(dir, "m12.csv", std::vector<int>(20, 12));
  const std::string message = error_of([&] { load_dataset({{"dataset", "mujoco"}, {"path", split}, {"window", 8}}, 1, "data"); });
  CHECK(message.starts_with("data: '" + split + "' leaves the val part no window with a next-state target: its 20 windows hold a "
                            "single row, and a window needs at least 2 rows"));
  for (const char* fix : {"val_fraction / test_fraction", "\"window\"", "longer episodes"}) CHECK(message.find(fix) != std::string::npos);
  // the window the whole episode: each goes whole to a part
  CHECK(load_dataset({{"dataset", "mujoco"}, {"path", split}, {"window", 12}}, 1, "data").val->size() == 2);
  // episodes of one row (frames dropped) give windows without a target: the others are kept, every one with a target
  std::vector<int> lengths(30, 5);
  lengths.insert(lengths.end(), 10, 1);
  const Dataset d = load_dataset({{"dataset", "mujoco"}, {"path", write_episodes(dir, "short.csv", lengths)}, {"window", 8}}, 1, "data");
  CHECK(d.train->size() + d.val->size() + d.test->size() == 30);
  for (const ExamplesPtr& part : {d.train, d.val, d.test}) {
    const SequenceSet& s = sequences_of(*part, "part");
    s.validate();
    const std::vector<double> mask = s.mask.to_vector();
    for (std::int64_t n = 0; n < s.size(); ++n)
      CHECK(std::accumulate(mask.begin() + n * s.steps(), mask.begin() + (n + 1) * s.steps(), 0.0) == 4);
  }
  const std::string ones = write_episodes(dir, "ones.csv", std::vector<int>(20, 1));
  CHECK_ERROR_NAMES(load_dataset({{"dataset", "mujoco"}, {"path", ones}, {"window", 8}}, 1, "data"),
                    "data: '" + ones + "' leaves the train part no window with a next-state target: its 15 windows hold a single row");
}

TEST_CASE("datasets: a mujoco file saved with its row index (an unnamed first column, or a header one field short) has no index variable") {
  TempDir dir;
  std::ofstream unnamed(dir.file("unnamed.csv")), inferred(dir.file("inferred.csv"));
  unnamed << ",episode,time,q0,q1\n";
  inferred << "episode,time,q0,q1\n";
  for (int i = 0; i < 200; ++i) {  // 20 episodes of 10 rows
    const std::string row = fmt::format("{},{},{},{}\n", i / 10, 0.1 * (i % 10), std::sin(0.3 * i), std::cos(0.2 * i));
    unnamed << i << "," << row;
    inferred << i << "," << row;
  }
  unnamed.close(), inferred.close();
  for (const char* name : {"unnamed.csv", "inferred.csv"}) {
    INFO(name);
    const Dataset d = load_dataset({{"dataset", "mujoco"}, {"path", dir.file(name)}, {"window", 10}}, 1, "data");
    const SequenceSet& s = sequences_of(*d.train, "train");
    CHECK(s.features() == 2);  // q0, q1 (was 3: the row numbers were a feature and a target)
    CHECK(s.outputs() == 2);
  }
}

TEST_CASE("datasets: an empty file path names its key; a value standardised beyond f32's range names its row and feature") {
  TempDir dir;
  const std::string train = dir.file("train.csv"), val = dir.file("val.csv");
  std::ofstream(train) << "t,x,y\n0,0,1\n1,1e-30,2\n2,0,3\n3,1e-30,4\n";
  std::ofstream(val) << "t,x,y\n0,0,1\n1,1e10,2\n";
  json c = {{"dataset", "csv"}, {"path", train}, {"time_column", "t"}, {"targets", "y"}, {"task", "regression"}, {"window", 2},
            {"val_path", val}, {"test_path", train}};
  // x's std is 5e-31: 1e10 standardises to 2e40, an inf in f32 (was: read so, silently)
  CHECK_ERROR_NAMES(load_dataset(c, 1, "data"), ": window 0, step 1: feature 'x' is 2e+40 after standardising with the training "
                                                "part's mean and std, beyond the f32 range the models read");
  for (const char* key : {"path", "val_path", "test_path"}) {
    json e = c;
    e[key] = "";  // was: ": cannot open the file"
    CHECK_ERROR_NAMES(load_dataset(e, 1, "data"), fmt::format("data.{}: expected a file path, got an empty string", key));
  }
  CHECK_ERROR_NAMES(load_dataset({{"dataset", "mujoco"}, {"path", ""}}, 1, "data"), "data.path: expected a file path, got an empty string");
}

TEST_CASE("datasets: an empty part's error offers only the keys its dataset accepts (person_activity's split is fixed)") {
  TempDir dir;
  std::ofstream file(dir.file("pa.txt"));
  for (int i = 0; i < 40; ++i)  // one recording of 40 rows: one window, none left for val or test
    file << "A01," << person_activity_tags[static_cast<std::size_t>(i % 4)] << "," << 633790226051280000 + 250000 * i
         << ",27.05.2009 14:03:25:127,1.0,2.0,0.5,walking\n";
  file.close();
  const std::string message = error_of([&] { load_dataset({{"dataset", "person_activity"}, {"path", dir.file("pa.txt")}}, 1, "data"); });
  CHECK(message == "data: dataset 'person_activity' left an empty val set (1 train / 0 val / 0 test examples); give it more data");
  const std::string rows = dir.file("v.csv");
  std::ofstream(rows) << "a,b\n1,2\n3,4\n5,6\n";
  CHECK_ERROR_NAMES(load_dataset({{"dataset", "vectors"}, {"path", rows}}, 1, "data"),
                    "data: dataset 'vectors' left an empty val set (3 train / 0 val / 0 test examples); give it more data, or change "
                    "val_fraction / test_fraction");
}

TEST_CASE("datasets: several csv targets under classification name data.targets and suggest regression") {
  TempDir dir;
  const std::string path = dir.file("cls.csv");
  std::ofstream(path) << "t,x,y,z\n0,1,a,1\n1,2,b,2\n2,3,a,3\n3,4,b,4\n";
  json c = {{"dataset", "csv"}, {"path", path}, {"time_column", "t"}, {"targets", {"y", "z"}}};
  CHECK(error_of([&] { load_dataset(c, 1, "data"); }) ==
        "data.targets: classification (the default \"task\") takes exactly one target (label) column, got 2; for several targets "
        "set \"task\": \"regression\"");
  c["task"] = "classification";
  CHECK_ERROR_NAMES(load_dataset(c, 1, "data"), "data.targets: classification takes exactly one target (label) column, got 2;");
}
