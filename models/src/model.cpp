// The Model interface's shared parts (model.hpp): split scores, saving and loading, and the
// factory that builds a model family from a config for a dataset.
#include "tide/models/model.hpp"
#include "tide/autodiff/archive.hpp"
#include "tide/core/named.hpp"
#include "tide/data/config_object.hpp"
#include "tide/data/irregular.hpp"
#include "tide/data/vectors.hpp"
#include "tide/solvers/solve.hpp"
#include "tide/models/cnf.hpp"
#include "tide/models/latent_ode.hpp"
#include "tide/models/ode_classifier.hpp"
#include "tide/models/metrics.hpp"
#include "tide/models/registry.hpp"
#include "tide/models/sequence_model.hpp"
#include <fmt/format.h>
#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <map>
#include <set>

namespace tide::models {

double Scores::metric(const std::string& name) const {
  std::string known;
  for (const auto& [n, v] : metrics) {
    if (n == name) return v;
    known += (known.empty() ? "" : ", ") + n;
  }
  fail("scores: no metric '{}' (known: {})", name, known);
}

std::function<std::vector<std::pair<std::string, MetricSums>>()> backward_nfe(std::vector<std::shared_ptr<SolveStats>> stats) {
  return [stats = std::move(stats)] {
    double calls = 0;
    for (const auto& s : stats) calls += static_cast<double>(s->backward_calls);
    return std::vector<std::pair<std::string, MetricSums>>{{"nfe_backward", MetricSums{calls, 1.0}}};
  };
}

void Predictions::append(const Predictions& more, std::int64_t offset) {
  if (more.rows() == 0) return;
  if (rows() > 0 && (more.width != width || more.classification != classification))
    fail("predictions: a batch of width {} joins predictions of width {}", more.width, width);
  classification = more.classification, width = more.width;
  values.insert(values.end(), more.values.begin(), more.values.end());
  targets.insert(targets.end(), more.targets.begin(), more.targets.end());
  labels.insert(labels.end(), more.labels.begin(), more.labels.end());
  for (std::int64_t e : more.example) example.push_back(e + offset);
  step.insert(step.end(), more.step.begin(), more.step.end());
}

namespace {

// A batch's metric sums into the split's, by name in first-seen order: batches may report
// different metrics (a batch whose steps run no solver has no "nfe").
void add_metrics(std::vector<std::pair<std::string, MetricSums>>& sums, const std::vector<std::pair<std::string, MetricSums>>& batch) {
  for (const auto& entry : batch) {  // (not a structured binding: clang before 16 cannot capture one)
    const std::string& name = entry.first;
    auto it = std::find_if(sums.begin(), sums.end(), [&](const auto& s) { return s.first == name; });
    if (it == sums.end()) it = sums.insert(sums.end(), {name, MetricSums{}});
    it->second.value += entry.second.value, it->second.count += entry.second.count;
  }
}

// Classification outputs with a NaN have no class and no ranking: `caller` (evaluate, predict)
// refuses them, naming the first such row.
void check_finite_outputs(const Predictions& p, const std::string& model, const char* caller) {
  if (!p.classification) return;
  for (std::size_t k = 0; k < p.values.size(); ++k) {
    if (std::isfinite(p.values[k])) continue;
    const std::size_t row = k / static_cast<std::size_t>(p.width);
    fail("{}: the outputs of {} are NaN (example {}{}): the model has diverged", caller, model, p.example[row],
         p.step[row] >= 0 ? fmt::format(" step {}", p.step[row]) : std::string());
  }
}

void check_batch_size(std::int64_t batch_size, const char* caller) {
  if (batch_size < 1) fail("{}: batch_size must be >= 1, got {}", caller, batch_size);
}

// The report's flat metrics into the scores: a per-batch value of the same name is replaced by
// the split's (AUC is not the mean of the batches' AUCs), and a per-batch AUC the split's report
// leaves out (labels of one class) is dropped: undefined over the split, not the batches' value.
void add_report(Scores& s, const Predictions& p) {
  if (!p.classification || p.rows() == 0) return;
  s.report = classification_report(p.values, p.labels, p.width);
  const std::vector<std::pair<std::string, double>> split = report_metrics(s.report);
  const auto in_split = [&](const std::string& name) {
    return std::any_of(split.begin(), split.end(), [&](const auto& m) { return m.first == name; });
  };
  std::erase_if(s.metrics, [&](const auto& m) { return (m.first == "auc" || m.first == "pr_auc") && !in_split(m.first); });
  for (const std::pair<std::string, double>& metric : split) {
    const auto it = std::find_if(s.metrics.begin(), s.metrics.end(), [&](const auto& m) { return m.first == metric.first; });
    if (it != s.metrics.end()) it->second = metric.second;
    else s.metrics.push_back(metric);
  }
}

}  // namespace

Scores Model::evaluate(const data::Examples& split, std::int64_t batch_size) const {
  check_batch_size(batch_size, "evaluate");
  NoGrad no_grad;
  double loss_sum = 0, weight_sum = 0;
  std::vector<std::pair<std::string, MetricSums>> sums;
  Predictions predictions;
  for (std::int64_t begin = 0; begin < split.size(); begin += batch_size) {
    const data::ExamplesPtr batch = split.slice(begin, std::min(split.size(), begin + batch_size));
    const BatchLoss b = loss(*batch, Mode::eval, Training{.first_example = begin});
    const double weight = b.pooled_weight(batch->size());
    loss_sum += b.loss.item() * weight, weight_sum += weight;
    add_metrics(sums, b.metrics);
    predictions.append(b.predictions, begin);
  }
  check_finite_outputs(predictions, name(), "evaluate");
  constexpr double undefined = std::numeric_limits<double>::quiet_NaN();
  Scores s;
  s.examples = split.size();
  s.loss = weight_sum > 0 ? loss_sum / weight_sum : undefined;
  // a metric no batch defines (an AUC of batches of one class) is left out, not 0, as in training
  for (const auto& [name, m] : sums)
    if (m.count > 0) s.metrics.emplace_back(name, m.value / m.count);
  add_report(s, predictions);
  if (s.metrics.empty()) s.metrics.emplace_back(metric(), undefined);  // an empty split
  return s;
}

Predictions Model::predict(const data::Examples& split, std::int64_t batch_size) const {
  check_batch_size(batch_size, "predict");
  NoGrad no_grad;
  Predictions out;
  for (std::int64_t begin = 0; begin < split.size(); begin += batch_size) {
    const data::ExamplesPtr batch = split.slice(begin, std::min(split.size(), begin + batch_size));
    out.append(loss(*batch, Mode::eval, Training{.first_example = begin}).predictions, begin);
  }
  check_finite_outputs(out, name(), "predict");  // as evaluate: no class is drawn from NaN probabilities
  return out;
}

bool is_safetensors(const std::string& path) {
  constexpr std::string_view ending = ".safetensors";
  if (path.size() < ending.size()) return false;
  return std::equal(ending.begin(), ending.end(), path.end() - static_cast<std::ptrdiff_t>(ending.size()),
                    [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); });
}

namespace {

using json = nlohmann::json;

// Keys the first files to record a spec (2026-12-07) held, with their defaults, for variants that do
// not read them, and that specs now leave out (a latent ODE's task, encoder and generative options,
// a vector CNF's logit_alpha, an exact trace's solver noise). Absent from a model, they are not a
// difference: the key that picks the variant (task, encoder, generative, trace) is recorded by both.
bool left_out_since(const std::string& key) {
  static const std::set<std::string> keys = {"extrapolate_fraction", "ce_weight", "classifier_hidden", "encoder_hidden", "grid",
                                             "dynamics_hidden", "steer_eps", "logit_alpha", "noise"};
  return keys.count(key) > 0;
}

// Options added since the first files, with what a file lacking one implies its model did (a
// latent ODE's RNN encoder took the time to the next step before encoder_time, and summed the KL
// before kl, 2026-12-08). A model doing otherwise is a difference, named.
const json* implied_before(const std::string& key) {
  static const std::map<std::string, json> implied = {{"encoder_time", "to_next"}, {"kl", "sum"}};
  const auto it = implied.find(key);
  return it == implied.end() ? nullptr : &it->second;
}

// The first key (in key order, depth first) where a file's recorded spec and a model's differ: its
// path and both values, as the error shows them; empty when they agree.
std::string spec_difference(const json& file, const json& own, const std::string& path) {
  if (file.is_object() && own.is_object()) {
    // the file's keys, and the model's that a file lacking them implies: any other key it does
    // not record is an option added since it was written (its model had that option's default),
    // so a new option does not orphan every older file
    for (auto it = file.begin(); it != file.end(); ++it) {
      const std::string& key = it.key();
      const std::string at = path + "." + key;
      if (!own.contains(key) && left_out_since(key)) continue;
      if (!own.contains(key))
        return fmt::format("{} is {} in the file, absent in this model", at, brief(file.at(key)));
      if (std::string d = spec_difference(file.at(key), own.at(key), at); !d.empty()) return d;
    }
    for (auto it = own.begin(); it != own.end(); ++it)
      if (const json* implied = implied_before(it.key()); implied && !file.contains(it.key()) && *implied != it.value())
        return fmt::format("{}.{} is absent in the file (written before the key: its model did {}), {} in this model", path,
                           it.key(), brief(*implied), brief(it.value()));
    return "";
  }
  if (file == own) return "";
  return fmt::format("{} is {} in the file, {} in this model", path, brief(file), brief(own));
}

}  // namespace

void Model::set_spec(const nlohmann::json& spec) { spec_ = std::make_shared<const json>(spec); }

void record_model(nlohmann::json& meta, const Model& model) {
  meta["model_name"] = model.name();
  if (!model.spec()) return;
  if (model.spec()->contains("type")) meta["model_type"] = model.spec()->at("type");
  meta["model_spec"] = *model.spec();
}

void check_model_meta(const std::string& meta_json, const Model& model, const std::string& path) {
  if (!model.spec()) return;
  // (not JSON: older safetensors held the bare name); nested deeper than any spec: refused, not
  // walked (the comparison recurses)
  bool too_deep = false;
  const json meta = json::parse(
      meta_json, [&](int depth, json::parse_event_t, json&) { return !(too_deep = too_deep || depth > 64); }, false);
  if (too_deep) fail("{}: its metadata is nested deeper than 64 levels: not a file tide wrote", path);
  if (!meta.is_object() || !meta.contains("model_spec")) return;
  const std::string difference = spec_difference(meta.at("model_spec"), *model.spec(), "model");
  if (difference.empty()) return;
  fail("{}: holds the parameters of a model built from another spec than this one ({}): {}; build the model from the spec the "
       "file records (its metadata's model_spec) to load them", path, model.name(), difference);
}

void check_model_file(const std::string& path, const Model& model) {
  check_model_meta((is_safetensors(path) ? load_safetensors(path) : load_archive(path)).meta_json, model, path);
}

void Model::save(const std::string& path) const {
  Archive a;
  json meta = json::object();
  record_model(meta, *this);
  a.meta_json = meta.dump();
  if (is_safetensors(path)) {  // parameter names as they are ("readout.weight"), for other tools
    add_module(a, "", *this);
    save_safetensors(path, a);
    return;
  }
  add_module(a, "model.", *this);
  save_archive(path, a);
}

void Model::load(const std::string& path) {
  const bool safetensors = is_safetensors(path);
  const Archive a = safetensors ? load_safetensors(path) : load_archive(path);
  check_model_meta(a.meta_json, *this, path);
  load_module(a, safetensors ? "" : "model.", *this);
}

namespace {

ModelPtr build_latent_ode(const json& spec, const data::Dataset& data, Generator& gen, DType dtype, const std::string& where) {
  const data::IrregularSet& s = data::irregular_of(*data.train, where + " (type 'latent_ode', a model of irregular time series)");
  return make_latent_ode(spec, s.dims(), s.classes, gen, dtype, where);
}

ModelPtr build_cnf(const json& spec, const data::Dataset& data, Generator& gen, DType dtype, const std::string& where) {
  const data::VectorSet& v = data::vectors_of(*data.train, where + " (type 'cnf', a density model)");
  return make_cnf(spec, v.dims(), v.image, gen, dtype, where);
}

ModelPtr build_ode_classifier(const json& spec, const data::Dataset& data, Generator& gen, DType dtype, const std::string& where) {
  const data::VectorSet& v = data::vectors_of(*data.train, where + " (type 'ode_classifier', a classifier of labelled vectors)");
  if (!v.labelled()) fail("{}: type 'ode_classifier' needs labelled vectors (datasets fashion_mnist with encoding images, idx)", where);
  return make_ode_classifier(spec, v.dims(), v.classes, v.is_image(), gen, dtype, where);
}

struct Family {
  const char* kind;     // the data it takes, as model_types() groups it
  const char* summary;  // one line
  ModelPtr (*build)(const json&, const data::Dataset&, Generator&, DType, const std::string&);
};

// The model families besides the cells (which the sequence model runs): make_model builds these
// by name, and model_types() lists them after the cells.
const Named<Family> kFamilies[] = {
    {"cnf", {"density models (vector or image data)", "continuous normalising flow (FFJORD); keys in models/README.md", build_cnf}},
    {"latent_ode", {"irregular series with per-variable masks", "latent ODE (ODE-RNN or RNN encoder, generative ODE); keys in models/README.md",
                    build_latent_ode}},
    {"ode_classifier", {"classifiers of labelled vectors or images", "ODE image classifier (TayNODE's MNIST model); keys in models/README.md",
                        build_ode_classifier}},
};

// The config's "type", read once and checked against every model type (an unknown or non-string
// one is an error naming the key and listing them all, whatever the data).
std::string model_type(const json& spec, const std::string& where) {
  ConfigObject k(spec, where);
  std::vector<std::string> names;
  for (const ModelType& t : model_types()) names.push_back(t.name);
  if (!k.has("type")) fail("{}: missing key 'type' (one of {})", where, fmt::join(names, ", "));
  return k.string("type", "", names);
}

}  // namespace

const std::vector<ModelType>& model_types() {
  static const std::vector<ModelType> types = [] {
    std::vector<ModelType> out;
    for (const auto& [name, summary] : cell_types()) out.push_back({name, summary, "sequence models (a cell over time series)"});
    for (const auto& [name, family] : kFamilies) out.push_back({std::string(name), family.summary, family.kind});
    return out;
  }();
  return types;
}

ModelPtr make_model(const nlohmann::json& spec, const data::Dataset& data, Generator& gen, DType dtype, const std::string& where) {
  if (!data.train) fail("{}: the dataset has no training split", where);
  const std::string type = model_type(spec, where);
  for (const auto& [name, family] : kFamilies)
    if (name == type) return family.build(spec, data, gen, dtype, where);
  const data::SequenceSet& train = data::sequences_of(*data.train, fmt::format("{} (type '{}', a sequence model)", where, type));
  json normal;
  CellPtr cell = make_cell(spec, train.features(), gen, dtype, where, &normal);
  auto model = std::make_shared<SequenceModel>(std::move(cell), train.outputs(), gen, train.task);
  model->set_spec(normal);
  return model;
}

}  // namespace tide::models
