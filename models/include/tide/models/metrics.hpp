// Metrics computed over a whole split rather than summed batch by batch.
#pragma once
#include <cstdint>
#include <vector>

namespace tide::models {

// ROC AUC of binary labels (0 / 1) ranked by their scores: the Mann-Whitney U statistic over
// positive x negative pairs, a tie counting half. NaN when either class is absent. Throws on
// sizes that differ or labels other than 0 / 1.
double roc_auc(const std::vector<double>& scores, const std::vector<std::int64_t>& labels);

}  // namespace tide::models
