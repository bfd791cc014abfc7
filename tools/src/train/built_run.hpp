// What `tide train` and the commands that read a finished run (finished_run.cpp) share: a config
// built into its data and model, scores as JSON, and where two configs differ.
#pragma once
#include "tide/data/registry.hpp"
#include "tide/models/model.hpp"
#include "train/train_config.hpp"
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace tide::cli {

struct Built {
  data::Dataset data;
  models::ModelPtr model;
};

// The config's data (with data_file, a csv run's data with that file as its test split) and model,
// compiled or eager as the config says (the two differ in float rounding, so eval, predict and
// export reproduce a run's own scores only in the mode it trained in).
Built build(const TrainConfig& config, const std::string& data_file = "");

// A split's scores: the loss, every metric, the number of examples (sequences, vectors, images)
// and, for classification, the confusion matrix and the per-class report.
nlohmann::json scores_json(const models::Scores& s, const std::vector<std::string>& class_names = {});

// Where two configs first differ: "key 'epochs' is 3 there, 6 now" (nested keys by their path;
// `there` and `here` word the two sides: "in config.json", "in best.tide").
std::string first_difference(const nlohmann::json& then, const nlohmann::json& now, const std::string& path,
                             const std::string& there = "there", const std::string& here = "now");

}  // namespace tide::cli
