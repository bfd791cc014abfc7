// Split-level metrics (metrics.hpp).
#include "tide/models/metrics.hpp"
#include "tide/core/error.hpp"
#include <algorithm>
#include <numeric>

namespace tide::models {

namespace {

// Checks one binary ranking problem and returns its positions ordered by score, lowest first.
std::vector<std::size_t> ranked(const std::vector<double>& scores, const std::vector<std::int64_t>& labels, const char* who) {
  if (scores.size() != labels.size()) fail("{}: {} scores for {} labels", who, scores.size(), labels.size());
  for (std::size_t i = 0; i < scores.size(); ++i) {
    if (std::isnan(scores[i])) fail("{}: score {} is NaN", who, i);
    if (labels[i] != 0 && labels[i] != 1) fail("{}: labels must be 0 or 1, got {} at position {}", who, labels[i], i);
  }
  std::vector<std::size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return scores[a] < scores[b]; });
  return order;
}

// One past the last entry of the run of scores tied with order[begin].
std::size_t tie_end(const std::vector<std::size_t>& order, const std::vector<double>& scores, std::size_t begin) {
  std::size_t end = begin;
  while (end < order.size() && scores[order[end]] == scores[order[begin]]) ++end;
  return end;
}

double positives_in(const std::vector<std::size_t>& order, const std::vector<std::int64_t>& labels, std::size_t begin,
                    std::size_t end) {
  double positives = 0;
  for (std::size_t k = begin; k < end; ++k) positives += static_cast<double>(labels[order[k]]);
  return positives;
}

// The mean of the values that are not NaN; NaN when all are (or there are none).
double mean_of_defined(const std::vector<double>& values) {
  double sum = 0, count = 0;
  for (double v : values)
    if (!std::isnan(v)) sum += v, count += 1;
  return count > 0 ? sum / count : std::nan("");
}

// a / b, or NaN where b is 0: the per-class scores of a class that makes the ratio 0 / 0 are
// undefined, not 0 (scikit-learn's zero_division=np.nan).
double ratio_or_nan(double a, double b) { return b > 0 ? a / b : std::nan(""); }

// An undefined score counted as 0, as scikit-learn's default zero_division does in its averages.
double or_zero(double v) { return std::isnan(v) ? 0.0 : v; }

}  // namespace

double roc_auc(const std::vector<double>& scores, const std::vector<std::int64_t>& labels) {
  const std::vector<std::size_t> order = ranked(scores, labels, "roc_auc");
  // U = sum of the positives' ranks (1-based, ties given their average rank) - P (P + 1) / 2
  double positive_ranks = 0, positives = 0;
  for (std::size_t i = 0; i < order.size();) {
    const std::size_t j = tie_end(order, scores, i);
    const double rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2.0;
    const double tied_positives = positives_in(order, labels, i, j);
    positive_ranks += rank * tied_positives, positives += tied_positives;
    i = j;
  }
  const double negatives = static_cast<double>(scores.size()) - positives;
  if (positives == 0 || negatives == 0) return std::nan("");
  return (positive_ranks - positives * (positives + 1) / 2.0) / (positives * negatives);
}

double average_precision(const std::vector<double>& scores, const std::vector<std::int64_t>& labels) {
  std::vector<std::size_t> order = ranked(scores, labels, "average_precision");
  std::reverse(order.begin(), order.end());  // thresholds from the highest score down
  const double positives = positives_in(order, labels, 0, order.size());
  if (positives == 0) return std::nan("");
  // Each distinct score admits its whole tie group: recall rises by its positives / P, and that
  // rise is weighted by the precision true positives / predicted positives at this threshold.
  double area = 0, true_positives = 0;
  for (std::size_t i = 0; i < order.size();) {
    const std::size_t j = tie_end(order, scores, i);
    const double tied_positives = positives_in(order, labels, i, j);
    true_positives += tied_positives;
    area += tied_positives * (true_positives / static_cast<double>(j));
    i = j;
  }
  return area / positives;  // divided once at the end: a perfect ranking gives exactly 1
}

namespace {

void check_report_inputs(const std::vector<double>& probabilities, const std::vector<std::int64_t>& labels,
                         std::int64_t classes) {
  if (classes < 2) fail("classification_report: needs at least 2 classes, got {}", classes);
  if (probabilities.size() != labels.size() * static_cast<std::size_t>(classes))
    fail("classification_report: {} probabilities for {} labels x {} classes (expected {})", probabilities.size(),
         labels.size(), classes, labels.size() * static_cast<std::size_t>(classes));
  for (std::size_t i = 0; i < labels.size(); ++i)
    if (labels[i] < 0 || labels[i] >= classes)
      fail("classification_report: label {} at position {} is outside 0..{}", labels[i], i, classes - 1);
  for (std::size_t k = 0; k < probabilities.size(); ++k)
    if (std::isnan(probabilities[k]))
      fail("classification_report: probability of example {} class {} is NaN", k / classes, k % classes);
}

// The argmax of one row; std::max_element keeps the first of equal maxima.
std::int64_t predicted_class(const std::vector<double>& probabilities, std::size_t row, std::int64_t classes) {
  const auto first = probabilities.begin() + static_cast<std::ptrdiff_t>(row * classes);
  return std::max_element(first, first + classes) - first;
}

void count_confusion(ClassificationReport& r, const std::vector<double>& probabilities, const std::vector<std::int64_t>& labels) {
  r.confusion.assign(r.classes, std::vector<std::int64_t>(r.classes, 0));
  for (std::size_t i = 0; i < labels.size(); ++i) ++r.confusion[labels[i]][predicted_class(probabilities, i, r.classes)];
}

// Per class c from the confusion matrix: tp = C[c][c], its row sum is the support, its column sum
// the predictions; F1 = 2 tp / (2 tp + fp + fn), which is 2 P R / (P + R) where that is defined.
void score_classes(ClassificationReport& r) {
  r.precision.assign(r.classes, 0), r.recall.assign(r.classes, 0), r.f1.assign(r.classes, 0), r.support.assign(r.classes, 0);
  for (std::int64_t c = 0; c < r.classes; ++c) {
    std::int64_t predicted = 0;
    for (std::int64_t t = 0; t < r.classes; ++t) r.support[c] += r.confusion[c][t], predicted += r.confusion[t][c];
    const double tp = static_cast<double>(r.confusion[c][c]);
    const double support = static_cast<double>(r.support[c]), predictions = static_cast<double>(predicted);
    r.precision[c] = ratio_or_nan(tp, predictions);
    r.recall[c] = ratio_or_nan(tp, support);
    r.f1[c] = ratio_or_nan(2 * tp, support + predictions);  // 2 tp + fp + fn = support + predictions
  }
}

// The macro means run over the labels present in the truth or the predictions, the undefined
// scores among them counting 0 (scikit-learn's defaults): a declared class absent from both
// leaves the means alone. Balanced accuracy is the mean recall over the labels in the truth.
void average_classes(ClassificationReport& r) {
  double correct = 0;
  std::vector<double> precision, recall;  // NaN for a class absent from truth and predictions
  for (std::int64_t c = 0; c < r.classes; ++c) {
    correct += static_cast<double>(r.confusion[c][c]);
    const bool present = !std::isnan(r.f1[c]);  // F1 is 0 / 0 exactly when support + predictions is 0
    precision.push_back(present ? or_zero(r.precision[c]) : std::nan(""));
    recall.push_back(present ? or_zero(r.recall[c]) : std::nan(""));
  }
  r.accuracy = r.examples > 0 ? correct / static_cast<double>(r.examples) : std::nan("");
  r.balanced_accuracy = mean_of_defined(r.recall);  // recall is defined exactly where there is support
  r.precision_macro = mean_of_defined(precision), r.recall_macro = mean_of_defined(recall), r.f1_macro = mean_of_defined(r.f1);
}

// Column c of the probabilities, and labels that say whether each example is of class c.
std::pair<std::vector<double>, std::vector<std::int64_t>> one_vs_rest(const std::vector<double>& probabilities,
                                                                      const std::vector<std::int64_t>& labels,
                                                                      std::int64_t classes, std::int64_t c) {
  std::pair<std::vector<double>, std::vector<std::int64_t>> out;
  for (std::size_t i = 0; i < labels.size(); ++i)
    out.first.push_back(probabilities[i * classes + c]), out.second.push_back(labels[i] == c ? 1 : 0);
  return out;
}

void rank_classes(ClassificationReport& r, const std::vector<double>& probabilities, const std::vector<std::int64_t>& labels) {
  if (r.classes == 2) {
    // both undefined on one class: average precision would give an all-positive split 1 whatever the ranking
    if (r.support[0] == 0 || r.support[1] == 0) return;
    const auto [scores, positive] = one_vs_rest(probabilities, labels, 2, 1);
    r.auc = roc_auc(scores, positive), r.pr_auc = average_precision(scores, positive);
    return;
  }
  std::vector<double> aucs, pr_aucs;
  for (std::int64_t c = 0; c < r.classes; ++c) {
    const auto [scores, positive] = one_vs_rest(probabilities, labels, r.classes, c);
    const bool both = r.support[c] > 0 && r.support[c] < r.examples;  // else neither is defined one-vs-rest
    aucs.push_back(both ? roc_auc(scores, positive) : std::nan(""));
    pr_aucs.push_back(both ? average_precision(scores, positive) : std::nan(""));
  }
  r.auc = mean_of_defined(aucs), r.pr_auc = mean_of_defined(pr_aucs);
}

}  // namespace

ClassificationReport classification_report(const std::vector<double>& probabilities, const std::vector<std::int64_t>& labels,
                                           std::int64_t classes) {
  check_report_inputs(probabilities, labels, classes);
  ClassificationReport r;
  r.classes = classes, r.examples = static_cast<std::int64_t>(labels.size());
  count_confusion(r, probabilities, labels);
  score_classes(r);
  average_classes(r);
  rank_classes(r, probabilities, labels);
  return r;
}

std::vector<std::pair<std::string, double>> report_metrics(const ClassificationReport& r) {
  const bool binary = r.classes == 2;
  std::vector<std::pair<std::string, double>> out = {
      {"accuracy", r.accuracy},
      {"balanced_accuracy", r.balanced_accuracy},
      {"precision", binary ? or_zero(r.precision.at(1)) : r.precision_macro},  // binary: undefined counts 0, as
      {"recall", binary ? or_zero(r.recall.at(1)) : r.recall_macro},           // scikit-learn's default
      {"f1", binary ? or_zero(r.f1.at(1)) : r.f1_macro},
      {"precision_macro", r.precision_macro},
      {"recall_macro", r.recall_macro},
      {"f1_macro", r.f1_macro},
  };
  if (!std::isnan(r.auc)) out.emplace_back("auc", r.auc);
  if (!std::isnan(r.pr_auc)) out.emplace_back("pr_auc", r.pr_auc);
  return out;
}

}  // namespace tide::models
