// `tide train` run in-process (train/trainer.hpp), the checks on a run's files: --out naming an input,
// files copied from another run or cut short, --resume's checks on its records and checkpoint, temporary
// files, and model files recording another spec than the config builds.
#include "trainer_helpers.hpp"
#include "train/resume_checks.hpp"
#include <limits>

using namespace trainer_test;


TEST_CASE("--out naming a command's input or a run's own file is refused before any work, naming both") {
  // (predict --data reg.csv --out reg.csv replaced the data; plot --out RUN/metrics.jsonl, predict --out RUN/config.json and
  // export --out RUN/checkpoint.tide destroyed the run, with exit status 0)
  TempDir dir;
  const std::string run = train_csv_run(dir.path, "guarded", false), data = (dir.path / "guarded.csv").string();
  const std::string fresh = (dir.path / "fresh.csv").string(), params = (dir.path / "p.safetensors").string();
  std::ofstream(fresh) << "t,x\n100,0.1\n";
  const RunParameters own, user{false, params};
  const auto refused = [&](const std::string& out, const RunParameters& from = {}, const std::string& data_file = "") {
    return error_message([&] { tide::cli::check_output_not_input(out, run_inputs(run, from, data_file)); });
  };
  CHECK(refused(fresh, own, fresh) == "--out " + fresh + " is the --data file " + fresh + ": the output would replace it; give --out another file");
  CHECK(refused(data) == "--out " + data + " is the run's data file (data.path) " + data +
                             ": the output would replace it; give --out another file");
  for (const char* name : {"config.json", "metrics.jsonl", "checkpoint.tide", "best.tide", "summary.json", "data_files.json", "curves.svg"}) {
    CAPTURE(name);
    CHECK(refused(run + "/" + name).find(" is the run's file " + run + "/" + name) != std::string::npos);
    CHECK(refused(run + "/./" + name) != "");  // another spelling of the same file
  }
  std::ofstream(params) << "parameters";
  CHECK(refused(params, user) == "--out " + params + " is the parameter file read " + params +
                                     ": the output would replace it; give --out another file");
  CHECK(refused((dir.path / "predictions.csv").string(), own, fresh).empty());
  CHECK(refused(run + "/notes.csv").empty());  // a file of the user's in the run directory
  // the best metric's curve, named by a validation metric of the log (pr_auc.svg, f1.svg) (review)
  std::ifstream log(run + "/metrics.jsonl");
  std::string first;
  std::getline(log, first);
  std::string metric;
  const json record = json::parse(first);
  for (const auto& [key, value] : record.items())
    if (key.starts_with("val_") && key != "val_loss") metric = key.substr(4);
  REQUIRE(!metric.empty());
  CHECK(refused(run + "/" + metric + ".svg").find(" is the run's file ") != std::string::npos);
  // a figure of the user's there stays the user's, written again and again (plot --out RUN/compare.svg)
  std::ofstream(run + "/compare.svg") << "<svg/>";
  CHECK(refused(run + "/compare.svg").empty());
}

TEST_CASE("a best.tide or checkpoint.tide copied from another run is refused, naming the file that disagrees") {
  // (a best.tide of another config was loaded silently whenever checkpoint.tide existed; a foreign checkpoint blamed config.json)
  TempDir dir;
  const std::string a = train_xor_run(dir.path, "a", 1), b = train_xor_run(dir.path, "b", 2);
  CHECK_NOTHROW(load_run_model(a, {}));
  const fs::path own_best = dir.path / "own_best.tide";
  fs::copy_file(a + "/best.tide", own_best);
  fs::copy_file(b + "/best.tide", a + "/best.tide", fs::copy_options::overwrite_existing);
  CHECK(error_message([&] { load_run_model(a, {}); }) ==
        a + "/best.tide: was written by a run of another config than this run's (" + a + "/config.json and " + a +
            "/checkpoint.tide agree; key 'seed' is 1 in config.json, 2 in best.tide): a file copied from another run? Put the run's "
            "own best.tide back, or train a new run");
  CHECK_NOTHROW(load_run_model(a, {true, ""}));  // the checkpoint is the run's own
  fs::copy_file(own_best, a + "/best.tide", fs::copy_options::overwrite_existing);
  fs::copy_file(b + "/checkpoint.tide", a + "/checkpoint.tide", fs::copy_options::overwrite_existing);
  CHECK(error_message([&] { load_run_model(a, {true, ""}); }).starts_with(a + "/checkpoint.tide: was written by a run of another config"));
  CHECK_NOTHROW(load_run_model(a, {}));  // best.tide, the run's own, is what it loads
  // both from the other run: config.json may be the edited one, naming the file that records the config
  fs::copy_file(b + "/best.tide", a + "/best.tide", fs::copy_options::overwrite_existing);
  CHECK(error_message([&] { load_run_model(a, {}); }).starts_with(a + "/config.json: differs from the config the run was trained with (recorded in " +
                                                                    a + "/best.tide): key 'seed' is 2 there, 1 now; put config.json back"));
}

TEST_CASE("half-written run directories: no parameters yet, config.json missing, a checkpoint cut short") {
  TempDir dir;
  const std::string run = train_xor_run(dir.path, "whole", 1);
  // only config.json (stopped before the first checkpoint), its data gone: said before the data loads (it loaded it, then
  // "load_archive '.../best.tide': cannot open")
  const std::string half = (dir.path / "half").string();
  fs::create_directories(half);
  json config = json::parse(std::ifstream(run + "/config.json"));
  config["data"] = {{"dataset", "csv"}, {"path", (dir.path / "gone.csv").string()}, {"targets", "y"}};
  std::ofstream(half + "/config.json") << config.dump();
  for (const bool last : {false, true}) {
    CAPTURE(last);
    CHECK(error_message([&] { evaluate_run(half, "test", {last, ""}); })
              .starts_with(half + (last ? "/checkpoint.tide" : "/best.tide") + ": the run has no parameters yet: it was stopped before its first checkpoint"));
  }
  // config.json missing from a run's directory (it said "no run directory that tide train wrote")
  const std::string lost = (dir.path / "lost").string();
  fs::create_directories(lost);
  fs::copy_file(run + "/checkpoint.tide", lost + "/checkpoint.tide");
  CHECK(error_message([&] { check_run_directory("tide eval", lost); }) ==
        lost + "/config.json is missing from a run directory that holds checkpoint.tide (tide eval reads the run's config from it): "
               "put the run's config.json back");
  CHECK_NOTHROW(check_run_directory("tide eval", run));
  // a checkpoint cut short stops neither eval nor export of an intact best.tide (it stopped both)
  std::ifstream in(run + "/checkpoint.tide", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  std::ofstream(run + "/checkpoint.tide", std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() / 2);
  CHECK(evaluate_run(run, "test", {}).contains("accuracy"));
  CHECK_NOTHROW(export_parameters(run, {}, (dir.path / "p.safetensors").string()));
  CHECK_NOTHROW(export_parameters(run, {false, (dir.path / "p.safetensors").string()}, (dir.path / "q.tide").string()));
  CHECK(error_message([&] { evaluate_run(run, "test", {true, ""}); }).find("checkpoint.tide") != std::string::npos);  // --last reads it
}

TEST_CASE("tide predict / eval / --resume refuse a csv run's training file whose columns moved, naming them") {
  // (reordered columns permuted the model's inputs silently: |dp| 0.66; an added one failed on a parameter's shape)
  TempDir dir;
  const std::string data = (dir.path / "cols.csv").string();
  const auto write = [&](bool swapped) {
    std::ofstream f(data);
    f << (swapped ? "t,b,a,y\n" : "t,a,b,y\n");
    for (int i = 0; i < 60; ++i) {
      const double a = std::sin(0.3 * i), b = std::cos(0.7 * i);
      f << i << "," << (swapped ? b : a) << "," << (swapped ? a : b) << "," << (i % 4 < 2 ? "low" : "high") << "\n";
    }
  };
  write(false);
  const json config = {{"name", "cols"}, {"seed", 1},
                       {"data", {{"dataset", "csv"}, {"path", data}, {"time_column", "t"}, {"targets", "y"}, {"window", 6},
                                 {"val_fraction", 0.2}, {"test_fraction", 0.2}}},
                       {"model", {{"type", "gru"}, {"hidden", 4}}}, {"epochs", 1}, {"batch_size", 8}};
  const std::string run = (dir.path / "cols").string();
  train(config, run, false);
  TrainOptions resume;
  resume.out_dir = run, resume.quiet = true, resume.resume = true;
  REQUIRE(run_training(parse_train_config(config, "test config"), resume) == 0);  // the same columns: no refusal
  const json scores = evaluate_run(run, "test", {});
  write(true);
  const std::string said = data + " (data.path): its feature columns are b, a now, the run was trained with a, b (the same columns in "
                                  "another order";
  CHECK(error_message([&] { evaluate_run(run, "test", {}); }).starts_with(said));
  CHECK(error_message([&] { write_predictions(run, {}, "test", "", (dir.path / "p.csv").string()); }).starts_with(said));
  CHECK(error_message([&] { run_training(parse_train_config(config, "test config"), resume); }).starts_with(said));
  // a run recorded before the columns were: scored as before (the size and CRC32 warn)
  json record = json::parse(std::ifstream(run + "/data_files.json"));
  record.erase("columns");
  std::ofstream(run + "/data_files.json") << record.dump();
  write(false);
  CHECK(evaluate_run(run, "test", {}).at("accuracy") == scores.at("accuracy"));
}

TEST_CASE("tide predict: an f64 run's numbers to 17 significant digits; a mujoco run's outputs named by the file's variables") {
  // (9 digits always; mujoco's were target_0, prediction_0, ...)
  TempDir dir;
  const std::string data = (dir.path / "rollouts.csv").string();
  {
    std::ofstream f(data);
    f << "episode,time,hip,knee\n";
    for (int e = 0; e < 12; ++e)
      for (int t = 0; t < 20; ++t) f << e << "," << 0.02 * t << "," << std::sin(0.1 * t + e) << "," << std::cos(0.2 * t + e) << "\n";
  }
  json config = {{"name", "mj"}, {"seed", 1}, {"data", {{"dataset", "mujoco"}, {"path", data}, {"window", 8}, {"stride", 8}}},
                 {"model", {{"type", "gru"}, {"hidden", 4}}}, {"epochs", 1}, {"batch_size", 8}};
  for (const char* dtype : {"f32", "f64"}) {
    CAPTURE(dtype);
    config["dtype"] = dtype;
    const std::string run = (dir.path / dtype).string(), out = run + ".csv";
    train(config, run, false);
    write_predictions(run, {}, "test", "", out);
    const std::vector<std::string> lines = lines_of(out);
    REQUIRE(lines.size() > 1);
    CHECK(lines[0] == "example,step,target_hip,prediction_hip,target_knee,prediction_knee");
    std::string prediction = lines[1].substr(lines[1].rfind(',') + 1);  // its significant digits, after any sign and leading zeros
    prediction = prediction.substr(0, prediction.find('e'));
    std::erase(prediction, '-'), std::erase(prediction, '.');
    prediction.erase(0, prediction.find_first_not_of('0'));
    CAPTURE(prediction);
    CHECK(prediction.size() >= (std::string(dtype) == "f64" ? 15u : 7u));
    CHECK(prediction.size() <= (std::string(dtype) == "f64" ? 17u : 9u));
  }
}


TEST_CASE("--resume checks the metrics records it keeps: a NaN metric (null) resumes; a missing or mistyped key names file:line") {
  // (each stopped --resume with "unexpected error: [json.exception...]", naming neither file nor line)
  TempDir dir;
  const std::string run = train_xor_run(dir.path, "records", 1), log = run + "/metrics.jsonl";
  const std::string metric = "val_" + json::parse(std::ifstream(run + "/summary.json")).at("metric").get<std::string>();
  const json record = json::parse(file_text(log));
  const auto resume_with = [&](const json& edited, const std::string& before = "") {
    std::ofstream(log, std::ios::trunc) << before << edited.dump() << "\n";
    int status = -1;
    const std::string error = error_message([&] { status = resume_run(run); });
    CHECK((error.empty() ? status == 0 : status == -1));
    return error;
  };
  json nan_metric = record;
  nan_metric[metric] = nullptr;  // what the run writes for a NaN
  CHECK(resume_with(nan_metric) == "");
  json no_loss = record;
  no_loss.erase("train_loss");
  CHECK(resume_with(no_loss) == log + ":1: \"train_loss\": expected a number, got no such key; --resume keeps the records before its "
                                      "checkpoint as the run wrote them (put the line back, or start the run over with --overwrite)");
  json text_epoch = record;
  text_epoch["epoch"] = "one";
  CHECK(resume_with(text_epoch, "\n").starts_with(log + ":2: \"epoch\": expected a number, got \"one\""));  // a blank line before it
  json text_metric = record;
  text_metric[metric] = "high";
  CHECK(resume_with(text_metric).starts_with(log + ":1: \"" + metric + "\": expected a number, or null for a NaN, got \"high\""));
  CHECK(resume_with(record) == "");
}

TEST_CASE("--resume refuses a checkpoint position the run cannot have reached, naming the file and the key") {
  // (best_epoch 2^64 - 1 read as -1; batch 99 of an epoch of 2 steps skipped the rest of the epoch; global_step 2^62 - 1
  // was taken and reported in summary.json)
  TempDir dir;
  const std::string run = train_xor_run(dir.path, "position", 1), checkpoint = run + "/checkpoint.tide";
  const std::string kept = (dir.path / "kept.tide").string(), source = checkpoint + " (metadata): ";
  fs::copy_file(checkpoint, kept);
  const auto refused = [&](const char* key, const json& value) {
    fs::copy_file(kept, checkpoint, fs::copy_options::overwrite_existing);
    edit_checkpoint(run, [&](json& meta) { meta[key] = value; });
    return error_message([&] { resume_run(run); });
  };
  CHECK(refused("best_epoch", std::numeric_limits<std::uint64_t>::max())
            .starts_with(source.substr(0, source.size() - 2) + ".best_epoch: expected an integer in -1.."));
  CHECK(refused("best_epoch", 2) == source + "best_epoch: expected -1 (none yet) or a finished epoch, 1..1, got 2");
  CHECK(refused("batch", 99) == source + "batch: expected 0..2 (the steps of an epoch of this run's data), got 99");
  CHECK(refused("global_step", (std::int64_t{1} << 62) - 1) ==
        source + "global_step: expected the step " + run + "/metrics.jsonl records at the end of epoch 1 (2) plus batch (0), got " +
            std::to_string((std::int64_t{1} << 62) - 1));
  CHECK(refused("records", 0) == source + "records: expected 1, one per finished epoch (epoch is 1), got 0");
  fs::copy_file(kept, checkpoint, fs::copy_options::overwrite_existing);
  CHECK(resume_run(run) == 0);
  CHECK(json::parse(std::ifstream(run + "/summary.json")).at("steps") == 2);
}

TEST_CASE("--resume of a finished run refuses a best.tide of another run, as eval does (it scored it into summary.json)") {
  TempDir dir;
  const std::string a = train_xor_run(dir.path, "a", 1), b = train_xor_run(dir.path, "b", 2);
  const std::string summary = file_text(a + "/summary.json");
  fs::copy_file(b + "/best.tide", a + "/best.tide", fs::copy_options::overwrite_existing);
  const std::string said = a + "/best.tide: was written by a run of another config than this run's (" + a + "/config.json and " + a +
                           "/checkpoint.tide agree; key 'seed' is 1 in config.json, 2 in best.tide): a file copied from another run? "
                           "Put the run's own best.tide back, or train a new run";
  CHECK(error_message([&] { resume_run(a); }) == said);
  CHECK(error_message([&] { evaluate_run(a, "test", {}); }) == said);  // eval's words
  CHECK(file_text(a + "/summary.json") == summary);
}

TEST_CASE("tide train: a config error the first step found (a regulariser on a model with no ODE part) leaves no run file") {
  // (it came after config.json, data_files.json and an empty metrics.jsonl were written: eval then took the
  // directory for a run stopped before its first checkpoint)
  TempDir dir;
  json config = {{"name", "early"}, {"seed", 1}, {"data", {{"dataset", "xor"}, {"encoding", "event"}, {"train", 64}, {"test", 16}}},
                 {"model", {{"type", "cfc"}, {"hidden", 4}}}, {"epochs", 1}, {"batch_size", 32}, {"regularisers", {{"kinetic", 0.01}}}};
  TrainOptions options;
  options.out_dir = (dir.path / "fresh").string();
  options.quiet = true;
  CHECK(error_message([&] { run_training(parse_train_config(config, "test config"), options); }).starts_with("regularisers.kinetic: "));
  CHECK_FALSE(fs::exists(options.out_dir));
  // over a finished run with --overwrite: the run is left as it was
  const std::string run = train_xor_run(dir.path, "kept", 1);
  const std::vector<std::string> before = lines_of(run + "/config.json");
  options.out_dir = run, options.overwrite = true;
  CHECK(error_message([&] { run_training(parse_train_config(config, "test config"), options); }).starts_with("regularisers.kinetic: "));
  CHECK(lines_of(run + "/config.json") == before);
  CHECK(fs::exists(run + "/summary.json"));
  CHECK(read_metrics(run + "/metrics.jsonl").size() == 1);
}

TEST_CASE("class_weights \"balanced\": a declared class with no training example is named by its label") {
  TempDir dir;
  std::ofstream levels((dir.path / "levels.csv").string());
  levels << "t,x,level\n";
  for (int i = 0; i < 40; ++i) levels << i << "," << 0.1 * i << "," << (i % 2 ? "high" : "low") << "\n";
  levels.close();
  const json config = {{"name", "weights"}, {"seed", 1},
                       {"data", {{"dataset", "csv"}, {"path", (dir.path / "levels.csv").string()}, {"time_column", "t"}, {"targets", "level"},
                                 {"window", 2}, {"classes", {"high", "low", "ultra"}}}},
                       {"model", {{"type", "gru"}, {"hidden", 4}}}, {"epochs", 1}, {"batch_size", 8}, {"class_weights", "balanced"}};
  TrainOptions options;
  options.out_dir = (dir.path / "run").string();
  options.quiet = true;
  CHECK(error_message([&] { run_training(parse_train_config(config, "test config"), options); }) ==
        "class_weights: \"balanced\" needs every class in the training data; class 'ultra' (2) has no example");
}

TEST_CASE("class_weights beyond f32's range train as their ratio says (the loss is their weighted mean)") {
  // [1e38, 1e38] gave an inf loss and [1e-50, 1e-50] (0 in f32) a NaN one, each blamed on the
  // learning rate, after the run directory was written
  TempDir dir;
  std::ofstream levels((dir.path / "levels.csv").string());
  levels << "t,x,level\n";
  for (int i = 0; i < 40; ++i) levels << i << "," << 0.1 * i << "," << (i % 3 ? "high" : "low") << "\n";
  levels.close();
  const auto train_loss = [&](const json& weights) {
    const json config = {{"name", "w"}, {"seed", 1},
                         {"data", {{"dataset", "csv"}, {"path", (dir.path / "levels.csv").string()}, {"time_column", "t"},
                                   {"targets", "level"}, {"window", 2}}},
                         {"model", {{"type", "gru"}, {"hidden", 4}}}, {"epochs", 2}, {"batch_size", 8}, {"class_weights", weights}};
    TrainOptions options;
    options.out_dir = (dir.path / "run").string();
    options.quiet = true;
    options.overwrite = true;
    REQUIRE(run_training(parse_train_config(config, "test config"), options) == 0);
    return read_metrics(options.out_dir + "/metrics.jsonl").back().at("train_loss").get<double>();
  };
  const double plain = train_loss({1.0, 3.0});
  CHECK(std::isfinite(plain));
  CHECK(train_loss({1e38, 3e38}) == doctest::Approx(plain).epsilon(1e-5));
  CHECK(train_loss({1e-50, 3e-50}) == doctest::Approx(plain).epsilon(1e-5));
}

TEST_CASE("--resume and --overwrite remove the temporary files a stopped process left in the run; a second Ctrl-C removes its own") {
  // (a checkpoint.tide.tmp-<pid> left by a second Ctrl-C survived --resume and --overwrite)
  TempDir dir;
  const json config = {{"name", "tmp"}, {"seed", 1}, {"data", {{"dataset", "xor"}, {"encoding", "event"}, {"train", 64}, {"test", 16}}},
                       {"model", {{"type", "gru"}, {"hidden", 4}}}, {"epochs", 1}, {"batch_size", 32}};
  TrainOptions options;
  options.out_dir = (dir.path / "run").string();
  options.quiet = true;
  options.max_steps = 1;
  REQUIRE(run_training(parse_train_config(config, "test config"), options) == 0);
  const std::string run = options.out_dir;
  // 99999999 is above Linux's largest pid: no process writes that file; pid 1 runs (another process's write)
  const auto touch = [&](const std::string& name) { std::ofstream(run + "/" + name) << "partial"; };
  for (const char* name : {"checkpoint.tide.tmp-99999999", "best.tide.tmp-99999999", "metrics.jsonl.tmp-1", "notes.txt.tmp-99999999"})
    touch(name);
  options.resume = true;
  REQUIRE(run_training(parse_train_config(config, "test config"), options) == 0);
  CHECK_FALSE(fs::exists(run + "/checkpoint.tide.tmp-99999999"));
  CHECK_FALSE(fs::exists(run + "/best.tide.tmp-99999999"));
  CHECK(fs::exists(run + "/metrics.jsonl.tmp-1"));     // a live process's
  CHECK(fs::exists(run + "/notes.txt.tmp-99999999"));  // not a run file: the user's
  touch("summary.json.tmp-99999999");
  options.resume = false, options.overwrite = true;
  REQUIRE(run_training(parse_train_config(config, "test config"), options) == 0);
  CHECK_FALSE(fs::exists(run + "/summary.json.tmp-99999999"));
  // the files this process writes through, which the signal handler removes on a second Ctrl-C
  const std::string own = run + "/checkpoint.tide.tmp-" + std::to_string(::getpid());
  std::ofstream(own) << "cut short";
  note_own_temporaries({run + "/checkpoint.tide"});
  remove_own_temporaries();
  CHECK_FALSE(fs::exists(own));
}

TEST_CASE("the warning for a validation split of one class says what the selecting metric then measures") {
  // (it said "undefined or the same in every epoch" of f1_macro, which averages over the classes present)
  CHECK(single_class_effect("f1", 0, 2) == "is 0 in every epoch (it scores class 1, which the split lacks; best.tide stays at epoch 1)");
  const std::string everywhere = "is highest, 1, for a model that predicts that class for every example, whatever it learned of the others";
  CHECK(single_class_effect("f1", 1, 2) == everywhere);
  CHECK(single_class_effect("recall", 0, 3) == everywhere);  // more classes: the macro mean
  CHECK(single_class_effect("f1_macro", 0, 2) == everywhere);
  CHECK(single_class_effect("auc", 1, 2).starts_with("is undefined"));
  CHECK(single_class_effect("accuracy", 0, 2).empty());
  CHECK(single_class_effect("loss", 0, 2).empty());
}


TEST_CASE("--params of a run whose model differs only in a key that keeps the parameters' shapes (cfc mode) is refused, naming it") {
  // (a run's best.tide or its export was accepted by eval of a run of another wiring_seed or cfc mode, with the same
  // parameter names and shapes, and scored there: another model)
  TempDir dir;
  json config = {{"name", "mode"}, {"seed", 1}, {"data", {{"dataset", "xor"}, {"encoding", "event"}, {"train", 64}, {"test", 16}}},
                 {"model", {{"type", "cfc"}, {"hidden", 4}}}, {"epochs", 1}, {"batch_size", 32}};
  const std::string gated = (dir.path / "gated").string(), no_gate = (dir.path / "no_gate").string();
  train(config, gated, false);
  config["model"]["mode"] = "no_gate";
  train(config, no_gate, false);
  const std::string exported = (dir.path / "gated.safetensors").string(), archive = (dir.path / "gated.tide").string();
  const std::string out = (dir.path / "out.csv").string(), again = (dir.path / "again.safetensors").string();
  export_parameters(gated, {}, exported);
  export_parameters(gated, {true, ""}, archive);
  // the export records the model's spec as Model::save does, beside the config's model section
  const json meta = json::parse(tide::load_safetensors(exported).meta_json);
  CHECK(meta.at("model_spec").at("mode") == "default");
  CHECK(meta.at("model_type") == "cfc");
  CHECK(meta.at("model") == json{{"type", "cfc"}, {"hidden", 4}});
  const std::string key = "model.mode is \"default\" in the file, \"no_gate\" in this model";
  for (const std::string& file : {gated + "/best.tide", gated + "/checkpoint.tide", exported, archive}) {
    CAPTURE(file);
    for (const std::string& error : {error_message([&] { evaluate_run(no_gate, "test", {false, file}); }),
                                     error_message([&] { write_predictions(no_gate, {false, file}, "test", "", out); }),
                                     error_message([&] { export_parameters(no_gate, {false, file}, again); })}) {
      CHECK(error.starts_with(file + ": holds the parameters of a model built from another spec than this one"));
      CHECK(error.find(key) != std::string::npos);
    }
  }
  CHECK_FALSE(fs::exists(out));
  CHECK_FALSE(fs::exists(again));
  // each run with its own files and their exports
  for (const std::string& file : {exported, archive, gated + "/best.tide"}) CHECK(evaluate_run(gated, "test", {false, file}).contains("accuracy"));
  CHECK(evaluate_run(no_gate, "test", {}).contains("accuracy"));
  CHECK(evaluate_run(no_gate, "test", {true, ""}).contains("accuracy"));
  export_parameters(no_gate, {}, again);
  CHECK(evaluate_run(no_gate, "test", {false, again}).contains("accuracy"));
  // a file recording no spec (an older run's, another tool's) loads as before
  edit_meta(archive, [](json& m) { m.erase("model_spec"), m.erase("model_type"), m.erase("model_name"); });
  CHECK(evaluate_run(no_gate, "test", {false, archive}).contains("accuracy"));
}

TEST_CASE("eval and --resume refuse the run's own best.tide or checkpoint.tide when it records another model spec than the config builds") {
  // (what a file of the same config records when the model built from it changed: it loaded and was scored, or resumed)
  TempDir dir;
  const json config = {{"name", "own"}, {"seed", 1}, {"data", {{"dataset", "xor"}, {"encoding", "event"}, {"train", 64}, {"test", 16}}},
                       {"model", {{"type", "cfc"}, {"hidden", 4}}}, {"epochs", 1}, {"batch_size", 32}};
  const std::string run = (dir.path / "own").string();
  train(config, run, false);
  const auto other_mode = [](json& m) { m.at("model_spec")["mode"] = "no_gate"; };
  const std::string key = "model.mode is \"no_gate\" in the file, \"default\" in this model";
  edit_meta(run + "/best.tide", other_mode);
  for (const std::string& error : {error_message([&] { evaluate_run(run, "test", {}); }), error_message([&] { resume_run(run); })}) {
    CHECK(error.starts_with(run + "/best.tide: holds the parameters of a model built from another spec than this one"));
    CHECK(error.find(key) != std::string::npos);
  }
  CHECK(evaluate_run(run, "test", {true, ""}).contains("accuracy"));  // the checkpoint is the model's
  edit_meta(run + "/checkpoint.tide", other_mode);
  for (const std::string& error : {error_message([&] { evaluate_run(run, "test", {true, ""}); }), error_message([&] { resume_run(run); })}) {
    CHECK(error.starts_with(run + "/checkpoint.tide: holds the parameters of a model built from another spec than this one"));
    CHECK(error.find(key) != std::string::npos);
  }
}
