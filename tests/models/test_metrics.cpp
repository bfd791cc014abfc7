// Split-level metrics (metrics.hpp) against values worked out by hand or taken from
// scikit-learn's documented examples, whose definitions they follow.
#include "tide/models/metrics.hpp"
#include "tide/models/sequence_model.hpp"
#include "tide/core/error.hpp"
#include <doctest/doctest.h>
#include <cmath>

using namespace tide;
using namespace tide::models;

namespace {

// Rows whose argmax is the given class: 0.6 on it, the rest shared out evenly.
std::vector<double> rows_predicting(const std::vector<std::int64_t>& predicted, std::int64_t classes) {
  std::vector<double> p;
  for (std::int64_t c : predicted)
    for (std::int64_t k = 0; k < classes; ++k) p.push_back(k == c ? 0.6 : 0.4 / static_cast<double>(classes - 1));
  return p;
}

// Rows [1 - p, p] of a binary classifier from class 1's probabilities.
std::vector<double> binary_rows(const std::vector<double>& p1) {
  std::vector<double> p;
  for (double v : p1) p.push_back(1 - v), p.push_back(v);
  return p;
}

double metric(const std::vector<std::pair<std::string, double>>& metrics, const std::string& name) {
  for (const auto& [n, v] : metrics)
    if (n == name) return v;
  FAIL("no metric " << name);
  return 0;
}

bool has_metric(const std::vector<std::pair<std::string, double>>& metrics, const std::string& name) {
  for (const auto& m : metrics)
    if (m.first == name) return true;
  return false;
}

}  // namespace

TEST_CASE("average_precision and roc_auc match scikit-learn's documented example") {
  // average_precision_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) = 0.8333; roc_auc_score = 0.75
  CHECK(average_precision({0.1, 0.4, 0.35, 0.8}, {0, 0, 1, 1}) == doctest::Approx(5.0 / 6));
  CHECK(roc_auc({0.1, 0.4, 0.35, 0.8}, {0, 0, 1, 1}) == doctest::Approx(0.75));
}

TEST_CASE("average_precision: tied scores enter as one threshold") {
  // 0.9 (neg); {0.5 pos, 0.5 neg}: R 0 -> 1/2 at P 1/3; 0.1 (pos): R -> 1 at P 2/4
  CHECK(average_precision({0.9, 0.5, 0.5, 0.1}, {0, 1, 0, 1}) == doctest::Approx(0.5 / 3 + 0.5 * 0.5));
  CHECK(average_precision({0.5, 0.5, 0.5, 0.2}, {1, 0, 1, 0}) == doctest::Approx(2.0 / 3));
  CHECK(average_precision({0.3, 0.3, 0.3, 0.3}, {1, 0, 0, 0}) == doctest::Approx(0.25));  // all tied: the prevalence
  CHECK(average_precision({0.2, 0.9}, {1, 1}) == doctest::Approx(1.0));
  CHECK(std::isnan(average_precision({0.2, 0.9}, {0, 0})));
  CHECK(std::isnan(average_precision({}, {})));
}

TEST_CASE("average_precision rejects what roc_auc rejects") {
  CHECK_THROWS_WITH_AS(average_precision({0.1, 0.2}, {1}), doctest::Contains("average_precision: 2 scores for 1 labels"), Error);
  CHECK_THROWS_WITH_AS(average_precision({0.1, 0.2}, {0, 2}), doctest::Contains("labels must be 0 or 1, got 2 at position 1"), Error);
  CHECK_THROWS_WITH_AS(average_precision({0.1, NAN}, {0, 1}), doctest::Contains("score 1 is NaN"), Error);
  CHECK_THROWS_WITH_AS(roc_auc({0.1, 0.2}, {-1, 0}), doctest::Contains("roc_auc: labels must be 0 or 1, got -1 at position 0"), Error);
}

TEST_CASE("classification_report matches scikit-learn's three-class example") {
  // y_true [0, 1, 2, 0, 1, 2], y_pred [0, 2, 1, 0, 0, 1]: F1 per class [0.8, 0, 0], macro
  // (P, R, F1) = (0.222, 0.333, 0.267), accuracy 1/3
  const ClassificationReport r = classification_report(rows_predicting({0, 2, 1, 0, 0, 1}, 3), {0, 1, 2, 0, 1, 2}, 3);
  CHECK(r.classes == 3);
  CHECK(r.examples == 6);
  CHECK(r.confusion == std::vector<std::vector<std::int64_t>>{{2, 0, 0}, {1, 0, 1}, {0, 2, 0}});
  CHECK(r.support == std::vector<std::int64_t>{2, 2, 2});
  CHECK(r.precision[0] == doctest::Approx(2.0 / 3));
  CHECK(r.precision[1] == 0.0);
  CHECK(r.precision[2] == 0.0);
  CHECK(r.recall == std::vector<double>{1.0, 0.0, 0.0});
  CHECK(r.f1[0] == doctest::Approx(0.8));
  CHECK(r.f1[1] == 0.0);
  CHECK(r.f1[2] == 0.0);
  CHECK(r.f1_macro == doctest::Approx(0.8 / 3));
  CHECK(r.precision_macro == doctest::Approx(2.0 / 9));
  CHECK(r.recall_macro == doctest::Approx(1.0 / 3));
  CHECK(r.accuracy == doctest::Approx(1.0 / 3));
  CHECK(r.balanced_accuracy == doctest::Approx(1.0 / 3));
}

TEST_CASE("classification_report: binary precision, recall and F1 of class 1 on imbalanced labels") {
  // 7 negatives, 3 positives. Predicted 1 (p > 0.5): negatives 0.7, 0.9 and positives 0.8, 0.6,
  // so tp 2, fp 2, fn 1, tn 5.
  const std::vector<double> p1 = {0.1, 0.2, 0.3, 0.35, 0.4, 0.7, 0.9, 0.8, 0.6, 0.45};
  const std::vector<std::int64_t> labels = {0, 0, 0, 0, 0, 0, 0, 1, 1, 1};
  const ClassificationReport r = classification_report(binary_rows(p1), labels, 2);
  CHECK(r.confusion == std::vector<std::vector<std::int64_t>>{{5, 2}, {1, 2}});
  CHECK(r.support == std::vector<std::int64_t>{7, 3});
  CHECK(r.precision[1] == doctest::Approx(0.5));        // 2 / (2 + 2)
  CHECK(r.recall[1] == doctest::Approx(2.0 / 3));       // 2 / (2 + 1)
  CHECK(r.f1[1] == doctest::Approx(4.0 / 7));           // 2 tp / (2 tp + fp + fn)
  CHECK(r.precision[0] == doctest::Approx(5.0 / 6));    // 5 / (5 + 1)
  CHECK(r.recall[0] == doctest::Approx(5.0 / 7));
  CHECK(r.f1[0] == doctest::Approx(10.0 / 13));
  CHECK(r.accuracy == doctest::Approx(0.7));
  CHECK(r.balanced_accuracy == doctest::Approx((5.0 / 7 + 2.0 / 3) / 2));
  // AUC: the positives 0.8, 0.6, 0.45 outrank 6, 5 and 5 of the 7 negatives.
  CHECK(r.auc == doctest::Approx(16.0 / 21));
  // AP, highest first: 0.9 n; 0.8 p (P 1/2); 0.7 n; 0.6 p (P 2/4); 0.45 p (P 3/5); each R step 1/3.
  CHECK(r.pr_auc == doctest::Approx((0.5 + 0.5 + 0.6) / 3));
}

TEST_CASE("report_metrics: binary precision / recall / f1 are class 1's; auc and pr_auc only when defined") {
  const std::vector<double> p1 = {0.1, 0.2, 0.3, 0.35, 0.4, 0.7, 0.9, 0.8, 0.6, 0.45};
  const auto m = report_metrics(classification_report(binary_rows(p1), {0, 0, 0, 0, 0, 0, 0, 1, 1, 1}, 2));
  CHECK(metric(m, "accuracy") == doctest::Approx(0.7));
  CHECK(metric(m, "balanced_accuracy") == doctest::Approx(29.0 / 42));
  CHECK(metric(m, "precision") == doctest::Approx(0.5));
  CHECK(metric(m, "recall") == doctest::Approx(2.0 / 3));
  CHECK(metric(m, "f1") == doctest::Approx(4.0 / 7));
  CHECK(metric(m, "precision_macro") == doctest::Approx(2.0 / 3));
  CHECK(metric(m, "recall_macro") == doctest::Approx(29.0 / 42));
  CHECK(metric(m, "f1_macro") == doctest::Approx((10.0 / 13 + 4.0 / 7) / 2));
  CHECK(metric(m, "auc") == doctest::Approx(16.0 / 21));
  CHECK(metric(m, "pr_auc") == doctest::Approx(8.0 / 15));

  const auto one_class = report_metrics(classification_report(binary_rows({0.2, 0.7}), {0, 0}, 2));
  CHECK(!has_metric(one_class, "auc"));
  CHECK(!has_metric(one_class, "pr_auc"));
  CHECK(metric(one_class, "precision") == 0.0);  // one prediction of 1, none right
}

TEST_CASE("classification_report: binary pr_auc is undefined on labels of one class, as auc is") {
  // (an all-positive split gave pr_auc 1 whatever the ranking, and best_metric pr_auc picked epochs by it)
  const std::vector<double> p1 = {0.1, 0.8, 0.3, 0.6};
  const ClassificationReport positives = classification_report(binary_rows(p1), {1, 1, 1, 1}, 2);
  CHECK(std::isnan(positives.pr_auc));
  CHECK(std::isnan(positives.auc));
  CHECK(!has_metric(report_metrics(positives), "pr_auc"));
  CHECK(std::isnan(classification_report(binary_rows(p1), {0, 0, 0, 0}, 2).pr_auc));
  // both classes: average precision as before; highest first 0.8 p (P 1), 0.6 n, 0.3 p (P 2/3)
  const ClassificationReport both = classification_report(binary_rows(p1), {0, 1, 1, 0}, 2);
  CHECK(both.pr_auc == doctest::Approx((1 + 2.0 / 3) / 2));
  CHECK(metric(report_metrics(both), "pr_auc") == doctest::Approx((1 + 2.0 / 3) / 2));
}

TEST_CASE("report_metrics: with more classes precision / recall / f1 are the macro means") {
  const auto m = report_metrics(classification_report(rows_predicting({0, 2, 1, 0, 0, 1}, 3), {0, 1, 2, 0, 1, 2}, 3));
  CHECK(metric(m, "precision") == doctest::Approx(2.0 / 9));
  CHECK(metric(m, "recall") == doctest::Approx(1.0 / 3));
  CHECK(metric(m, "f1") == doctest::Approx(0.8 / 3));
  CHECK(metric(m, "f1") == metric(m, "f1_macro"));
}

TEST_CASE("classification_report: one-vs-rest AUC and AP are macro means; argmax ties go to the first class") {
  const std::vector<double> p = {0.5, 0.2, 0.3,   // label 0
                                 0.6, 0.3, 0.1,   // label 1, predicted 0
                                 0.2, 0.2, 0.6,   // label 2
                                 0.4, 0.4, 0.2};  // label 2, a tie predicted 0
  const ClassificationReport r = classification_report(p, {0, 1, 2, 2}, 3);
  CHECK(r.confusion == std::vector<std::vector<std::int64_t>>{{1, 0, 0}, {1, 0, 0}, {1, 0, 1}});
  // class 0: 0.5 outranks 0.2, 0.4, not 0.6 -> 2/3, AP 1/2. class 1: 0.3 outranks 0.2, 0.2, not
  // 0.4 -> 2/3, AP 1/2. class 2: {0.6, 0.2} vs {0.3, 0.1} -> 3/4, AP 1/2 * 1 + 1/2 * 2/3 = 5/6.
  CHECK(r.auc == doctest::Approx((2.0 / 3 + 2.0 / 3 + 0.75) / 3));
  CHECK(r.pr_auc == doctest::Approx((0.5 + 0.5 + 5.0 / 6) / 3));
}

TEST_CASE("classification_report: balanced accuracy and OvR means skip a class without support; macro means do not") {
  // y_true [0, 0, 1, 1], y_pred [0, 2, 1, 1]: scikit-learn's balanced_accuracy_score is 0.75.
  const std::vector<double> p = {0.7, 0.2, 0.1,
                                 0.3, 0.2, 0.5,
                                 0.1, 0.8, 0.1,
                                 0.2, 0.6, 0.2};
  const ClassificationReport r = classification_report(p, {0, 0, 1, 1}, 3);
  CHECK(r.confusion == std::vector<std::vector<std::int64_t>>{{1, 0, 1}, {0, 2, 0}, {0, 0, 0}});
  CHECK(r.support == std::vector<std::int64_t>{2, 2, 0});
  CHECK(r.balanced_accuracy == doctest::Approx(0.75));
  CHECK(r.recall_macro == doctest::Approx(0.5));                // (1/2 + 1 + 0) / 3
  CHECK(r.precision_macro == doctest::Approx(2.0 / 3));           // (1 + 1 + 0) / 3: class 2's one prediction is wrong
  CHECK(r.f1[2] == 0.0);
  // class 0: {0.7, 0.3} vs {0.1, 0.2} -> 1; class 1: {0.8, 0.6} vs {0.2, 0.2} -> 1; class 2 left out
  CHECK(r.auc == doctest::Approx(1.0));
  CHECK(r.pr_auc == doctest::Approx(1.0));
}

TEST_CASE("classification_report: no examples give zero counts and NaN scores") {
  const ClassificationReport r = classification_report({}, {}, 2);
  CHECK(r.examples == 0);
  CHECK(r.confusion == std::vector<std::vector<std::int64_t>>{{0, 0}, {0, 0}});
  CHECK(std::isnan(r.accuracy));
  CHECK(std::isnan(r.balanced_accuracy));
  CHECK(std::isnan(r.auc));
  CHECK(std::isnan(r.pr_auc));
  CHECK((std::isnan(r.f1[0]) && std::isnan(r.f1[1]) && std::isnan(r.precision[0]) && std::isnan(r.recall[1])));
  CHECK(std::isnan(r.f1_macro));  // a mean over no label present
  CHECK(!has_metric(report_metrics(r), "auc"));
}

// The expected macro means below are scikit-learn's defaults worked out by hand (exact fractions):
// precision_recall_fscore_support(average='macro') over unique_labels(y_true, y_pred) with
// zero_division 0, and balanced_accuracy_score over the labels of y_true.
TEST_CASE("classification_report: a declared class absent from truth and predictions leaves the macro means alone") {
  // 4 classes declared, class 3 never seen. y_true [0, 0, 0, 1, 1, 2, 2, 2], y_pred
  // [0, 0, 1, 1, 1, 2, 0, 0]: (P, R, F1) per class 0: (1/2, 2/3, 4/7), 1: (2/3, 1, 4/5), 2: (1, 1/3, 1/2).
  const ClassificationReport r = classification_report(rows_predicting({0, 0, 1, 1, 1, 2, 0, 0}, 4), {0, 0, 0, 1, 1, 2, 2, 2}, 4);
  CHECK(r.support == std::vector<std::int64_t>{3, 2, 3, 0});
  CHECK(r.precision_macro == doctest::Approx(13.0 / 18));
  CHECK(r.recall_macro == doctest::Approx(2.0 / 3));
  CHECK(r.f1_macro == doctest::Approx(131.0 / 210));
  CHECK(r.balanced_accuracy == doctest::Approx(2.0 / 3));
  CHECK(r.balanced_accuracy == doctest::Approx(r.recall_macro));  // both the mean recall when no class is only predicted
  // class 3's scores are 0 / 0: undefined, not 0
  CHECK(std::isnan(r.precision[3]));
  CHECK(std::isnan(r.recall[3]));
  CHECK(std::isnan(r.f1[3]));
  const auto m = report_metrics(r);
  CHECK(metric(m, "f1") == doctest::Approx(131.0 / 210));
  CHECK(metric(m, "recall") == doctest::Approx(metric(m, "balanced_accuracy")));
}

TEST_CASE("classification_report: a class never predicted has undefined precision, counted 0 in the macro mean") {
  // 4 classes, class 3 never seen, class 2 never predicted. y_true [0, 1, 1, 2], y_pred [0, 0, 1, 0]:
  // (P, R, F1) per class 0: (1/3, 1, 1/2), 1: (1, 1/2, 2/3), 2: (0 / 0, 0, 0).
  const ClassificationReport r = classification_report(rows_predicting({0, 0, 1, 0}, 4), {0, 1, 1, 2}, 4);
  CHECK(std::isnan(r.precision[2]));
  CHECK(r.recall[2] == 0.0);
  CHECK(r.f1[2] == 0.0);  // 2 tp / (support + predictions) = 0 / 1
  CHECK(r.precision_macro == doctest::Approx(4.0 / 9));
  CHECK(r.recall_macro == doctest::Approx(0.5));
  CHECK(r.f1_macro == doctest::Approx(7.0 / 18));
  CHECK(r.balanced_accuracy == doctest::Approx(0.5));
}

TEST_CASE("report_metrics: binary precision / recall / f1 of a class 1 absent from truth and predictions count 0") {
  // scikit-learn's average='binary' with its default zero_division: 0, not NaN, in the metrics log
  const ClassificationReport r = classification_report(binary_rows({0.2, 0.3}), {0, 0}, 2);
  CHECK(std::isnan(r.precision[1]));
  CHECK(std::isnan(r.recall[1]));
  const auto m = report_metrics(r);
  CHECK(metric(m, "precision") == 0.0);
  CHECK(metric(m, "recall") == 0.0);
  CHECK(metric(m, "f1") == 0.0);
  CHECK(metric(m, "f1_macro") == 1.0);  // class 0 only: every prediction right
  CHECK(metric(m, "balanced_accuracy") == 1.0);
}

TEST_CASE("classification_report: bad input is a tide::Error that names it") {
  CHECK_THROWS_WITH_AS(classification_report({0.5, 0.5}, {0, 0}, 1), doctest::Contains("at least 2 classes, got 1"), Error);
  CHECK_THROWS_WITH_AS(classification_report({0.5, 0.5, 0.2}, {0, 1}, 2),
                       doctest::Contains("3 probabilities for 2 labels x 2 classes (expected 4)"), Error);
  CHECK_THROWS_WITH_AS(classification_report(rows_predicting({0, 1, 2}, 3), {0, 3, 1}, 3),
                       doctest::Contains("label 3 at position 1 is outside 0..2"), Error);
  CHECK_THROWS_WITH_AS(classification_report(rows_predicting({0, 1}, 2), {-1, 1}, 2),
                       doctest::Contains("label -1 at position 0 is outside 0..1"), Error);
  CHECK_THROWS_WITH_AS(classification_report({0.5, 0.5, 0.1, NAN, 0.2, 0.8}, {0, 1, 1}, 2),
                       doctest::Contains("probability of example 1 class 1 is NaN"), Error);
}

TEST_CASE("average precision of a perfect ranking is exactly 1, however many positives") {
  std::vector<double> scores;
  std::vector<std::int64_t> labels;
  for (int i = 0; i < 1000; ++i) scores.push_back(i), labels.push_back(i >= 667 ? 1 : 0);
  CHECK(tide::models::average_precision(scores, labels) == 1.0);
}


TEST_CASE("an f32 classifier's confident predictions keep their ranking: probabilities are formed in f64") {
  // softmax in f32 rounded class 1's probability to 1 from a logit gap of ~17 on: the three
  // positives below tied with the negative and the AUC read 0.5 instead of 1
  const Var logits(Tensor::from_vector({0, 20, 0, 25, 0, 30, 0, 35}, Shape{4, 2}, DType::f32));
  const Predictions p = per_example_predictions(logits, Tensor::from_indices({0, 1, 1, 1}, Shape{4}));
  CHECK(p.values[1] < p.values[3]);
  CHECK(p.values[0] == doctest::Approx(std::exp(-20.0)).epsilon(1e-6));
  CHECK(classification_report(p.values, p.labels, 2).auc == 1.0);
}
