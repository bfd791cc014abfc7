// What picks a run's best.tide and weights its classes: the selection metric checked against the
// model and the validation split, a split's score under it, and the class weights of the config.
#pragma once
#include "train/train_config.hpp"
#include "tide/data/examples.hpp"
#include "tide/models/model.hpp"
#include <optional>
#include <string>
#include <vector>

namespace tide::cli {

// A split's score under `metric`; none where the split leaves it undefined (an AUC of labels of one class).
std::optional<double> score_of(const models::Scores& s, const std::string& metric);
// The class ids a split's labels hold (empty without class labels).
std::vector<std::size_t> classes_present(const data::Examples& split);
// "class 'no' only (224 predictions)": the one class a split's labels hold.
std::string single_class(const data::Examples& split, std::size_t c, const std::vector<std::string>& names);
// What to do about a validation split of one class.
extern const char* const two_class_hint;
// The validation metric that picks best.tide: the config's best_metric, checked against what the
// model reports on a few validation examples, else the model's own; an AUC on a validation split
// whose labels hold one class is refused.
std::string selection_metric(const TrainConfig& config, const models::Model& model, const data::Examples& val, std::int64_t batch,
                             const std::vector<std::string>& class_names);
// The class weights the config asks for: as given, or "balanced" n / (classes * n_c) from the
// training labels (scikit-learn's); empty when none. `names`: the classes' labels, for errors.
// Given weights whose largest is beyond 2^+-32 are scaled by a power of 2 (the loss is the same).
std::vector<double> class_weights(const TrainConfig& config, const data::Examples& train, const std::vector<std::string>& names);

}  // namespace tide::cli
