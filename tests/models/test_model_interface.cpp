// The Model interface the generic trainer is written against (models/model.hpp): built from a
// config for a dataset, batch losses with named metric sums, split scores independent of the
// evaluation batch size, and parameters saved and loaded.
#include "../data/data_test_util.hpp"
#include "model_test_util.hpp"
#include "tide/data/xor.hpp"
#include <algorithm>
#include <cstdio>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

using namespace tide;
using nlohmann::json;

namespace {

data::Dataset xor_dataset() {
  data::SequenceSet all = data::xor_bitstream(60, 5, data::XorEncoding::dense);
  data::Dataset d;
  d.train = std::make_shared<data::SequenceExamples>(all.slice(0, 40));
  d.val = std::make_shared<data::SequenceExamples>(all.slice(40, 50));
  d.test = std::make_shared<data::SequenceExamples>(all.slice(50, 60));
  d.description = "xor";
  return d;
}

class NotSequences final : public data::Examples {
public:
  std::int64_t size() const override { return 1; }
  data::ExamplesPtr subset(const std::vector<std::int64_t>&) const override { return std::make_shared<NotSequences>(); }
};

}  // namespace

TEST_CASE("make_model builds a sequence model for sequence data with the task's metric") {
  Generator gen(1);
  const data::Dataset d = xor_dataset();
  const models::ModelPtr m = models::make_model(json{{"type", "gru"}, {"hidden", 8}}, d, gen, DType::f64, "model");
  CHECK(m->metric() == "accuracy");
  CHECK(m->higher_is_better());
  CHECK(m->parameter_count() > 0);
  const models::BatchLoss b = m->loss(*d.train, models::Mode::eval);
  REQUIRE(b.metrics.size() == 1);
  CHECK(b.metrics[0].first == "accuracy");
  CHECK(b.metrics[0].second.count == 40);  // one label per sequence
  // eval mode: a prediction per sequence, at its last valid step, with both classes' probabilities
  CHECK(b.predictions.rows() == 40);
  CHECK(b.predictions.width == 2);
  CHECK(b.predictions.values.size() == 80);
  CHECK(b.predictions.values[0] + b.predictions.values[1] == doctest::Approx(1.0));
  CHECK(std::isfinite(b.loss.item()));
  CHECK_THROWS_WITH_AS(m->loss(NotSequences(), models::Mode::eval), doctest::Contains("expects sequences"), Error);
}

TEST_CASE("a split's scores do not depend on the evaluation batch size") {
  Generator gen(2);
  const data::Dataset d = xor_dataset();
  const models::ModelPtr m = models::make_model(json{{"type", "ctrnn"}, {"hidden", 6}}, d, gen, DType::f64, "model");
  const models::Scores all = m->evaluate(*d.train, 1000), small = m->evaluate(*d.train, 7);
  CHECK(all.examples == 40);
  CHECK(small.loss == doctest::Approx(all.loss).epsilon(1e-12));
  // the split's report (auc, f1, the confusion matrix) is computed over all its predictions at once
  CHECK(small.metric("auc") == doctest::Approx(all.metric("auc")).epsilon(1e-12));
  CHECK(small.metric("f1") == doctest::Approx(all.metric("f1")).epsilon(1e-12));
  CHECK(small.report.confusion == all.report.confusion);
  CHECK(all.report.examples == 40);
  CHECK(small.metric("accuracy") == doctest::Approx(all.report.accuracy));
  CHECK(small.metric("accuracy") == doctest::Approx(all.metric("accuracy")).epsilon(1e-12));
  CHECK(small.metric("auc") == doctest::Approx(all.metric("auc")).epsilon(1e-12));  // the split's, not the batches' mean
  CHECK(all.loss == doctest::Approx(m->loss(*d.train, models::Mode::eval).loss.item()).epsilon(1e-12));
  CHECK_THROWS_WITH_AS(all.metric("mse"), doctest::Contains("known: accuracy, nfe, balanced_accuracy, precision, recall, f1"), Error);
}

TEST_CASE("a per-step task's split loss pools its valid steps, whatever the batches and the sequences' lengths") {
  // each batch's loss is a mean over its valid steps; weighting it by the batch's sequences gave
  // 18.45 / 16.79 / 17.72 for batches of 6 / 4 / 3 on the same parameters
  const std::int64_t N = 6, T = 5;
  const std::vector<std::int64_t> lengths = {5, 1, 3, 2, 5, 4};
  std::vector<double> x(N * T, 0.0), dt(N * T, 0.0), mask(N * T, 0.0), y(N * T, 0.0);
  std::vector<std::int64_t> labels(N * T, 0);
  const std::vector<double> r = Generator(5).normal(Shape{N * T}, 0, 1, DType::f64).to_vector();
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t t = 0; t < lengths[static_cast<std::size_t>(n)]; ++t) {
      const auto i = static_cast<std::size_t>(n * T + t);
      mask[i] = 1, x[i] = r[i], dt[i] = 0.5 + 0.1 * static_cast<double>(t), y[i] = 3.0 * r[i] + static_cast<double>(n), labels[i] = r[i] > 0;
    }
  for (const bool classify : {false, true}) {
    INFO((classify ? "classification" : "regression"));
    data::SequenceSet s;
    s.name = "padded";
    s.per_step = true;
    s.x = Tensor::from_vector(x, Shape{N, T, 1}, DType::f64);
    s.dt = Tensor::from_vector(dt, Shape{N, T}, DType::f64);
    s.mask = Tensor::from_vector(mask, Shape{N, T}, DType::f64);
    s.task = classify ? data::Task::classification : data::Task::regression;
    s.classes = classify ? 2 : 0;
    s.y = classify ? Tensor::from_indices(labels, Shape{N, T}) : Tensor::from_vector(y, Shape{N, T, 1}, DType::f64);
    s.validate();
    data::Dataset d;
    d.train = d.val = d.test = std::make_shared<data::SequenceExamples>(s);
    Generator gen(2);
    const models::ModelPtr m = models::make_model(json{{"type", "ctrnn"}, {"hidden", 4}}, d, gen, DType::f64, "model");
    double pooled = 0;  // each sequence's mean loss times its valid steps, over all valid steps
    for (std::int64_t n = 0; n < N; ++n)
      pooled += m->loss(*d.train->slice(n, n + 1), models::Mode::eval).loss.item() * static_cast<double>(lengths[static_cast<std::size_t>(n)]);
    pooled /= 20.0;
    CHECK(m->loss(*d.train, models::Mode::eval).weight == 20.0);
    for (std::int64_t batch : {6, 4, 3, 1}) CHECK(m->evaluate(*d.train, batch).loss == doctest::Approx(pooled).epsilon(1e-12));
  }
}

TEST_CASE("train mode records the loss; save and load restore the parameters") {
  Generator gen(3);
  const data::Dataset d = xor_dataset();
  const models::ModelPtr m = models::make_model(json{{"type", "lstm"}, {"hidden", 5}}, d, gen, DType::f64, "model");
  const models::BatchLoss b = m->loss(*d.train, models::Mode::train, models::Training{.steer = 0.5, .seed = 4, .step = 2});
  CHECK(b.loss.requires_grad());
  const double before = m->loss(*d.val, models::Mode::eval).loss.item();
  const std::string path = "test_model_interface.tide";
  m->save(path);
  for (const Var& p : m->parameters()) {
    Tensor v = p.value();  // shares the parameter's storage
    v.fill_(0.1);
  }
  CHECK(m->loss(*d.val, models::Mode::eval).loss.item() != before);
  m->load(path);
  CHECK(m->loss(*d.val, models::Mode::eval).loss.item() == before);
  std::remove(path.c_str());
}

TEST_CASE("the kinetic term is reported as a metric, and refused for a model with no solver-integrated part") {
  Generator gen(5);
  const data::Dataset d = xor_dataset();
  const models::ModelPtr ode = models::make_model(json{{"type", "ctrnn"}, {"hidden", 4}}, d, gen, DType::f64, "model");
  const models::BatchLoss plain = ode->loss(*d.train, models::Mode::train);
  const models::BatchLoss reg = ode->loss(*d.train, models::Mode::train, models::Training{.kinetic = 0.5});
  REQUIRE(reg.metrics.size() == 4);
  CHECK(reg.metrics[2].first == "kinetic");
  CHECK(reg.metrics[3].first == "nfe");
  CHECK(reg.metrics[3].second.value > 0);
  const models::BatchLoss eval = ode->loss(*d.train, models::Mode::eval);  // rk4 x 1 per step: 4 stages each
  REQUIRE(eval.metrics.size() == 2);  // (the split's auc comes from the predictions)
  CHECK(eval.metrics[1].first == "nfe");
  CHECK(eval.metrics[1].second.value == 4 * data::sequences_of(*d.train, "xor").steps());
  const double kinetic = reg.metrics[2].second.value / reg.metrics[2].second.count;
  CHECK(kinetic > 0);
  CHECK(reg.loss.item() == doctest::Approx(plain.loss.item() + kinetic).epsilon(1e-6));
  const models::ModelPtr gru = models::make_model(json{{"type", "gru"}, {"hidden", 4}}, d, gen, DType::f64, "model");
  CHECK_THROWS_WITH_AS(gru->loss(*d.train, models::Mode::train, models::Training{.kinetic = 0.5}),
                       doctest::Contains("regularisers.kinetic: gru has no ODE part"), Error);
  CHECK(gru->loss(*d.train, models::Mode::eval, models::Training{.kinetic = 0.5}).metrics.size() == 1);  // eval: off
}

TEST_CASE("class weights: each prediction's cross-entropy term weighted by its class, normalised by the weights' sum") {
  // two rows: log-probabilities log(1/2), log(1/2) and log(3/4), log(1/4)
  const Var logits(Tensor::from_vector({0.0, 0.0, std::log(3.0), 0.0}, Shape{2, 2}, DType::f64));
  const double nll0 = std::log(2.0), nll1 = -std::log(0.25);  // row 0 labelled 1, row 1 labelled 1
  CHECK(models::weighted_cross_entropy(logits, {1, 1}, {1.0, 1.0}).item() == doctest::Approx((nll0 + nll1) / 2));
  CHECK(models::weighted_cross_entropy(logits, {1, 1}, {2.0, 6.0}).item() == doctest::Approx((2 * nll0 + 6 * nll1) / 8));
  // a batch of classes weighted 0 adds nothing (it was an error that stopped training: bug hunt)
  const Var none = models::weighted_cross_entropy(logits, {1, 1}, {0.0, 0.0});
  CHECK(none.item() == 0.0);
  CHECK_THROWS_WITH_AS(models::weighted_cross_entropy(logits, {1, 1}, {1.0, -1.0}), doctest::Contains("weights must be finite and >= 0"), Error);
  // a row weighted 0 is left out, not multiplied by 0: its -inf log-probability made the loss NaN,
  // and its label (a masked step's) is never read
  const Var poisoned = Var::parameter(Tensor::from_vector({0.0, 0.0, -HUGE_VAL, 0.0}, Shape{2, 2}, DType::f64));
  const Var kept = models::weighted_cross_entropy(poisoned, {1, -7}, {2.0, 0.0});
  CHECK(kept.item() == doctest::Approx(nll0));
  const std::vector<double> g = grad(kept, poisoned).value().to_vector();
  CHECK(g == std::vector<double>{0.5, -0.5, 0.0, 0.0});

  Generator gen(6);
  const data::Dataset d = xor_dataset();
  const models::ModelPtr m = models::make_model(json{{"type", "gru"}, {"hidden", 5}}, d, gen, DType::f64, "model");
  const auto& model = dynamic_cast<const models::SequenceModel&>(*m);
  const data::SequenceSet& s = data::sequences_of(*d.train, "xor");
  const models::Training weighted{.class_weights = {1.0, 3.0}};
  const double got = m->loss(*d.train, models::Mode::train, weighted).loss.item();
  // by hand: the last valid step's logits, each sequence weighted 1 or 3 by its label
  const Var last = models::last_valid(model(Var(s.x.to(DType::f64)), s.dt, s.mask), s.mask);
  const std::vector<std::int64_t> y = s.y.to_indices();
  std::vector<double> w;
  for (std::int64_t label : y) w.push_back(label == 0 ? 1.0 : 3.0);
  CHECK(got == doctest::Approx(models::weighted_cross_entropy(last, y, w).item()).epsilon(1e-12));
  CHECK(got != doctest::Approx(m->loss(*d.train, models::Mode::train).loss.item()));
  CHECK_THROWS_WITH_AS(m->loss(*d.train, models::Mode::train, models::Training{.class_weights = {1.0}}),
                       doctest::Contains("class_weights: 1 weights for 2 classes"), Error);
  // a batch holding only a class weighted 0: loss 0, pooled with weight 0, and backward runs
  std::vector<std::int64_t> zeros;
  for (std::size_t i = 0; i < y.size(); ++i)
    if (y[i] == 0) zeros.push_back(static_cast<std::int64_t>(i));
  REQUIRE(!zeros.empty());
  const models::BatchLoss only0 = m->loss(*d.train->subset(zeros), models::Mode::train, models::Training{.class_weights = {0.0, 1.0}});
  CHECK(only0.loss.item() == 0.0);
  CHECK(only0.pooled_weight(static_cast<std::int64_t>(zeros.size())) == 0.0);
  CHECK_NOTHROW(backward(only0.loss));
  CHECK(m->loss(*d.train->subset(zeros), models::Mode::train).pooled_weight(static_cast<std::int64_t>(zeros.size())) ==
        static_cast<double>(zeros.size()));
}

TEST_CASE("parameters saved as safetensors load back into a fresh model with the same loss") {
  Generator gen(7), other(8);
  const data::Dataset d = xor_dataset();
  const json spec{{"type", "cfc"}, {"hidden", 6}};
  const models::ModelPtr a = models::make_model(spec, d, gen, DType::f32, "model");
  const models::ModelPtr b = models::make_model(spec, d, other, DType::f32, "model");
  const std::string path = "test_model_interface.safetensors";
  a->save(path);
  CHECK(b->loss(*d.val, models::Mode::eval).loss.item() != a->loss(*d.val, models::Mode::eval).loss.item());
  b->load(path);
  CHECK(b->loss(*d.val, models::Mode::eval).loss.item() == a->loss(*d.val, models::Mode::eval).loss.item());
  std::remove(path.c_str());
}

namespace {

// A model whose batches report different metrics: the first only "m", later ones "nfe" first.
class ChangingMetrics final : public models::Model {
public:
  std::string name() const override { return "changing"; }
  std::string metric() const override { return "m"; }
  bool higher_is_better() const override { return false; }
  std::vector<std::pair<std::string, Var>> named_parameters() const override { return {}; }
  models::BatchLoss loss(const data::Examples& batch, models::Mode, const models::Training& = {}) const override {
    models::BatchLoss b;
    b.loss = Var(Tensor::scalar(1.0, DType::f64));
    const double n = static_cast<double>(batch.size());
    if (calls_++ > 0) b.metrics.emplace_back("nfe", models::MetricSums{10.0, 1.0});
    b.metrics.emplace_back("m", models::MetricSums{2.0 * n, n});
    return b;
  }

private:
  mutable int calls_ = 0;
};

}  // namespace

TEST_CASE("evaluate pools the batches' metrics by name, whatever metrics each batch reports") {
  // sums were sized by the first batch and indexed by position: a later batch with one more
  // metric ("nfe": a batch of all-padding rows has none) wrote past them (bug hunt)
  const data::Dataset d = xor_dataset();
  const models::Scores s = ChangingMetrics().evaluate(*d.train, 16);  // batches of 16, 16, 8
  REQUIRE(s.metrics.size() == 2);
  CHECK(s.metrics[0].first == "m");
  CHECK(s.metrics[0].second == 2.0);
  CHECK(s.metrics[1].first == "nfe");
  CHECK(s.metrics[1].second == 10.0);
}

TEST_CASE("a diverged binary classifier: its train loss is NaN (no auc), and evaluation says its outputs are NaN") {
  // add_auc's roc_auc threw "score 0 is NaN" before the trainer could see the NaN loss (bug hunt)
  Generator gen(9);
  const data::Dataset d = xor_dataset();
  const models::ModelPtr m = models::make_model(json{{"type", "gru"}, {"hidden", 3}}, d, gen, DType::f32, "model");
  Tensor(m->parameters()[0].value()).fill_(std::nan(""));
  const models::BatchLoss b = m->loss(*d.train, models::Mode::train);
  CHECK(std::isnan(b.loss.item()));
  for (const auto& [name, sums] : b.metrics) CHECK(name != "auc");
  CHECK_THROWS_WITH_AS(m->evaluate(*d.val, 4), doctest::Contains("evaluate: the outputs of gru are NaN (example 0 step"), Error);
  CHECK_THROWS_WITH_AS(m->evaluate(*d.val, 4), doctest::Contains("the model has diverged"), Error);
}

TEST_CASE("predict refuses a diverged classifier's NaN outputs, as evaluate does (it wrote nan and an arbitrary class)") {
  Generator gen(9);
  const data::Dataset d = xor_dataset();
  const models::ModelPtr m = models::make_model(json{{"type", "gru"}, {"hidden", 3}}, d, gen, DType::f32, "model");
  CHECK(m->predict(*d.val, 4).rows() == 10);
  Tensor(m->parameters()[0].value()).fill_(std::nan(""));
  CHECK_THROWS_WITH_AS(m->predict(*d.val, 4), doctest::Contains("predict: the outputs of gru are NaN (example 0 step"), Error);
}

TEST_CASE("an empty split scores NaN (it scored loss 0 and metric 0: a perfect regression); a batch size below 1 is refused") {
  Generator gen(3);
  const data::Dataset d = xor_dataset();
  const models::ModelPtr m = models::make_model(json{{"type", "gru"}, {"hidden", 3}}, d, gen, DType::f64, "model");
  const models::Scores empty = m->evaluate(*d.val->slice(0, 0), 4);
  CHECK(empty.examples == 0);
  CHECK(std::isnan(empty.loss));
  REQUIRE(empty.metrics.size() == 1);
  CHECK(empty.metrics[0].first == "accuracy");
  CHECK(std::isnan(empty.metrics[0].second));
  CHECK(m->predict(*d.val->slice(0, 0), 4).rows() == 0);
  // (0 failed in mse_loss on an empty batch, -1 as a slice outside the split)
  for (const std::int64_t bad : {0, -1}) {
    CAPTURE(bad);
    CHECK_THROWS_WITH_AS(m->evaluate(*d.val, bad), fmt::format("evaluate: batch_size must be >= 1, got {}", bad).c_str(), Error);
    CHECK_THROWS_WITH_AS(m->predict(*d.val, bad), fmt::format("predict: batch_size must be >= 1, got {}", bad).c_str(), Error);
  }
}

TEST_CASE("evaluate leaves out a metric no batch defines (it was 0) and a per-batch auc the split's report does not define") {
  // a model reporting a per-batch "auc" with count 0 (a batch of one class) and a per-batch value
  // on a split whose labels hold one class: the split has no auc, whatever the batches said
  class BatchAuc final : public models::Model {
  public:
    std::string name() const override { return "batch_auc"; }
    std::string metric() const override { return "auc"; }
    bool higher_is_better() const override { return true; }
    std::vector<std::pair<std::string, Var>> named_parameters() const override { return {}; }
    models::BatchLoss loss(const data::Examples& batch, models::Mode, const models::Training& t = {}) const override {
      models::BatchLoss b;
      b.loss = Var(Tensor::scalar(0.5, DType::f64));
      b.metrics.emplace_back("auc", t.first_example == 0 ? models::MetricSums{0.9, 1} : models::MetricSums{0, 0});
      b.metrics.emplace_back("undefined", models::MetricSums{0, 0});
      b.predictions.classification = true, b.predictions.width = 2;
      for (std::int64_t i = 0; i < batch.size(); ++i)
        b.predictions.values.insert(b.predictions.values.end(), {0.7, 0.3}), b.predictions.labels.push_back(0),
            b.predictions.example.push_back(i), b.predictions.step.push_back(-1);
      return b;
    }
  };
  const data::Dataset d = xor_dataset();
  const models::Scores s = BatchAuc().evaluate(*d.train, 16);
  std::vector<std::string> names;
  for (const auto& [name, value] : s.metrics) names.push_back(name);
  CHECK(std::find(names.begin(), names.end(), "auc") == names.end());
  CHECK(std::find(names.begin(), names.end(), "pr_auc") == names.end());
  CHECK(std::find(names.begin(), names.end(), "undefined") == names.end());
  CHECK(s.metric("accuracy") == 1.0);
  CHECK_THROWS_WITH_AS(s.metric("auc"), doctest::Contains("scores: no metric 'auc'"), Error);
}

TEST_CASE("masked losses and metrics check their shapes, refuse mask values other than 0 and 1 and rows with no valid step") {
  Generator g(10);
  const Tensor logits = g.normal(Shape{2, 3, 2}, 0, 1, DType::f64), ones = Tensor::ones(Shape{2, 3}, DType::f64);
  const Tensor per_sequence = Tensor::from_indices({0, 1}, Shape{2});
  // labels [2, 2] for logits [2, 3, 2] and labels [1] for 2 rows read past the labels (bug hunt)
  const std::string shapes = "logits [B, T, C], mask [B, T] and labels [B] or [B, T] expected";
  CHECK_THROWS_WITH_AS(models::correct_predictions(logits, Tensor::from_indices({0, 1, 1, 0}, Shape{2, 2}), ones),
                       doctest::Contains(("correct_predictions: " + shapes + ", got [2, 3, 2], [2, 3], [2, 2]").c_str()), Error);
  CHECK_THROWS_WITH_AS(models::correct_predictions(logits, Tensor::from_indices({1}, Shape{1}), ones),
                       doctest::Contains((shapes + ", got [2, 3, 2], [2, 3], [1]").c_str()), Error);
  CHECK_THROWS_WITH_AS(models::correct_predictions(logits, per_sequence, Tensor::ones(Shape{2, 2}, DType::f64)),
                       doctest::Contains((shapes + ", got [2, 3, 2], [2, 2], [2]").c_str()), Error);
  CHECK_THROWS_WITH_AS(models::masked_cross_entropy(Var(logits), Tensor::from_indices({1}, Shape{1}), ones),
                       doctest::Contains(("masked_cross_entropy: " + shapes).c_str()), Error);
  CHECK_THROWS_WITH_AS(models::squared_error(logits, g.normal(Shape{3, 2}, 0, 1, DType::f64), ones),
                       doctest::Contains("squared_error: prediction [B, T, O] with target"), Error);

  // 0.5 was weighted by masked_mse and taken as 1 by the cross-entropy and the state update; -1
  // subtracted a step's error
  const Tensor per_step = Tensor::from_indices({0, 1, 1, 0, 1, 0}, Shape{2, 3}), target = g.normal(Shape{2, 3, 2}, 0, 1, DType::f64);
  for (const double bad : {0.5, -1.0, 2.0}) {
    CAPTURE(bad);
    const Tensor mask = Tensor::from_vector({1, 1, 1, 1, bad, 0}, Shape{2, 3}, DType::f64);
    const std::string at = fmt::format("mask[1, 1] = {} is not 0 or 1", bad);
    CHECK_THROWS_WITH_AS(models::masked_mse(Var(logits), target, mask), doctest::Contains(("masked_mse: " + at).c_str()), Error);
    CHECK_THROWS_WITH_AS(models::masked_mse(Var(logits), target.select(1, 0).contiguous(), mask), doctest::Contains(("masked_mse: " + at).c_str()), Error);
    CHECK_THROWS_WITH_AS(models::masked_cross_entropy(Var(logits), per_step, mask), doctest::Contains(("masked_cross_entropy: " + at).c_str()), Error);
    CHECK_THROWS_WITH_AS(models::masked_cross_entropy(Var(logits), per_sequence, mask), doctest::Contains(("masked_cross_entropy: " + at).c_str()), Error);
    CHECK_THROWS_WITH_AS(models::correct_predictions(logits, per_step, mask), doctest::Contains(("correct_predictions: " + at).c_str()), Error);
    CHECK_THROWS_WITH_AS(models::squared_error(logits, target, mask), doctest::Contains(("squared_error: " + at).c_str()), Error);
    Generator gen(11);
    const models::SequenceModel model(models::make_cell(json{{"type", "ctrnn"}, {"hidden", 3}}, 1, gen, DType::f64), 2, gen);
    CHECK_THROWS_WITH_AS(model(Var(g.normal(Shape{2, 3, 1}, 0, 1, DType::f64)), ones, mask), doctest::Contains(("ctrnn: " + at).c_str()), Error);
  }

  // a per-sequence target scored the step 0 of a row with no valid step (a prediction from padding)
  const Tensor empty_row = Tensor::from_vector({1, 1, 0, 0, 0, 0}, Shape{2, 3}, DType::f64);
  const std::string row = "row 1 has no valid step (its mask is all 0)";
  CHECK_THROWS_WITH_AS(models::masked_cross_entropy(Var(logits), per_sequence, empty_row), doctest::Contains(("masked_cross_entropy: " + row).c_str()), Error);
  CHECK_THROWS_WITH_AS(models::masked_mse(Var(logits), target.select(1, 0).contiguous(), empty_row), doctest::Contains(("masked_mse: " + row).c_str()), Error);
  CHECK_THROWS_WITH_AS(models::correct_predictions(logits, per_sequence, empty_row), doctest::Contains(("correct_predictions: " + row).c_str()), Error);
  CHECK_THROWS_WITH_AS(models::squared_error(logits, target.select(1, 0).contiguous(), empty_row), doctest::Contains(("squared_error: " + row).c_str()), Error);
  CHECK_THROWS_WITH_AS(models::last_valid(Var(logits), empty_row), doctest::Contains(("last_valid: " + row).c_str()), Error);
  // per-step targets average over the valid steps: an empty row adds nothing, an empty batch is refused
  CHECK(models::correct_predictions(logits, per_step, empty_row).count == 2);
  CHECK(std::isfinite(models::masked_cross_entropy(Var(logits), per_step, empty_row).item()));
  CHECK(std::isfinite(models::masked_mse(Var(logits), target, empty_row).item()));
  CHECK_THROWS_WITH_AS(models::masked_mse(Var(logits), target, Tensor::zeros(Shape{2, 3}, DType::f64)),
                       doctest::Contains("masked_mse: the mask selects no step"), Error);
}

TEST_CASE("masked_mse leaves padded steps out: a NaN target there changes neither the loss nor its gradient") {
  // sum((prediction - target) * mask) was NaN * 0 = NaN at a padded step with a NaN target (bug hunt)
  const Var prediction = Var::parameter(Tensor::from_vector({0.1, 0.2, 0.3, 0.4}, Shape{2, 2, 1}, DType::f64));
  const Tensor target = Tensor::from_vector({0.0, 1.0, 2.0, std::nan("")}, Shape{2, 2, 1}, DType::f64);
  const Tensor mask = Tensor::from_vector({1, 1, 1, 0}, Shape{2, 2}, DType::f64);
  const Var loss = models::masked_mse(prediction, target, mask);
  CHECK(loss.item() == doctest::Approx((0.01 + 0.64 + 2.89) / 3).epsilon(1e-14));
  const std::vector<double> g = grad(std::vector<Var>{loss}, std::vector<Var>{prediction})[0].value().to_vector();
  const std::vector<double> expected = {2 * 0.1 / 3, 2 * (0.2 - 1) / 3, 2 * (0.3 - 2) / 3, 0.0};
  for (std::size_t i = 0; i < g.size(); ++i) CHECK(g[i] == doctest::Approx(expected[i]).epsilon(1e-14));
  const models::MetricSums metric = models::squared_error(prediction.value(), target, mask);  // the metric agrees
  CHECK(metric.value / metric.count == doctest::Approx(loss.item()).epsilon(1e-14));
}

namespace {

// The parameters' values, to see that a refused load changed nothing.
std::vector<double> parameter_values(const models::Model& m) {
  std::vector<double> out;
  for (const Var& p : m.parameters())
    for (double v : p.value().to_vector()) out.push_back(v);
  return out;
}

}  // namespace

TEST_CASE("a model file records the model's normalised spec; a model built from another spec refuses it, naming the key") {
  // Files recorded nothing: parameters of one wiring seed, mode or solver loaded silently into a
  // model built with another whenever names and shapes agreed, giving a third model (bug hunt).
  using data::test::error_of;
  const data::Dataset d = xor_dataset();
  const json ncp = {{"type", "ltc_biophysical"}, {"wiring", "ncp"}};
  for (const char* ext : {".tide", ".safetensors"}) {
    CAPTURE(ext);
    Generator gen(1), other(2);
    const std::string path = std::string("test_model_spec") + ext;
    const models::ModelPtr a = models::make_model(ncp, d, gen, DType::f64, "model");
    a->save(path);
    json seed2 = ncp;
    seed2["wiring_seed"] = 2;
    const models::ModelPtr b = models::make_model(seed2, d, other, DType::f64, "model");
    const std::vector<double> before = parameter_values(*b);
    const std::string refused = path + ": holds the parameters of a model built from another spec than this one (" + b->name() +
                                "): model.wiring_seed is 1 in the file, 2 in this model; build the model from the spec the file "
                                "records (its metadata's model_spec) to load them";
    CHECK(error_of([&] { b->load(path); }) == refused);
    CHECK(parameter_values(*b) == before);  // refused before anything is copied
    CHECK(error_of([&] { models::check_model_file(path, *b); }) == refused);  // the same check, without loading
    CHECK_NOTHROW(models::check_model_file(path, *a));
    // a config that spells out the defaults builds the same model, and loads
    const json spelled = {{"type", "ltc_biophysical"}, {"wiring", "ncp"}, {"wiring_seed", 1}, {"inter", 8}, {"hidden", 16},
                          {"solver", {{"method", "ltc_fused"}, {"unfolds", 6}}}};
    const models::ModelPtr c = models::make_model(spelled, d, other, DType::f64, "model");
    CHECK_NOTHROW(c->load(path));
    CHECK(parameter_values(*c) == parameter_values(*a));
    // what the file records
    const Archive file = models::is_safetensors(path) ? load_safetensors(path) : load_archive(path);
    const json meta = json::parse(file.meta_json);
    CHECK(meta.at("model_name") == a->name());
    CHECK(meta.at("model_type") == "ltc_biophysical");
    CHECK(meta.at("model_spec") == *a->spec());
    CHECK(meta.at("model_spec").at("hidden") == 16);
    CHECK(meta.at("model_spec").at("sensory_fanout") == 4);
    std::remove(path.c_str());
  }
  // other keys the hunt found ignored, each named with both values
  const std::pair<json, json> pairs[] = {
      {{{"type", "cfc"}, {"hidden", 6}}, {{"type", "cfc"}, {"hidden", 6}, {"mode", "no_gate"}}},
      {{{"type", "mmrnn"}, {"hidden", 6}}, {{"type", "mmrnn"}, {"hidden", 6}, {"forget_bias", 3}}},
      {{{"type", "ode_rnn"}, {"hidden", 6}}, {{"type", "ode_rnn"}, {"hidden", 6}, {"solver", {{"method", "euler"}}}}},
      {{{"type", "ltc_biophysical"}, {"hidden", 8}}, {{"type", "ltc_biophysical"}, {"hidden", 8}, {"solver", {{"unfolds", 1}}}}}};
  const char* named[] = {"model.mode is \"default\" in the file, \"no_gate\" in this model",
                         "model.forget_bias is 1.0 in the file, 3.0 in this model",
                         "model.solver.method is \"rk4\" in the file, \"euler\" in this model",
                         "model.solver.unfolds is 6 in the file, 1 in this model"};
  for (std::size_t i = 0; i < std::size(pairs); ++i) {
    CAPTURE(pairs[i].second.dump());
    Generator gen(3);
    const std::string path = "test_model_spec.tide";
    models::make_model(pairs[i].first, d, gen, DType::f64, "model")->save(path);
    const models::ModelPtr b = models::make_model(pairs[i].second, d, gen, DType::f64, "model");
    CHECK(error_of([&] { b->load(path); }).find(named[i]) != std::string::npos);
    std::remove(path.c_str());
  }
}

TEST_CASE("files that record no spec, and models built without one, load as before") {
  const data::Dataset d = xor_dataset();
  Generator gen(4), other(5);
  const json spec = {{"type", "gru"}, {"hidden", 5}};
  const models::ModelPtr a = models::make_model(spec, d, gen, DType::f64, "model");
  const models::ModelPtr b = models::make_model(spec, d, other, DType::f64, "model");
  // a file from older tide (or another tool): a tide archive with no metadata, a safetensors file
  // holding the bare name
  Archive old_tide, old_safetensors;
  add_module(old_tide, "model.", *a);
  add_module(old_safetensors, "", *a);
  old_safetensors.meta_json = a->name();
  save_archive("test_model_old.tide", old_tide);
  save_safetensors("test_model_old.safetensors", old_safetensors);
  for (const char* path : {"test_model_old.tide", "test_model_old.safetensors"}) {
    CAPTURE(path);
    CHECK_NOTHROW(b->load(path));
    CHECK(parameter_values(*b) == parameter_values(*a));
    std::remove(path);
  }
  // a model constructed in C++ has no spec: its file records its name, and it loads any file whose
  // parameters fit
  const data::SequenceSet& train = data::sequences_of(*d.train, "xor");
  Generator direct_gen(6);
  models::SequenceModel direct(models::make_cell(spec, train.features(), direct_gen, DType::f64), train.outputs(), direct_gen, train.task);
  CHECK(direct.spec() == nullptr);
  direct.save("test_model_direct.tide");
  CHECK(json::parse(load_archive("test_model_direct.tide").meta_json) == json{{"model_name", direct.name()}});
  CHECK_NOTHROW(b->load("test_model_direct.tide"));
  a->save("test_model_spec.tide");
  CHECK_NOTHROW(direct.load("test_model_spec.tide"));
  CHECK(parameter_values(direct) == parameter_values(*a));
  std::remove("test_model_direct.tide");
  std::remove("test_model_spec.tide");
}

TEST_CASE("a file's recorded spec is compared on the keys it records: an option added since does not orphan it") {
  using data::test::error_of;
  const data::Dataset d = xor_dataset();
  Generator gen(7);
  const models::ModelPtr m = models::make_model(json{{"type", "gru"}, {"hidden", 5}}, d, gen, DType::f64, "model");
  json older = *m->spec();
  older.erase("hidden");  // as a build before that key was recorded would have written it
  CHECK_NOTHROW(models::check_model_meta(json{{"model_spec", older}}.dump(), *m, "older.tide"));
  json newer = *m->spec();
  newer["an_option_added_later"] = 1;  // a key this build does not know: another model
  CHECK(error_of([&] { models::check_model_meta(json{{"model_spec", newer}}.dump(), *m, "newer.tide"); })
            .find("model.an_option_added_later is 1 in the file, absent in this model") != std::string::npos);
  // the first recorded specs held a variant's unread keys (a latent ODE's extrapolate_fraction for interpolation):
  // such a file still loads, and a key that does differ is still named
  Generator lgen(7);
  const models::ModelPtr latent = models::make_latent_ode(json{{"type", "latent_ode"}, {"latent", 2}}, 3, 1, lgen, DType::f64, "model");
  json first = *latent->spec();
  first["extrapolate_fraction"] = 0.5, first["ce_weight"] = 100.0, first["classifier_hidden"] = {300, 300};
  CHECK_NOTHROW(models::check_model_meta(json{{"model_spec", first}}.dump(), *latent, "first.tide"));
  first["latent"] = 3;
  CHECK(error_of([&] { models::check_model_meta(json{{"model_spec", first}}.dump(), *latent, "first.tide"); })
            .find("model.latent is 3 in the file, 2 in this model") != std::string::npos);
  // metadata nested far deeper than any spec is refused, not walked
  const std::string deep = "{\"model_spec\": " + std::string(100000, '[') + std::string(100000, ']') + "}";
  CHECK(error_of([&] { models::check_model_meta(deep, *m, "deep.tide"); }).find("nested deeper than 64 levels") != std::string::npos);
}

TEST_CASE("a path ending in .safetensors in any case is saved and loaded as safetensors") {
  // "x.SAFETENSORS" was written as a tide archive (bug hunt)
  CHECK(models::is_safetensors("w.SAFETENSORS"));
  CHECK(models::is_safetensors("w.SafeTensors"));
  CHECK(models::is_safetensors("w.safetensors"));
  CHECK_FALSE(models::is_safetensors("w.tide"));
  CHECK_FALSE(models::is_safetensors("safetensors"));
  const data::Dataset d = xor_dataset();
  Generator gen(7);
  const models::ModelPtr m = models::make_model(json{{"type", "gru"}, {"hidden", 3}}, d, gen, DType::f32, "model");
  m->save("test_model_case.SAFETENSORS");
  CHECK(load_safetensors("test_model_case.SAFETENSORS").contains("readout.weight"));
  CHECK_NOTHROW(m->load("test_model_case.SAFETENSORS"));
  std::remove("test_model_case.SAFETENSORS");
}

TEST_CASE("every model's recorded spec builds the same model again, as the message refusing another spec's file advises") {
  // (a latent ODE's and a vector CNF's spec recorded, with their defaults, keys their variant refuses when given:
  // extrapolate_fraction for interpolation, logit_alpha for vectors, solver.noise with the exact trace)
  const auto rebuilds = [](const std::function<models::ModelPtr(const json&)>& build, const json& spec) {
    INFO(spec.dump());
    const models::ModelPtr a = build(spec);
    REQUIRE(a->spec() != nullptr);
    INFO("recorded: " << a->spec()->dump());
    models::ModelPtr b;
    REQUIRE_NOTHROW(b = build(*a->spec()));
    CHECK(*b->spec() == *a->spec());
  };
  const data::Dataset d = xor_dataset();
  const auto sequence_model = [&](const json& spec) {
    Generator gen(3);
    return models::make_model(spec, d, gen, DType::f64, "model");
  };
  for (const auto& [type, summary] : models::cell_types()) rebuilds(sequence_model, {{"type", type}, {"hidden", 4}});
  for (const char* mode : {"no_gate", "minimal"}) rebuilds(sequence_model, {{"type", "cfc"}, {"hidden", 4}, {"mode", mode}});
  for (const char* wiring : {"random", "ncp"}) rebuilds(sequence_model, {{"type", "ltc_biophysical"}, {"wiring", wiring}});
  for (int classes : {1, 2})
    for (const char* task : {"interpolation", "extrapolation", "classification"})
      for (const char* encoder : {"ode_rnn", "rnn"})
        for (const char* generative : {"ode", "rnn"}) {
          if ((classes == 2) != (std::string(task) == "classification")) continue;
          rebuilds([&](const json& spec) -> models::ModelPtr {
            Generator gen(3);
            return models::make_latent_ode(spec, 3, classes, gen, DType::f64, "model");
          }, {{"type", "latent_ode"}, {"latent", 2}, {"task", task}, {"encoder", encoder}, {"generative", generative}});
        }
  for (const std::vector<std::int64_t>& image : {std::vector<std::int64_t>{}, std::vector<std::int64_t>{1, 4, 4}})
    for (std::int64_t dims : {2, 16}) {
      if (!image.empty() && dims != 16) continue;
      rebuilds([&](const json& spec) -> models::ModelPtr {
        Generator gen(3);
        return models::make_cnf(spec, dims, image, gen, DType::f64, "model");
      }, {{"type", "cnf"}, {"hidden", {8}}});
    }
  for (bool image : {false, true})
    rebuilds([&](const json& spec) -> models::ModelPtr {
      Generator gen(3);
      return models::make_ode_classifier(spec, image ? 16 : 3, 2, image, gen, DType::f64, "model");
    }, {{"type", "ode_classifier"}});
}
