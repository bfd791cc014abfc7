// Split-level metrics (metrics.hpp).
#include "tide/models/metrics.hpp"
#include "tide/core/error.hpp"
#include <algorithm>
#include <cmath>
#include <numeric>

namespace tide::models {

double roc_auc(const std::vector<double>& scores, const std::vector<std::int64_t>& labels) {
  if (scores.size() != labels.size()) fail("roc_auc: {} scores for {} labels", scores.size(), labels.size());
  for (std::size_t i = 0; i < scores.size(); ++i)
    if (std::isnan(scores[i])) fail("roc_auc: score {} is NaN", i);
  std::vector<std::size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return scores[a] < scores[b]; });
  // U = sum of the positives' ranks (1-based, ties given their average rank) - P (P + 1) / 2
  double positive_ranks = 0, positives = 0;
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j < order.size() && scores[order[j]] == scores[order[i]]) ++j;
    const double rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2.0;
    for (std::size_t k = i; k < j; ++k) {
      const std::int64_t y = labels[order[k]];
      if (y != 0 && y != 1) fail("roc_auc: labels must be 0 or 1, got {}", y);
      if (y == 1) positive_ranks += rank, positives += 1;
    }
    i = j;
  }
  const double negatives = static_cast<double>(scores.size()) - positives;
  if (positives == 0 || negatives == 0) return std::nan("");
  return (positive_ranks - positives * (positives + 1) / 2.0) / (positives * negatives);
}

}  // namespace tide::models
