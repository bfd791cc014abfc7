// Figures a model family offers beside the learning curves, written when `tide train` finishes:
// for flows on 2-D data the data's histogram, the learned density, samples and the flow's paths
// (density.svg); on 1-D data the learned density over the data's histogram; on images a grid of
// samples (samples.svg). Other models write none.
#pragma once
#include "tide/data/examples.hpp"
#include "tide/models/model.hpp"
#include <string>
#include <vector>

namespace tide::cli {

// The files written into `dir`.
std::vector<std::string> write_model_figures(const models::Model& model, const data::Dataset& data, const std::string& dir,
                                             const std::string& title);

}  // namespace tide::cli
