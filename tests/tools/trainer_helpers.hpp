// Helpers of the in-process `tide train` tests (test_trainer.cpp, test_run_checks.cpp): a scratch
// directory, small runs of the xor and csv data, and edits of a run's files.
#pragma once
#include "train/checkpoint_meta.hpp"
#include "train/metrics_log.hpp"
#include "train/train_config.hpp"
#include "train/trainer.hpp"
#include "tide/tide.hpp"
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>
#include <unistd.h>

namespace trainer_test {

using namespace tide::cli;
namespace fs = std::filesystem;
using json = nlohmann::json;

// A scratch directory, removed with everything in it at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() : path(fs::temp_directory_path() / ("tide-test-trainer-" + std::to_string(::getpid()))) { fs::create_directories(path); }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

// Trains `config` into `out` (compiled, or eager), quietly; the run's metrics records.
inline std::vector<json> train(const json& config, const std::string& out, bool eager) {
  TrainOptions options;
  options.out_dir = out;
  options.quiet = true;
  options.eager = eager;
  REQUIRE(run_training(parse_train_config(config, "test config"), options) == 0);
  return read_metrics(out + "/metrics.jsonl");
}

// The lines of a text file.
inline std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// A csv run trained for one epoch on `rows` rows of t, x, y (y a class label, or a number with regression).
inline std::string train_csv_run(const fs::path& dir, const std::string& name, bool regression) {
  std::ofstream f(dir / (name + ".csv"));
  f << "t,x,level\n";
  for (int i = 0; i < 60; ++i) f << i << "," << std::sin(0.3 * i) << "," << (regression ? std::to_string(std::cos(0.3 * i)) : (i % 4 < 2 ? "low" : "high")) << "\n";
  f.close();
  json config = {{"name", name}, {"seed", 1},
                 {"data", {{"dataset", "csv"}, {"path", (dir / (name + ".csv")).string()}, {"time_column", "t"}, {"targets", "level"},
                           {"window", 6}, {"val_fraction", 0.2}, {"test_fraction", 0.2}}},
                 {"model", {{"type", "gru"}, {"hidden", 4}}}, {"epochs", 1}, {"batch_size", 8}};
  if (regression) config["data"]["task"] = "regression";
  const std::string run = (dir / name).string();
  train(config, run, false);
  return run;
}

// The message of the tide::Error f throws ("" when none).
template <class F> std::string error_message(F&& f) {
  try {
    f();
  } catch (const tide::Error& e) {
    return e.what();
  }
  return "";
}

// A run of the xor data trained for one epoch with `seed` (runs of two seeds have the same shapes).
inline std::string train_xor_run(const fs::path& dir, const std::string& name, int seed) {
  const json config = {{"name", "xor"}, {"seed", seed}, {"data", {{"dataset", "xor"}, {"encoding", "event"}, {"train", 64}, {"test", 16}}},
                       {"model", {{"type", "gru"}, {"hidden", 4}}}, {"epochs", 1}, {"batch_size", 32}};
  const std::string run = (dir / name).string();
  train(config, run, false);
  return run;
}

// `tide train --resume` of the run in `run` with its own config.json (the exit status).
inline int resume_run(const std::string& run) {
  const TrainConfig config = load_train_config(run + "/config.json", ConfigUse::recorded);
  TrainOptions options;
  options.out_dir = run, options.quiet = true, options.resume = true;
  return run_training(config, options);
}

inline std::string file_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The metadata of a run file (tide archive) with `edit` applied to it.
inline void edit_meta(const std::string& file, const std::function<void(json&)>& edit) {
  tide::Archive a = tide::load_archive(file);
  json meta = json::parse(a.meta_json);
  edit(meta);
  a.meta_json = meta.dump();
  tide::save_archive(file, a);
}

// The run's checkpoint with its metadata edited by `edit` (the archive's checksum stays valid).
inline void edit_checkpoint(const std::string& run, const std::function<void(json&)>& edit) { edit_meta(run + "/checkpoint.tide", edit); }

}  // namespace trainer_test
