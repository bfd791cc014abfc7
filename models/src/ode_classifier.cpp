// The ODE image classifier (ode_classifier.hpp): the pass, the loss and metrics, the config.
#include "tide/models/ode_classifier.hpp"
#include "flow_solve.hpp"
#include "spec_reader.hpp"
#include "tide/data/config_object.hpp"
#include "tide/data/vectors.hpp"
#include "tide/models/sequence_model.hpp"
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <numeric>

namespace tide::models {

using json = nlohmann::json;

OdeClassifier::OdeClassifier(const OdeClassifierOptions& o, Generator& gen)
    : options_(o), dynamics_(o.dims + o.augment, o.hidden, o.layer, o.activation, gen, o.dtype),
      classifier_(o.dims + o.augment, o.classes, gen, linear_options(o.dtype)) {
  if (o.dims < 1 || o.classes < 2 || o.augment < 0)
    fail("ode_classifier: needs dims >= 1, classes >= 2, augment >= 0; got {}, {}, {}", o.dims, o.classes, o.augment);
  if (!(o.end_time > 0)) fail("ode_classifier: end_time must be > 0, got {}", o.end_time);
}

std::string OdeClassifier::name() const {
  const std::int64_t D = options_.dims + options_.augment;
  std::string widths = std::to_string(D);
  for (std::int64_t h : options_.hidden) widths += fmt::format("-{}", h);
  const auto pick = [](const std::vector<std::string>& names, auto e) { return names[static_cast<std::size_t>(e)]; };
  const std::string train = options_.train.str(), test = options_.test.str();
  const auto no_trace = [](const std::string& s) { return s.substr(0, s.find(", ")); };
  return fmt::format("ODE classifier, dynamics {}-{} ({}, {}){}, T {:g}, linear to {} classes; {}{}", widths, D,
                     pick(cnf_layer_names(), options_.layer), pick(cnf_activation_names(), options_.activation),
                     options_.augment > 0 ? fmt::format(", {} augmented dims", options_.augment) : "", options_.end_time,
                     options_.classes, no_trace(train), test == train ? "" : "; evaluated with " + no_trace(test));
}

FlowPass OdeClassifier::pass(const Var& x, const CnfSolve& how, const Regularisers& reg, double steer, Generator* gen) const {
  if (x.rank() != 2 || x.size(1) != options_.dims)
    fail("ode_classifier: expected inputs [B, {}], got {}", options_.dims, x.shape().str());
  const DType dt = options_.dtype;
  Var z0 = cast(x, dt) * options_.input_scale;
  if (options_.augment > 0) z0 = concat({z0, Var(Tensor::zeros(Shape{x.size(0), options_.augment}, dt))}, 1);
  const Var T = detail::steered_end_time(Var(Tensor::full(Shape{1}, options_.end_time, dt)), steer, gen);
  const Var times = concat({Var(Tensor::zeros(Shape{1}, dt)), T}, 0);
  const Solution sol = solve(solver_dynamics_.get(), z0, times, detail::solve_options(how, reg, false, detail::next_seed(gen)));
  FlowPass out;
  out.z = select(sol.ys, 0, 1);
  out.kinetic = sol.kinetic, out.jacobian = sol.jacobian, out.taylor = sol.taylor;
  out.nfe = sol.stats->calls;
  out.stats.push_back(sol.stats);
  return out;
}

Var OdeClassifier::logits(const Var& x) const { return classifier_(pass(x, options_.test, Regularisers{}).z); }

BatchLoss OdeClassifier::loss(const data::Examples& examples, Mode mode, const Training& training) const {
  const data::VectorSet& set = data::vectors_of(examples, "ode_classifier");
  if (!set.labelled()) fail("ode_classifier: the vectors of '{}' carry no labels (datasets fashion_mnist with encoding images, idx)", set.name);
  const bool train = mode == Mode::train;
  Generator gen(train ? training.seed ^ 0x4f4443ULL : 0x4556414cULL);  // Jacobian noise and STEER draws
  gen.set_stream(training.first_stream(mode));  // eval: fixed per batch start, so batches draw different noise
  const Regularisers reg = detail::regularisers_for(train, report_regularisers, training);
  const FlowPass p = pass(Var(set.x), train ? options_.train : options_.test, reg, train ? training.steer : 0.0, &gen);
  const Var logits = classifier_(p.z);
  BatchLoss out;
  const std::vector<double>& cw = train ? training.class_weights : std::vector<double>{};
  if (cw.empty()) {
    out.loss = cross_entropy(logits, set.labels);
  } else {  // a mean weighted by class: an epoch pools its batches by their weights' sums
    const std::vector<double> w = class_weights_of(set.labels, cw);
    out.loss = weighted_cross_entropy(logits, set.labels.to_indices(), w);
    out.weight = std::accumulate(w.begin(), w.end(), 0.0);
  }
  const double n = static_cast<double>(set.size());
  const Tensor per_step = logits.value().reshape(Shape{set.size(), 1, options_.classes});
  out.metrics.emplace_back("accuracy", correct_predictions(per_step, set.labels, Tensor::ones(Shape{set.size(), 1}, DType::f64)));
  // the cross-entropy pools over batches as the loss does: by the class weights' sum when given
  const double pooled = out.pooled_weight(set.size());
  out.metrics.emplace_back("ce", MetricSums{out.loss.item() * pooled, pooled});
  out.metrics.emplace_back("nfe", MetricSums{static_cast<double>(p.nfe), 1.0});
  detail::add_regularisers(out, p, reg, train ? &training : nullptr, n);
  if (train) out.after_backward = backward_nfe(p.stats);
  else out.predictions = per_example_predictions(logits, set.labels);
  return out;
}

std::vector<std::pair<std::string, Var>> OdeClassifier::named_parameters() const {
  std::vector<std::pair<std::string, Var>> out;
  append_parameters(out, "dynamics", dynamics_);
  append_parameters(out, "classifier", classifier_);
  return out;
}

std::shared_ptr<OdeClassifier> make_ode_classifier(const nlohmann::json& spec, std::int64_t dims, std::int64_t classes,
                                                   bool image, Generator& gen, DType dtype, const std::string& where) {
  detail::SpecReader k(spec, where);
  k.string("type", "ode_classifier", {"ode_classifier"});
  OdeClassifierOptions o;
  o.dims = dims, o.classes = classes, o.dtype = dtype;
  o.input_scale = image ? 1.0 / 255 : 1.0;
  o.hidden = k.integers("hidden", o.hidden, 1, 1 << 16);
  o.augment = k.integer("augment", 0, 0, 1 << 16);
  o.layer = cnf_layer_from_name(k.string("layer", "concat", cnf_layer_names()));
  o.activation = cnf_activation_from_name(k.string("activation", "sigmoid", cnf_activation_names()));
  o.end_time = k.number("end_time", 1.0, 1e-6, 1e6);
  o.train.ode = OdeSpec{Method::dopri5, 1, 1e-5, 1e-5, GradientKind::discrete};
  o.train.regulariser_error_control = true;
  json solver, test_solver;  // (absent: their defaults, recorded as such)
  o.train = parse_cnf_solve(k.object("solver"), o.train, k.path("solver"), false, &solver);
  o.test = parse_cnf_solve(k.object("test_solver"), o.train, k.path("test_solver"), false, &test_solver);
  k.set("solver", std::move(solver));
  k.set("test_solver", std::move(test_solver));
  const bool report = k.boolean("report_regularisers", false);
  k.finish("model type 'ode_classifier'");
  auto model = std::make_shared<OdeClassifier>(o, gen);
  model->report_regularisers = report;
  model->set_spec(k.normal());
  return model;
}

}  // namespace tide::models
