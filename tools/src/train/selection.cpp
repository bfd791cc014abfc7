// The selection metric of a `tide train` run, the class weights it trains with, and the one-class
// checks they share (selection.hpp).
#include "train/selection.hpp"
#include "tide/core/error.hpp"
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <algorithm>
#include <cmath>

namespace tide::cli {

// A split's score under `metric`; none where the split leaves it undefined (an AUC of labels of one class).
std::optional<double> score_of(const models::Scores& s, const std::string& metric) {
  if (metric == "loss") return s.loss;
  for (const auto& [name, value] : s.metrics)
    if (name == metric) return value;
  return std::nullopt;
}

// The class ids a split's labels hold (empty without class labels).
std::vector<std::size_t> classes_present(const data::Examples& split) {
  const std::vector<double> counts = split.class_counts();
  std::vector<std::size_t> present;
  for (std::size_t c = 0; c < counts.size(); ++c)
    if (counts[c] > 0) present.push_back(c);
  return present;
}

// "class 'no' only (224 predictions)": the one class a split's labels hold.
std::string single_class(const data::Examples& split, std::size_t c, const std::vector<std::string>& names) {
  return fmt::format("class '{}' only ({} predictions)", c < names.size() ? names[c] : std::to_string(c), split.class_counts()[c]);
}

const char* const two_class_hint =
    "give the validation part both classes (csv data: windows drawn at random, stride = window, or a val_path; a larger "
    "val_fraction)";

// The validation metric that picks best.tide: the config's best_metric, checked against what the
// model reports on a few validation examples, else the model's own. An AUC (the latent ODE's own
// metric too) is undefined on a validation split whose labels hold one class, and refused; the
// split's report leaves the AUCs out of a probe whose examples hold one class.
std::string selection_metric(const TrainConfig& config, const models::Model& model, const data::Examples& val, std::int64_t batch,
                             const std::vector<std::string>& class_names) {
  const std::string chosen = config.best_metric.empty() ? model.metric() : config.best_metric;
  const bool auc = chosen == "auc" || chosen == "pr_auc";
  const std::vector<std::size_t> present = classes_present(val);
  if (auc && present.size() == 1)
    fail("best_metric: '{}'{} is undefined on the validation split: its labels hold {}; {}{}", chosen,
         config.best_metric.empty() ? " (the model's own metric)" : "", single_class(val, present[0], class_names), two_class_hint,
         config.best_metric.empty() ? ", or set best_metric to one it defines (\"loss\")" : "");
  if (config.best_metric.empty()) return chosen;
  const models::Scores probe = model.evaluate(*val.slice(0, std::min<std::int64_t>(val.size(), 16)), batch);
  std::vector<std::string> known = {"loss"};
  for (const auto& [name, value] : probe.metrics) known.push_back(name);
  if (std::find(known.begin(), known.end(), chosen) != known.end()) return chosen;
  if (auc && probe.report.classes > 0 && present.size() >= 2) return chosen;  // only the probe's few examples lacked a class
  fail("best_metric: '{}' is not a metric this model reports on validation data (it reports: {})", config.best_metric,
       fmt::join(known, ", "));
}

// The class weights the config asks for: as given, or "balanced" n / (classes * n_c) from the
// training labels (scikit-learn's); empty when none. `names`: the classes' labels, for errors.
std::vector<double> class_weights(const TrainConfig& config, const data::Examples& train, const std::vector<std::string>& names) {
  if (config.class_weights.is_null()) return {};
  const std::vector<double> counts = train.class_counts();
  if (counts.empty()) fail("class_weights: the training data carries no class labels (weights are for classification)");
  const std::size_t C = counts.size();
  if (config.class_weights.is_string()) {  // "balanced"
    double n = 0;
    for (double c : counts) n += c;
    std::vector<double> w;
    for (std::size_t c = 0; c < C; ++c) {
      if (counts[c] == 0) fail("class_weights: \"balanced\" needs every class in the training data; class {} has no example",
                               c < names.size() ? fmt::format("'{}' ({})", names[c], c) : std::to_string(c));
      w.push_back(n / (static_cast<double>(C) * counts[c]));
    }
    return w;
  }
  std::vector<double> w = config.class_weights.get<std::vector<double>>();
  if (w.size() != C) fail("class_weights: {} weights given, the data has {} classes", w.size(), C);
  const double largest = *std::max_element(w.begin(), w.end());
  if (largest == 0) fail("class_weights: every weight is 0");
  // The loss is the weights' weighted mean, so a common factor changes nothing, and a power of 2
  // changes no rounding either. Weights far from 1 are brought to it so: beyond f32's range
  // (1e38, 1e-50) they reached the loss as inf or 0 (a NaN loss, blamed on the learning rate).
  if (largest > 0x1p32 || largest < 0x1p-32) {
    int exponent = 0;
    (void)std::frexp(largest, &exponent);
    for (double& v : w) v = std::ldexp(v, -exponent);
  }
  return w;
}

}  // namespace tide::cli
