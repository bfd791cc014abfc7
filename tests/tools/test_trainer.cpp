// `tide train` run in-process (train/trainer.hpp): the recurrent cells' compiled steps and the
// flows' and latent ODE's compiled solves (the default) and --eager train the same curves, to
// float tolerance.
#include "trainer_helpers.hpp"
#include "../stderr_capture.hpp"
#include "tide/data/xor.hpp"
#include <fmt/format.h>
#include <cstdio>

using namespace trainer_test;
using tide_test::stderr_of;

namespace {

// A csv of `sequences` sequences of 4 rows (columns id, x, y), sequence s labelled label(s) in y,
// its x separating the classes.
void write_labelled_sequences(const fs::path& path, int sequences, const std::function<int(int)>& label) {
  std::ofstream f(path);
  f << "id,x,y\n";
  for (int s = 0; s < sequences; ++s)
    for (int t = 0; t < 4; ++t) f << s << "," << (label(s) ? 1.0 : -1.0) + 0.1 * t << "," << label(s) << "\n";
}

// A plain (not gzipped) tar of text members, which the PhysioNet reader takes as set-a.tar.gz.
void write_tar(const fs::path& path, const std::vector<std::pair<std::string, std::string>>& members) {
  std::string out;
  for (const auto& [name, text] : members) {
    std::string h(512, '\0');
    const auto put = [&](std::size_t at, const std::string& v) { std::copy(v.begin(), v.end(), h.begin() + static_cast<std::ptrdiff_t>(at)); };
    put(0, name), put(100, "0000644"), put(108, "0000000"), put(116, "0000000"), put(124, fmt::format("{:011o}", text.size()));
    put(136, "00000000000"), put(148, "        "), put(156, "0"), put(257, "ustar"), put(263, "00");
    unsigned sum = 0;
    for (const unsigned char c : h) sum += c;
    put(148, fmt::format("{:06o}", sum)), h[154] = '\0';  // the checksum over the header with its own field blank
    out += h + text + std::string((512 - text.size() % 512) % 512, '\0');
  }
  std::ofstream(path, std::ios::binary) << out << std::string(1024, '\0');
}

// 20 PhysioNet records in `dir` (set-a), every one labelled `label`: the latent ODE's classification data.
void write_physionet(const fs::path& dir, int label) {
  std::vector<std::pair<std::string, std::string>> members;
  std::string outcomes = "RecordID,SAPS-I,SOFA,Length_of_stay,Survival,In-hospital_death\n";
  for (int id = 100; id < 120; ++id) {
    members.emplace_back(fmt::format("set-a/{}.txt", id), fmt::format("Time,Parameter,Value\n00:00,RecordID,{}\n00:00,Age,54\n"
                                                                      "00:30,HR,{}\n05:00,HR,80\n07:00,Temp,{}\n", id, 40 + id % 7, 30 + id % 5));
    outcomes += fmt::format("{},1,1,1,-1,{}\n", id, label);
  }
  write_tar(dir / "set-a.tar.gz", members);
  std::ofstream(dir / "Outcomes-a.txt") << outcomes;
}

}  // namespace

TEST_CASE("tide train: compiled cell steps and --eager give the same loss curve (f32, every epoch's losses and metrics)") {
  TempDir dir;
  for (const char* cell : {"cfc", "mmrnn", "ltc", "ctrnn", "ode_rnn"}) {
    CAPTURE(cell);
    const json config = {{"name", "compiled"}, {"seed", 3},
                         {"data", {{"dataset", "xor"}, {"encoding", "event"}, {"train", 160}, {"test", 32}}},
                         {"model", {{"type", cell}, {"hidden", 8}}}, {"optimizer", {{"type", "adam"}, {"lr", 0.02}}},
                         {"epochs", 3}, {"batch_size", 32}, {"grad_clip", 1.0}};
    const std::string base = (dir.path / cell).string();
    const std::vector<json> compiled = train(config, base + "-compiled", false), eager = train(config, base + "-eager", true);
    REQUIRE(compiled.size() == 3);
    REQUIRE(eager.size() == 3);
    for (std::size_t e = 0; e < compiled.size(); ++e)
      for (const char* key : {"train_loss", "val_loss", "train_accuracy", "val_accuracy"}) {
        CAPTURE(e);
        CAPTURE(key);
        const double a = compiled[e].at(key).get<double>(), b = eager[e].at(key).get<double>();
        CHECK(std::abs(a - b) <= 1e-5 * std::max(1.0, std::abs(b)));
      }
  }
}

TEST_CASE("tide train --overwrite removes the old run's figures with its state") {
  TempDir dir;
  const std::string out = (dir.path / "over").string();
  fs::create_directories(out);
  for (const char* old : {"summary.json", "samples.svg", "curves.svg"}) std::ofstream(out + "/" + old) << "old run";
  std::ofstream(out + "/notes.txt") << "the user's";
  std::ofstream(out + "/sketch.svg") << "the user's figure";
  const json config = {{"name", "over"}, {"seed", 1}, {"data", {{"dataset", "xor"}, {"encoding", "event"}, {"train", 64}, {"test", 16}}},
                       {"model", {{"type", "gru"}, {"hidden", 4}}}, {"optimizer", {{"type", "adam"}, {"lr", 0.01}}},
                       {"epochs", 1}, {"batch_size", 32}};
  TrainOptions options;
  options.out_dir = out;
  options.quiet = true;
  options.overwrite = true;
  options.max_steps = 1;  // stops before an epoch ends: no figure is written again
  REQUIRE(run_training(parse_train_config(config, "test config"), options) == 0);
  CHECK_FALSE(fs::exists(out + "/samples.svg"));
  CHECK_FALSE(fs::exists(out + "/curves.svg"));
  CHECK_FALSE(fs::exists(out + "/summary.json"));
  CHECK(fs::exists(out + "/notes.txt"));
  CHECK(fs::exists(out + "/sketch.svg"));
}

TEST_CASE("tide train --overwrite removes the old run's curve of its best_metric (f1.svg, precision.svg)") {
  // (only the new run's metric and a fixed list were removed: an old f1.svg stayed beside the new run)
  TempDir dir;
  const std::string out = (dir.path / "over").string();
  json config = {{"name", "over"}, {"seed", 1}, {"data", {{"dataset", "xor"}, {"encoding", "event"}, {"train", 64}, {"test", 16}}},
                 {"model", {{"type", "gru"}, {"hidden", 4}}}, {"epochs", 1}, {"batch_size", 32}, {"best_metric", "f1"}};
  train(config, out, false);
  REQUIRE(fs::exists(out + "/f1.svg"));
  config.erase("best_metric");
  TrainOptions options;
  options.out_dir = out, options.quiet = true, options.overwrite = true;
  options.max_steps = 1;  // stops before an epoch ends: no figure is written again
  REQUIRE(run_training(parse_train_config(config, "test config"), options) == 0);
  CHECK_FALSE(fs::exists(out + "/f1.svg"));
  // a run stopped before its summary: config.json's best_metric names the curve; a name that leaves
  // the directory names no file of the run
  std::ofstream(out + "/config.json") << json{{"best_metric", "precision"}}.dump();
  std::ofstream(out + "/summary.json") << json{{"metric", "../kept"}}.dump();
  for (const std::string& old : {out + "/precision.svg", (dir.path / "kept.svg").string()}) std::ofstream(old) << "<svg/>";
  REQUIRE(run_training(parse_train_config(config, "test config"), options) == 0);
  CHECK_FALSE(fs::exists(out + "/precision.svg"));
  CHECK(fs::exists(dir.path / "kept.svg"));
}

TEST_CASE("eval, predict and export rebuild a run's model compiled or eager as it trained") {
  // (they always compiled: an eager run was scored by another arithmetic than the one it trained with)
  TempDir dir;
  json config = {{"name", "mode"}, {"seed", 3}, {"data", {{"dataset", "xor"}, {"encoding", "event"}, {"train", 64}, {"test", 16}}},
                 {"model", {{"type", "gru"}, {"hidden", 4}}}, {"epochs", 1}, {"batch_size", 32}};
  for (const bool compile : {true, false}) {
    CAPTURE(compile);
    config["compile"] = compile;  // as --eager records it
    const std::string run = (dir.path / (compile ? "compiled" : "eager")).string();
    train(config, run, !compile);
    const tide::models::ModelPtr model = load_run_model(run, {});
    const auto& sequence = dynamic_cast<const tide::models::SequenceModel&>(*model);
    CHECK(sequence.compiled_step().enabled() == compile);
  }
}

TEST_CASE("tide train: compiled solves (flows, latent ODE) and --eager give the same loss curve (f64)") {
  TempDir dir;
  const json cnf = {{"name", "flow"}, {"seed", 2}, {"dtype", "f64"},
                    {"data", {{"dataset", "toy"}, {"name", "moons"}, {"train", 120}, {"val", 40}, {"test", 40}}},
                    {"model", {{"type", "cnf"}, {"hidden", {8, 8}}, {"solver", {{"method", "dopri5"}, {"rtol", 1e-6}, {"atol", 1e-6}, {"trace", "exact"}}}}},
                    {"optimizer", {{"type", "adam"}, {"lr", 0.01}}}, {"epochs", 2}, {"batch_size", 40},
                    {"regularisers", {{"kinetic", 0.01}, {"taylor", {{"order", 2}, {"weight", 0.001}}}}}};
  const json latent = {{"name", "latent"}, {"seed", 3}, {"dtype", "f64"},
                       {"data", {{"dataset", "periodic"}, {"train", 20}, {"val", 10}, {"test", 10}, {"points", 10}}},
                       {"model", {{"type", "latent_ode"}, {"latent", 3}, {"encoder_state", 6}, {"dynamics_hidden", {8}},
                                  {"encoder_hidden", {8}}, {"gru_units", 8}, {"samples", 2}}},
                       {"optimizer", {{"type", "adam"}, {"lr", 0.01}}}, {"epochs", 2}, {"batch_size", 10}};
  for (const json& config : {cnf, latent}) {
    const std::string name = config.at("name").get<std::string>();
    CAPTURE(name);
    const std::string base = (dir.path / name).string();
    const std::vector<json> compiled = train(config, base + "-compiled", false), eager = train(config, base + "-eager", true);
    REQUIRE(compiled.size() == 2);
    REQUIRE(eager.size() == 2);
    for (std::size_t e = 0; e < compiled.size(); ++e)
      for (const char* key : {"train_loss", "val_loss"}) {
        CAPTURE(e);
        CAPTURE(key);
        const double a = compiled[e].at(key).get<double>(), b = eager[e].at(key).get<double>();
        CHECK(std::abs(a - b) <= 1e-8 * std::max(1.0, std::abs(b)));
      }
  }
}

TEST_CASE("best_metric: the latent ODE's bounds are higher-is-better (elbo picked its worst epoch)") {
  tide::data::SequenceSet all = tide::data::xor_bitstream(20, 4, tide::data::XorEncoding::dense);
  tide::data::Dataset d;
  d.train = d.val = d.test = std::make_shared<tide::data::SequenceExamples>(all);
  tide::Generator gen(1);
  const auto m = tide::models::make_model(json{{"type", "gru"}, {"hidden", 4}}, d, gen, tide::DType::f64, "model");
  for (const char* higher : {"elbo", "iwae", "accuracy", "auc", "f1"}) CHECK(higher_is_better(higher, *m));
  for (const char* lower : {"loss", "mse", "nll", "kl", "nfe", "bits_per_dim"}) CHECK(!higher_is_better(lower, *m));
}

TEST_CASE("tide train: train_auc is left out of an epoch whose batches never hold both classes (it was written as 0)") {
  TempDir dir;
  json config = {{"name", "auc"}, {"seed", 1}, {"data", {{"dataset", "xor"}, {"train", 40}, {"test", 20}}},
                 {"model", {{"type", "gru"}, {"hidden", 4}}}, {"epochs", 1}, {"batch_size", 1}};
  const std::vector<json> single = train(config, (dir.path / "single").string(), false);
  REQUIRE(single.size() == 1);
  CHECK(single[0].contains("train_accuracy"));
  CHECK_FALSE(single[0].contains("train_auc"));  // one example per batch: no batch ranks a pair
  config["batch_size"] = 36;
  const std::vector<json> whole = train(config, (dir.path / "whole").string(), false);
  REQUIRE(whole.size() == 1);
  REQUIRE(whole[0].contains("train_auc"));
  CHECK(whole[0].at("train_auc").get<double>() > 0);
}

TEST_CASE("tide train: summary.json's files name nfe.svg when the run writes it") {
  TempDir dir;
  for (const char* cell : {"ltc", "gru"}) {
    CAPTURE(cell);
    const json config = {{"name", "files"}, {"seed", 1}, {"data", {{"dataset", "xor"}, {"train", 32}, {"test", 16}}},
                         {"model", {{"type", cell}, {"hidden", 4}}}, {"epochs", 1}, {"batch_size", 16}};
    const std::string out = (dir.path / cell).string();
    train(config, out, false);
    std::ifstream in(out + "/summary.json");
    const json files = json::parse(in).at("files");
    const bool solver = std::string(cell) == "ltc";  // a cell with an ODE part reports nfe
    CHECK(fs::exists(out + "/nfe.svg") == solver);
    CHECK(files.contains("nfe_curve") == solver);
    if (solver) CHECK(files.at("nfe_curve") == out + "/nfe.svg");
  }
}

TEST_CASE("best_metric auc: judged on the whole validation split, whose labels must hold both classes") {
  TempDir dir;
  // sequences of 4 rows, one label each; the validation file's first 17 are class 0, so the
  // 16-example probe held one class and auc was refused as "not a metric this model reports"
  write_labelled_sequences(dir.path / "train.csv", 40, [](int s) { return s % 2; });
  write_labelled_sequences(dir.path / "val.csv", 20, [](int s) { return s >= 17 ? 1 : 0; });
  write_labelled_sequences(dir.path / "val_one_class.csv", 20, [](int) { return 0; });
  json config = {{"name", "auc"}, {"seed", 1}, {"best_metric", "auc"},
                 {"data", {{"dataset", "csv"}, {"path", (dir.path / "train.csv").string()}, {"val_path", (dir.path / "val.csv").string()},
                           {"id_column", "id"}, {"targets", "y"}, {"window", 4}, {"per_step", false}}},
                 {"model", {{"type", "gru"}, {"hidden", 4}}}, {"epochs", 1}, {"batch_size", 8}};
  const std::vector<json> records = train(config, (dir.path / "both").string(), false);
  REQUIRE(records.size() == 1);
  CHECK(records[0].contains("val_auc"));
  config["data"]["val_path"] = (dir.path / "val_one_class.csv").string();
  TrainOptions options;
  options.out_dir = (dir.path / "one").string();
  options.quiet = true;
  CHECK_THROWS_WITH_AS(run_training(parse_train_config(config, "test config"), options),
                       "best_metric: 'auc' is undefined on the validation split: its labels hold class '0' only (20 predictions); give "
                       "the validation part both classes (csv data: windows drawn at random, stride = window, or a val_path; a larger "
                       "val_fraction)",
                       tide::Error);
}


TEST_CASE("best_metric pr_auc: a validation split of class 1 only is refused, as auc is") {
  // (average precision of an all-positive split is 1 whatever the ranking: every epoch scored 1)
  TempDir dir;
  write_labelled_sequences(dir.path / "train.csv", 40, [](int s) { return s % 2; });
  write_labelled_sequences(dir.path / "val_positive.csv", 20, [](int) { return 1; });
  const json config = {{"name", "pr"}, {"seed", 1}, {"best_metric", "pr_auc"},
                       {"data", {{"dataset", "csv"}, {"path", (dir.path / "train.csv").string()},
                                 {"val_path", (dir.path / "val_positive.csv").string()}, {"id_column", "id"}, {"targets", "y"},
                                 {"window", 4}, {"per_step", false}}},
                       {"model", {{"type", "gru"}, {"hidden", 4}}}, {"epochs", 1}, {"batch_size", 8}};
  TrainOptions options;
  options.out_dir = (dir.path / "one").string();
  options.quiet = true;
  CHECK_THROWS_WITH_AS(run_training(parse_train_config(config, "test config"), options),
                       doctest::Contains("best_metric: 'pr_auc' is undefined on the validation split: its labels hold class '1' only "
                                         "(20 predictions)"),
                       tide::Error);
}

TEST_CASE("best_metric auc on a test split of one class: the run finishes with test auc null (it failed at the final score)") {
  // and --resume, which scores a finished run again, failed the same way every time
  TempDir dir;
  write_labelled_sequences(dir.path / "train.csv", 40, [](int s) { return s % 2; });
  write_labelled_sequences(dir.path / "val.csv", 20, [](int s) { return s % 2; });
  write_labelled_sequences(dir.path / "test_one_class.csv", 12, [](int) { return 1; });
  const json config = {{"name", "one"}, {"seed", 1}, {"best_metric", "auc"},
                       {"data", {{"dataset", "csv"}, {"path", (dir.path / "train.csv").string()}, {"val_path", (dir.path / "val.csv").string()},
                                 {"test_path", (dir.path / "test_one_class.csv").string()}, {"id_column", "id"}, {"targets", "y"},
                                 {"window", 4}, {"per_step", false}}},
                       {"model", {{"type", "gru"}, {"hidden", 4}}}, {"epochs", 2}, {"batch_size", 8}};
  const std::string run = (dir.path / "run").string();
  const std::string warning = "warning: auc, which picks best.tide, is undefined on the test split: its labels hold class '1' only (12 "
                              "predictions); summary.json's test auc is null";
  CHECK(stderr_of([&] { train(config, run, false); }).find(warning) != std::string::npos);
  const auto summary = [&] { return json::parse(file_text(run + "/summary.json")); };
  CHECK(summary().at("test").at("auc").is_null());
  CHECK(summary().at("test").at("accuracy").is_number());
  CHECK(summary().at("val").at("auc").is_number());
  CHECK(summary().at("best_val").is_number());
  CHECK(file_text(run + "/auc.svg").find("test ") == std::string::npos);  // no test mark on the curve
  fs::remove(run + "/summary.json");
  CHECK(stderr_of([&] { CHECK(resume_run(run) == 0); }).find(warning) != std::string::npos);
  CHECK(summary().at("test").at("auc").is_null());
}

TEST_CASE("the latent ODE on validation labels of one class: its own auc is refused as best_metric auc is; other metrics have no auc") {
  // the split's auc was 0.0 (the batches' undefined AUCs counted as 0), logged and selected on
  TempDir dir;
  write_physionet(dir.path, 0);
  json config = {{"name", "latent"}, {"seed", 7}, {"data", {{"dataset", "physionet"}, {"dir", dir.path.string()}, {"sets", {"a"}}}},
                 {"model", {{"type", "latent_ode"}, {"task", "classification"}, {"latent", 2}, {"encoder_state", 4}, {"gru_units", 4},
                            {"dynamics_hidden", {4}}, {"encoder_hidden", {4}}, {"solver", {{"method", "rk4"}, {"unfolds", 2}}}}},
                 {"epochs", 1}, {"batch_size", 7}};
  TrainOptions options;
  options.out_dir = (dir.path / "own").string();
  options.quiet = true;
  CHECK_THROWS_WITH_AS(run_training(parse_train_config(config, "test config"), options),
                       "best_metric: 'auc' (the model's own metric) is undefined on the validation split: its labels hold class '0' only "
                       "(2 predictions); give the validation part both classes (csv data: windows drawn at random, stride = window, or a "
                       "val_path; a larger val_fraction), or set best_metric to one it defines (\"loss\")",
                       tide::Error);
  config["best_metric"] = "loss";
  const std::string run = (dir.path / "loss").string();
  const std::vector<json> records = train(config, run, false);
  REQUIRE(records.size() == 1);
  CHECK_FALSE(records[0].contains("val_auc"));
  CHECK_FALSE(records[0].contains("train_auc"));
  CHECK(records[0].contains("val_accuracy"));
  const json summary = json::parse(file_text(run + "/summary.json"));
  CHECK_FALSE(summary.at("val").contains("auc"));
  CHECK_FALSE(summary.at("test").contains("auc"));
  CHECK(summary.at("best_epoch") == 1);
}

TEST_CASE("tide predict --data: a file without the target column is predicted, without label or target columns") {
  TempDir dir;
  const std::string run = train_csv_run(dir.path, "classes", false);
  const std::string fresh = (dir.path / "fresh.csv").string();
  std::ofstream(fresh) << "t,x\n100,0.1\n101,0.2\n102,0.3\n";
  const json summary = write_predictions(run, {}, "test", fresh, (dir.path / "p.csv").string());  // was "no column named 'level'"
  CHECK(summary.at("rows") == 3);
  CHECK(summary.at("targets") == "absent");
  const std::vector<std::string> lines = lines_of((dir.path / "p.csv").string());
  REQUIRE(lines.size() == 4);
  CHECK(lines[0] == "example,step,predicted,p_high,p_low,time");  // the time: the row's in the file, to join back by
  CHECK(lines[3].ends_with(",102"));
  CHECK(lines[1].starts_with("0,0,"));
  // with the targets: the label column as before
  write_predictions(run, {}, "test", "", (dir.path / "q.csv").string());
  CHECK(lines_of((dir.path / "q.csv").string())[0] == "example,step,label,predicted,p_high,p_low");
}

TEST_CASE("tide predict: regression columns are named by the target column (they were target_0, prediction_0)") {
  TempDir dir;
  const std::string run = train_csv_run(dir.path, "levels", true);
  write_predictions(run, {}, "test", "", (dir.path / "p.csv").string());
  CHECK(lines_of((dir.path / "p.csv").string())[0] == "example,step,target_level,prediction_level");
  const std::string fresh = (dir.path / "fresh.csv").string();
  std::ofstream(fresh) << "t,x\n100,0.1\n101,0.2\n";
  write_predictions(run, {}, "test", fresh, (dir.path / "f.csv").string());
  const std::vector<std::string> lines = lines_of((dir.path / "f.csv").string());
  REQUIRE(lines.size() == 3);
  CHECK(lines[0] == "example,step,prediction_level,time");
}

TEST_CASE("tide train records its data files, so that eval / predict / --resume can tell an edited one") {
  TempDir dir;
  const std::string run = train_csv_run(dir.path, "recorded", false);
  REQUIRE(fs::exists(run + "/data_files.json"));  // there was no record: an edited file changed predictions silently
  CHECK(changed_data_files(run, "recomputed").empty());
  std::ofstream((dir.path / "recorded.csv").string(), std::ios::app) << "60,0.5,low\n";
  const std::vector<std::string> changed = changed_data_files(run, "recomputed");
  REQUIRE(changed.size() == 1);
  CHECK(changed[0].find("recorded.csv (data.path) has changed since the run was trained") != std::string::npos);
}

TEST_CASE("tide train: a model's type or a cell's key in error is refused before the data loads") {
  TempDir dir;
  // the data path does not exist: the model's error comes first (it came after the data loaded)
  const json data = {{"dataset", "csv"}, {"path", (dir.path / "no_such.csv").string()}, {"targets", "y"}};
  TrainOptions options;
  options.out_dir = (dir.path / "run").string();
  options.quiet = true;
  const auto error_of = [&](const json& model) {
    try {
      run_training(parse_train_config(json{{"name", "early"}, {"data", data}, {"model", model}}, "test config"), options);
    } catch (const tide::Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK(error_of({{"type", "cfcc"}, {"hidden", 8}}).starts_with("model.type: expected one of ltc, "));
  CHECK(error_of({{"type", "cfc"}, {"hidden", "8"}}) == "model.hidden: expected an integer in 1..65536, got \"8\"");
  CHECK(error_of({{"type", "cfc"}, {"hiden", 8}}).starts_with("model.hiden: "));
  CHECK(error_of({{"type", "cfc"}, {"hidden", 8}}).find("no_such.csv") != std::string::npos);  // a good model: the data's error
  CHECK(error_of({{"type", "cnf"}}).find("no_such.csv") != std::string::npos);  // a flow's keys wait for the data
  CHECK_FALSE(fs::exists(options.out_dir));
}
