// The ODE image classifier (ode_classifier.hpp): its pass against a plain solve of the same
// dynamics, f64 finite-difference gradients with every regulariser and STEER on, the metrics and
// the config, and learning a Fashion-MNIST subset above chance.
#include "model_test_util.hpp"
#include "tide/data/idx.hpp"
#include "tide/data/registry.hpp"
#include "tide/data/vectors.hpp"
#include <filesystem>

using namespace tide;
using namespace tide::models;
using namespace tide::models::testing;
using json = nlohmann::json;

namespace {

// n labelled vectors of `dims` features in 0..255 (as images store them), labels i mod classes.
data::VectorSet labelled(std::int64_t n, std::int64_t dims, std::int64_t classes, std::uint64_t seed) {
  Generator gen(seed);
  data::VectorSet s;
  s.name = "synthetic";
  std::vector<double> x = gen.uniform(Shape{n, dims}, 0, 255, DType::f64).to_vector();
  for (double& v : x) v = std::floor(v);
  s.x = Tensor::from_vector(x, Shape{n, dims}, DType::f64);
  s.image = {1, 1, dims};
  std::vector<std::int64_t> y;
  for (std::int64_t i = 0; i < n; ++i) y.push_back(i % classes);
  s.labels = Tensor::from_indices(y, Shape{n});
  s.classes = classes;
  s.validate();
  return s;
}

data::Dataset dataset_of(const data::VectorSet& s) {
  data::Dataset d;
  d.train = d.val = d.test = std::make_shared<data::VectorExamples>(s);
  return d;
}

std::string message_of(const json& spec, const data::Dataset& d) {
  Generator gen(1);
  try {
    make_model(spec, d, gen, DType::f64, "model");
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("ode_classifier: the pass is a solve of [x / 255, 0...] through the dynamics; logits a linear map of z(T)") {
  const data::VectorSet s = labelled(6, 5, 3, 1);
  Generator gen(2);
  const auto model = std::dynamic_pointer_cast<OdeClassifier>(make_model(
      json{{"type", "ode_classifier"}, {"hidden", {4}}, {"augment", 2}, {"end_time", 0.7},
           {"solver", {{"method", "dopri5"}, {"rtol", 1e-10}, {"atol", 1e-10}}}},
      dataset_of(s), gen, DType::f64, "model"));
  REQUIRE(model);
  CHECK(model->name().find("ODE classifier, dynamics 7-4-7 (concat, sigmoid), 2 augmented dims, T 0.7, linear to 3 classes") == 0);
  // The same dynamics by hand: Linear([t, z]) -> sigmoid -> Linear([t, h]), from the parameters.
  std::map<std::string, Var> p;
  for (auto& [name, v] : model->named_parameters()) p[name] = v;
  const auto f = [&](const Var& z, const Var& t) {
    const Var tt = t.rank() == 2 ? t : Var(Tensor::full(Shape{z.size(0), 1}, t.value().item(), DType::f64));
    const Var h = sigmoid(matmul(concat({tt, z}, 1), p["dynamics.layer0.map0.weight"]) + p["dynamics.layer0.map0.bias"]);
    return matmul(concat({tt, h}, 1), p["dynamics.layer1.map0.weight"]) + p["dynamics.layer1.map0.bias"];
  };
  const Var z0 = concat({Var(s.x) * (1.0 / 255), Var(Tensor::zeros(Shape{6, 2}, DType::f64))}, 1);
  SolveOptions o;
  o.rtol = o.atol = 1e-10;
  const Var zT = select(solve(f, z0, Var(Tensor::from_vector({0.0, 0.7}, Shape{2}, DType::f64)), o).ys, 0, 1);
  const std::vector<double> want = (matmul(zT, p["classifier.weight"]) + p["classifier.bias"]).value().to_vector();
  const std::vector<double> got = model->logits(Var(s.x)).value().to_vector();
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-8));
}

TEST_CASE("ode_classifier: f64 finite-difference gradients with R_2, kinetic, Jacobian and STEER on; the metrics") {
  const data::VectorSet s = labelled(5, 4, 3, 3);
  const data::VectorExamples examples(s);
  for (const char* method : {"rk4", "dopri5"}) {
    CAPTURE(method);
    Generator gen(4);
    json solver = {{"method", method}, {"rtol", 1e-9}, {"atol", 1e-9}};
    if (std::string(method) == "rk4") solver = {{"method", method}, {"steps", 3}};  // (fixed steps read no tolerances)
    const ModelPtr model = make_model(json{{"type", "ode_classifier"}, {"hidden", {3}}, {"augment", 1}, {"solver", solver}},
                                      dataset_of(s), gen, DType::f64, "model");
    const Training t{.kinetic = 0.1, .jacobian = 0.05, .taylor_order = 2, .taylor = 0.02, .steer = 0.3, .seed = 5, .step = 2};
    CHECK(worst_gradient_error(*model, [&] { return model->loss(examples, Mode::train, t).loss; }, 2) < 1e-6);
    const BatchLoss plain = model->loss(examples, Mode::train, Training{.seed = 5, .step = 2});
    const BatchLoss reg = model->loss(examples, Mode::train, Training{.kinetic = 0.1, .taylor_order = 2, .taylor = 0.02});
    std::map<std::string, double> m;
    for (const auto& [name, sums] : reg.metrics) m[name] = sums.value / sums.count;
    CHECK(m.count("accuracy") == 1);
    CHECK(m.at("nfe") > 0);
    // dopri5: the regularisers' states take part in step control, so the steps differ a little
    CHECK(m.at("ce") == doctest::Approx(plain.loss.item()).epsilon(1e-7));
    CHECK(reg.loss.item() == doctest::Approx(m.at("ce") + 0.1 * m.at("K") + 0.02 * m.at("R_2")).epsilon(1e-12));
    CHECK(reg.after_backward);
  }
}

TEST_CASE("ode_classifier: with class weights train_ce pools as the loss does, by the weights' sum (it pooled by examples)") {
  // class weights [1, 0]; batch b holds class 1 only and counts for nothing in the loss's mean
  data::VectorSet s = labelled(6, 2, 2, 5);
  s.labels = Tensor::from_indices({0, 0, 1, 1, 1, 1}, Shape{6});
  const data::VectorExamples all(s);
  const data::ExamplesPtr a = all.slice(0, 4), b = all.slice(4, 6);
  Generator gen(1);
  const ModelPtr model = make_model(json{{"type", "ode_classifier"}, {"hidden", {3}}}, dataset_of(s), gen, DType::f64, "model");
  const Training t{.seed = 1, .class_weights = {1.0, 0.0}};
  double loss_sum = 0, weight_sum = 0;
  MetricSums ce;
  for (const data::ExamplesPtr& batch : {a, b}) {  // as the trainer pools an epoch
    const BatchLoss r = model->loss(*batch, Mode::train, t);
    const double w = r.pooled_weight(batch->size());
    loss_sum += r.loss.item() * w, weight_sum += w;
    for (const auto& [name, sums] : r.metrics)
      if (name == "ce") ce.value += sums.value, ce.count += sums.count;
  }
  REQUIRE(weight_sum == 2);
  CHECK(ce.count == 2);
  CHECK(ce.value / ce.count == doctest::Approx(loss_sum / weight_sum).epsilon(1e-12));  // was 2/3 of it
}

TEST_CASE("ode_classifier: compiled solves (the default) give the eager loss and gradients, with R_2 and K") {
  const data::VectorSet s = labelled(6, 4, 3, 4);
  const data::VectorExamples examples(s);
  Generator gen(6);
  const ModelPtr model = make_model(json{{"type", "ode_classifier"}, {"hidden", {5}}, {"augment", 1},
                                         {"solver", {{"method", "dopri5"}, {"rtol", 1e-8}, {"atol", 1e-8}}}},
                                    dataset_of(s), gen, DType::f64, "model");
  const Training t{.kinetic = 0.1, .taylor_order = 2, .taylor = 0.02, .seed = 5, .step = 2};
  CHECK(compiled_against_eager(*model, [&] { return model->loss(examples, Mode::train, t).loss; }) < 1e-9);
  const auto& classifier = dynamic_cast<const OdeClassifier&>(*model);
  CHECK(plan_calls(classifier.solver_dynamics().stats()) > 0);
}

TEST_CASE("ode_classifier: an eval batch's noise follows its first example (Training::first_stream), as a CNF's does") {
  // every eval batch drew stream 0, so the reported Jacobian term B repeated one batch's noise (bug hunt)
  const data::VectorSet s = labelled(4, 3, 2, 5);
  const data::VectorExamples examples(s);
  Generator gen(2);
  const ModelPtr model = make_model(json{{"type", "ode_classifier"}, {"hidden", {4}}, {"report_regularisers", true},
                                         {"solver", {{"method", "dopri5"}, {"rtol", 1e-6}, {"atol", 1e-6}}}},
                                    dataset_of(s), gen, DType::f64, "model");
  const auto jacobian_term = [&](std::int64_t first) {
    for (const auto& [name, sums] : model->loss(examples, Mode::eval, Training{.first_example = first}).metrics)
      if (name == "B") return sums.value / sums.count;
    FAIL("no B reported");
    return 0.0;
  };
  CHECK(jacobian_term(4) == jacobian_term(4));  // fixed per batch start
  CHECK(jacobian_term(0) != jacobian_term(4));
  CHECK(jacobian_term(4) != jacobian_term(1000));
}

TEST_CASE("ode_classifier: config errors name the key; unlabelled vectors are refused") {
  const data::Dataset d = dataset_of(labelled(4, 3, 2, 5));
  CHECK(message_of({{"type", "ode_classifier"}, {"solver", {{"trace", "exact"}}}}, d).find("model.solver.trace: unknown key") != std::string::npos);
  CHECK(message_of({{"type", "ode_classifier"}, {"activation", "relu6"}}, d).find("model.activation: expected one of") != std::string::npos);
  CHECK(message_of({{"type", "ode_classifier"}, {"augment", -1}}, d).find("model.augment") != std::string::npos);
  Generator gen(2);
  const auto by_default = std::dynamic_pointer_cast<OdeClassifier>(make_model({{"type", "ode_classifier"}}, d, gen, DType::f64, "model"));
  CHECK(by_default->options().train.regulariser_error_control);  // R_K kept non-negative by step control
  const auto without = std::dynamic_pointer_cast<OdeClassifier>(
      make_model({{"type", "ode_classifier"}, {"solver", {{"regulariser_error_control", false}}}}, d, gen, DType::f64, "model"));
  CHECK_FALSE(without->options().train.regulariser_error_control);
  CHECK_FALSE(without->options().test.regulariser_error_control);  // the test solver inherits the keys
  CHECK(message_of({{"type", "ode_classifier"}, {"solver", {{"method", "rk4"}, {"unfolds", 4}}}}, d).find("model.solver.unfolds: unknown key") != std::string::npos);
  data::VectorSet unlabelled = labelled(4, 3, 2, 5);
  unlabelled.labels = Tensor();
  CHECK(message_of({{"type", "ode_classifier"}}, dataset_of(unlabelled)).find("needs labelled vectors") != std::string::npos);
}

TEST_CASE("ode_classifier learns a small Fashion-MNIST subset above chance (7 x 7 pooled images, seconds)") {
  if (!std::filesystem::exists(data::fashion_mnist_file(data::fashion_mnist_dir(), "train-images-idx3-ubyte"))) {
    MESSAGE("skipped: Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)");
    return;
  }
  const data::Dataset d = data::load_dataset(
      json{{"dataset", "fashion_mnist"}, {"encoding", "images"}, {"downsample", 4}, {"limit", 600}, {"val_fraction", 0.25}}, 1, "data");
  Generator gen(6);
  const ModelPtr model = make_model(json{{"type", "ode_classifier"}, {"hidden", {32}}, {"solver", {{"method", "rk4"}, {"steps", 2}}}},
                                    d, gen, DType::f32, "model");
  Adam opt(model->parameters(), AdamOptions{.lr = 0.01});
  const data::VectorSet& train = data::vectors_of(*d.train, "train");
  for (int epoch = 0; epoch < 6; ++epoch)
    for (std::int64_t b = 0; b + 50 <= train.size(); b += 50) {
      opt.zero_grad();
      backward(model->loss(*d.train->slice(b, b + 50), Mode::train).loss);
      opt.step();
    }
  const Scores val = model->evaluate(*d.val, 150);
  MESSAGE("validation accuracy " << val.metric("accuracy"));
  CHECK(val.metric("accuracy") > 0.5);  // chance: 0.1
}
