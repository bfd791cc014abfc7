// The commands that read a finished run (trainer.hpp): eval, predict, export and a flow's samples,
// with the checks that the run's files still agree (config.json against the config its checkpoint
// or best.tide records; --params files against the run's own parameters).
#include "tide/autodiff/archive.hpp"
#include "tide/core/atomic_file.hpp"
#include "tide/models/cnf.hpp"
#include "train/built_run.hpp"
#include "train/checkpoint_meta.hpp"
#include "train/trainer.hpp"
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>

namespace tide::cli {
namespace fs = std::filesystem;
using json = nlohmann::json;

std::string RunParameters::path(const std::string& run_dir) const {
  if (!file.empty()) return file;
  return run_dir + (last ? "/checkpoint.tide" : "/best.tide");
}

namespace {

// The config a run was trained with, and the file that records it: its checkpoint's metadata, or
// best.tide's (written with it since checkpoint metadata version 2); none for older best-only runs.
std::pair<json, std::string> recorded_config(const std::string& run_dir) {
  const std::string checkpoint = run_dir + "/checkpoint.tide", best = run_dir + "/best.tide";
  if (fs::exists(checkpoint)) {
    Position ignored;
    return {read_checkpoint_meta(load_archive(checkpoint).meta_json, checkpoint + " (metadata)", ignored).config, checkpoint};
  }
  if (!fs::exists(best)) return {};
  const json meta = json::parse(load_archive(best).meta_json, nullptr, false);
  if (!meta.is_object() || !meta.contains("config")) return {};
  return {meta.at("config"), best};
}

// A run's config.json, checked against the config its checkpoint was written with: an edited
// config.json rebuilds other data or another model (another seed splits the data differently),
// and the scores would be of the wrong examples, silently.
TrainConfig run_config(const std::string& run_dir) {
  const std::string path = run_dir + "/config.json";
  TrainConfig config = load_train_config(path, ConfigUse::recorded);
  const auto [trained, recorded_in] = recorded_config(run_dir);
  if (!recorded_in.empty() && trained != config.raw)
    fail("{}: differs from the config the run was trained with (recorded in {}): {}; put config.json back as it was, "
         "or train a new run with the edited config", path, recorded_in, first_difference(trained, config.raw, ""));
  return config;
}

// The parameter file `from` names, refusing the missing best.tide of a run with no finished epoch.
std::string parameters_path(const std::string& run_dir, const RunParameters& from) {
  const std::string path = from.path(run_dir);
  if (from.file.empty() && !from.last && !fs::exists(path) && fs::exists(run_dir + "/checkpoint.tide"))
    fail("{}: no best-validation parameters yet (no epoch has finished); --last scores the latest checkpoint, {}/checkpoint.tide",
         path, run_dir);
  return path;
}

// A run's data (its config's, or with data_file a csv run's data with that file as the test
// split) and model with the parameters `from` names loaded.
Built load_run(const std::string& run_dir, const TrainConfig& config, const RunParameters& from, const std::string& data_file = "") {
  warn_changed_data_files(run_dir, "the standardisation statistics, classes and splits are recomputed from it as it is now, so "
                                   "scores and predictions may differ from the trained run's");
  Built built;
  try {
    built = build(config, data_file);
  } catch (const Error& e) {  // a data path the run's config.json names, perhaps relative to where it trained
    const std::string note = relative_data_note(run_dir, config.data);
    const std::string where = note.empty() ? "" : " (" + note + ")";
    if (!data_file.empty())  // read beside the training file, for its columns, classes and statistics
      fail("{}: reading --data {} (with the training data its config.json names): {}{}", run_dir, data_file, e.what(), where);
    fail("{}: loading the run's data as its config.json says (a relative path is read from the working directory): {}{}",
         run_dir, e.what(), where);
  }
  built.model->load(parameters_path(run_dir, from));
  return built;
}

// A parameter file's model tensors under their parameter names: a tide archive's "model." keys
// with the prefix removed, or a safetensors file's names as they are.
std::vector<std::pair<std::string, Tensor>> model_tensors(const std::string& path) {
  if (models::is_safetensors(path)) return load_safetensors(path).tensors;
  std::vector<std::pair<std::string, Tensor>> out;
  for (auto& [name, t] : load_archive(path).tensors)
    if (name.starts_with("model.")) out.emplace_back(name.substr(6), std::move(t));
  if (out.empty()) fail("{}: holds no model parameters (no \"model.\" tensors)", path);
  return out;
}

// The run's own parameter file that --params files are checked against.
std::string reference_parameters(const std::string& run_dir) {
  for (const char* name : {"/checkpoint.tide", "/best.tide"})
    if (fs::exists(run_dir + name)) return run_dir + name;
  fail("{}: holds no checkpoint.tide or best.tide to check --params against", run_dir);
}

// Parameters from a file of the user's (--params) belong to this run: the names, shapes and dtypes
// of its own checkpoint's, as loading them into its model would check.
void check_run_parameters(const std::vector<std::pair<std::string, Tensor>>& got, const std::string& path,
                          const std::string& checkpoint) {
  std::map<std::string, std::string> expected;
  for (const auto& [name, t] : model_tensors(checkpoint)) expected[name] = t.str();
  for (const auto& [name, t] : got) {
    const auto it = expected.find(name);
    if (it == expected.end()) fail("{}: parameter '{}' is not one of this run's model's (its checkpoint {})", path, name, checkpoint);
    if (it->second != t.str()) fail("{}: parameter '{}' is {}; this run's model has {}", path, name, t.str(), it->second);
    expected.erase(it);
  }
  if (!expected.empty()) fail("{}: this run's parameter '{}' is missing", path, expected.begin()->first);
}

// One CSV field: quoted when it holds a delimiter, a quote or a line break.
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out(1, '"');
  for (char c : s) {
    out += c;
    if (c == '"') out += '"';  // a quote inside is doubled
  }
  out += '"';
  return out;
}

// The predictions as CSV: example, step, then per class label / predicted / p_<class>, or per
// output target_<name> / prediction_<name> (the target column's name where the data has one, else
// its index); without the targets (a file to forecast) no label or target column. Numbers to 9
// significant digits, which give an f32 back exactly (so scores recomputed from the file are tide
// eval's).
std::string predictions_csv(const models::Predictions& p, const data::Dataset& d, bool with_targets) {
  const std::vector<std::string>& names = d.class_names;
  const auto class_name = [&](std::int64_t c) { return c < static_cast<std::int64_t>(names.size()) ? names[static_cast<std::size_t>(c)] : std::to_string(c); };
  const bool named_outputs = static_cast<std::int64_t>(d.target_names.size()) == p.width;
  const auto output_name = [&](std::int64_t k) { return named_outputs ? d.target_names[static_cast<std::size_t>(k)] : std::to_string(k); };
  std::string text = "example,step";
  for (std::int64_t k = 0; k < p.width && !p.classification; ++k)
    text += fmt::format("{}{},{}", with_targets ? "," : "", with_targets ? csv_field("target_" + output_name(k)) : "",
                        csv_field("prediction_" + output_name(k)));
  if (p.classification) {
    text += with_targets ? ",label,predicted" : ",predicted";
    for (std::int64_t c = 0; c < p.width; ++c) text += fmt::format(",{}", csv_field(fmt::format("p_{}", class_name(c))));
  }
  text += "\n";
  for (std::int64_t r = 0; r < p.rows(); ++r) {
    const std::size_t at = static_cast<std::size_t>(r * p.width);
    text += fmt::format("{},{}", p.example[static_cast<std::size_t>(r)], p.step[static_cast<std::size_t>(r)]);
    if (!p.classification) {
      for (std::int64_t k = 0; k < p.width; ++k)
        text += (with_targets ? fmt::format(",{:.9g}", p.targets[at + k]) : "") + fmt::format(",{:.9g}", p.values[at + k]);
    } else {
      const auto row = p.values.begin() + static_cast<std::ptrdiff_t>(at);
      const std::int64_t predicted = std::max_element(row, row + p.width) - row;
      if (with_targets) text += fmt::format(",{}", csv_field(class_name(p.labels[static_cast<std::size_t>(r)])));
      text += fmt::format(",{}", csv_field(class_name(predicted)));
      for (std::int64_t c = 0; c < p.width; ++c) text += fmt::format(",{:.9g}", p.values[at + c]);
    }
    text += "\n";
  }
  return text;
}

}  // namespace

json write_predictions(const std::string& run_dir, const RunParameters& from, const std::string& split_name,
                       const std::string& data_file, const std::string& out) {
  const TrainConfig config = run_config(run_dir);
  const Built built = load_run(run_dir, config, from, data_file);
  const data::Examples& set = *built.data.split(data_file.empty() ? split_name : "test");
  const models::Predictions p = built.model->predict(set, config.eval_batch_size);
  if (p.rows() == 0) fail("{}: the model ({}) makes no per-example predictions to write", run_dir, built.model->name());
  const bool with_targets = data_file.empty() || built.data.test_has_targets;
  write_file_atomically(out, predictions_csv(p, built.data, with_targets));
  json summary = {{"run", run_dir}, {"parameters_from", from.path(run_dir)}, {"rows", p.rows()}, {"file", out},
                  {"split", data_file.empty() ? split_name : data_file}};
  if (!with_targets) summary["targets"] = "absent";  // new data: nothing to score against
  return summary;
}

models::ModelPtr load_run_model(const std::string& run_dir, const RunParameters& from) {
  return load_run(run_dir, run_config(run_dir), from).model;
}

// Straight from the parameter file: no data is loaded and no model built, so a run directory copied
// without its dataset exports too.
void export_parameters(const std::string& run_dir, const RunParameters& from, const std::string& out) {
  const TrainConfig config = run_config(run_dir);
  const std::string path = parameters_path(run_dir, from);
  Archive a;
  a.tensors = model_tensors(path);
  if (!from.file.empty()) check_run_parameters(a.tensors, path, reference_parameters(run_dir));
  a.meta_json = json{{"run", run_dir}, {"parameters_from", path}, {"model", config.raw.at("model")}}.dump();
  if (models::is_safetensors(out)) return save_safetensors(out, a);  // parameter names as they are, for other tools
  for (auto& [name, t] : a.tensors) name = "model." + name;
  save_archive(out, a);
}

void write_samples(const std::string& run_dir, const RunParameters& from, std::int64_t n, std::uint64_t seed, const std::string& path) {
  const models::ModelPtr model = load_run_model(run_dir, from);
  const auto* flow = dynamic_cast<const models::CnfModel*>(model.get());
  if (!flow) fail("{}: --samples needs a model that samples (a flow, type cnf); this run's model is {}", run_dir, model->name());
  Generator gen(seed);
  const Tensor x = flow->sample(n, gen);
  const std::vector<double> v = x.to_vector();
  const std::int64_t D = x.size(1);
  std::string text;
  for (std::int64_t d = 0; d < D; ++d) text += fmt::format("{}x{}", d ? "," : "", d);
  text += "\n";
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t d = 0; d < D; ++d) text += fmt::format("{}{:.9g}", d ? "," : "", v[static_cast<std::size_t>(i * D + d)]);
    text += "\n";
  }
  write_file_atomically(path, text);
}

json evaluate_run(const std::string& run_dir, const std::string& split_name, const RunParameters& from) {
  const TrainConfig config = run_config(run_dir);
  Built built = load_run(run_dir, config, from);
  const data::Dataset& d = built.data;
  const data::Examples& set = *d.split(split_name);
  const auto t0 = std::chrono::steady_clock::now();
  const models::Scores scores = built.model->evaluate(set, config.eval_batch_size);
  json out = {{"run", run_dir}, {"parameters_from", from.path(run_dir)}, {"split", split_name}};
  out.update(scores_json(scores, d.class_names));
  out["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();  // the evaluation alone, without loading
  return out;
}

}  // namespace tide::cli
