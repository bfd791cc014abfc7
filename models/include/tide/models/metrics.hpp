// Metrics computed over a whole split rather than summed batch by batch: the ranking metrics
// (ROC AUC, average precision) and the classification report a paper quotes, all with
// scikit-learn's definitions so that numbers compare with published ones.
#pragma once
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace tide::models {

// ROC AUC of binary labels (0 / 1) ranked by their scores: the Mann-Whitney U statistic over
// positive x negative pairs, a tie counting half. NaN when either class is absent. Throws on
// sizes that differ, a NaN score or labels other than 0 / 1.
double roc_auc(const std::vector<double>& scores, const std::vector<std::int64_t>& labels);

// Average precision, the area under the precision-recall curve as scikit-learn's
// average_precision_score computes it: the sum over distinct score thresholds, highest first, of
// (R_n - R_{n-1}) P_n, tied scores entering together. Binary labels 0 / 1; NaN when there is no
// positive. Same errors as roc_auc.
double average_precision(const std::vector<double>& scores, const std::vector<std::int64_t>& labels);

// Everything a classification paper reports, from each prediction's class probabilities and the
// true labels. The predicted class is the argmax of a row (the first on ties). Per-class
// precision / recall / F1 are NaN where their ratio is 0 / 0 (no prediction of the class / no
// example of it / neither; scikit-learn's zero_division=np.nan). The macro means follow
// scikit-learn's defaults: they run over the labels present in the truth or the predictions,
// an undefined precision or recall among them counting 0, so a declared class absent from both
// changes nothing; balanced accuracy is the mean recall over the labels present in the truth.
struct ClassificationReport {
  std::int64_t classes = 0, examples = 0;
  std::vector<std::vector<std::int64_t>> confusion;  // [true class][predicted class]
  std::vector<double> precision, recall, f1;          // per class; NaN where undefined
  std::vector<std::int64_t> support;                  // true examples per class
  double accuracy = 0, balanced_accuracy = 0;         // balanced: mean recall over classes with support
  double precision_macro = 0, recall_macro = 0, f1_macro = 0;
  double auc = NAN, pr_auc = NAN;  // binary: ROC AUC and average precision of class 1's probability,
                                   // NaN unless the labels hold both classes; more classes: the macro
                                   // one-vs-rest means over the classes that have both positives and
                                   // negatives; NaN when none has
};

// probabilities is row-major, labels.size() x classes; labels lie in 0..classes-1. Throws
// tide::Error on a size mismatch, classes < 2, a label out of range or a NaN probability. No
// examples give a report with examples 0 and every score NaN (per class, macro means, accuracy,
// balanced_accuracy, auc, pr_auc).
ClassificationReport classification_report(const std::vector<double>& probabilities, const std::vector<std::int64_t>& labels,
                                           std::int64_t classes);

// The report as flat named metrics for a metrics log: accuracy, balanced_accuracy, precision /
// recall / f1 (binary: of class 1, scikit-learn's average='binary', 0 where undefined; more
// classes: the macro means), precision_macro, recall_macro, f1_macro, then auc and pr_auc when
// they are not NaN.
std::vector<std::pair<std::string, double>> report_metrics(const ClassificationReport& r);

}  // namespace tide::models
