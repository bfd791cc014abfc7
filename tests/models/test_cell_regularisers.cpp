// The cells' regularisers (cell.hpp, OdeRegularisation): RNODE's kinetic and Jacobian terms and
// TayNODE's R_K for every cell with an ODE part, through solve() and through the LTC fused solver.
#include "model_test_util.hpp"
#include "../heavy.hpp"
#include <map>

using namespace tide;
using namespace tide::models;
using namespace tide::models::testing;
using json = nlohmann::json;

namespace {

// Every cell with an ODE part, with each way it is integrated (fused, fixed step, adaptive).
std::vector<json> ode_specs() {
  return {
      {{"type", "ltc"}, {"hidden", 3}},
      {{"type", "ltc"}, {"hidden", 3}, {"solver", {{"method", "dopri5"}, {"rtol", 1e-8}, {"atol", 1e-10}}}},
      {{"type", "ltc_biophysical"}, {"hidden", 4}, {"motor", 2}, {"solver", {{"unfolds", 2}}}},
      {{"type", "ltc_biophysical"}, {"hidden", 3}, {"solver", {{"method", "rk4"}, {"unfolds", 2}}}},
      {{"type", "mmrnn"}, {"hidden", 3}},
      {{"type", "mmrnn"}, {"hidden", 3}, {"ode_input", true}, {"solver", {{"method", "bosh3"}, {"rtol", 1e-9}, {"atol", 1e-11}}}},
      {{"type", "ode_rnn"}, {"hidden", 3}},
      {{"type", "node_rnn"}, {"hidden", 3}},
      {{"type", "ctrnn"}, {"hidden", 3}, {"solver", {{"method", "euler"}, {"unfolds", 3}}}},
  };
}

// The regularisers' per-sample totals over a padded batch run through a sequence model.
std::vector<double> totals(SequenceModel& model, const Batch& b, OdeRegularisation weights) {
  OdeRegulariser r(weights);
  model(Var(b.x), b.dt, b.mask, &r);
  REQUIRE(r.total().defined());
  return r.total().value().to_vector();
}

}  // namespace

TEST_CASE("every ODE cell on Jets equals the cell on Vars: R_1 (Taylor mode) is the kinetic energy (Vars)") {
  const Batch b = random_batch(3, 3, 2, 31);
  for (const json& spec : ode_specs()) {
    CAPTURE(spec.dump());
    Generator gen(3);
    SequenceModel model(make_cell(spec, 2, gen, DType::f64), 2, gen);
    const std::vector<double> kinetic = totals(model, b, {.kinetic = 1.0});
    const std::vector<double> r1 = totals(model, b, {.taylor = 1.0, .taylor_order = 1});
    REQUIRE(kinetic.size() == 3);
    for (std::size_t i = 0; i < kinetic.size(); ++i) {
      CHECK(kinetic[i] > 0);
      CHECK(r1[i] == doctest::Approx(kinetic[i]).epsilon(1e-12));
    }
  }
}

TEST_CASE("R_K of a CT-RNN with linear dynamics equals its closed form, in real time, for K = 1..4") {
  // Layer at zero, tau = 2: h' = -h / 2, h = h0 e^(-t/2), h^(K) = (-1/2)^K h, so over an interval
  // from 0 to d the integral of ||h^(K)||^2 dt over |dt| is ||h0||^2 4^-K |1 - e^-d|. A negative d
  // (stepped backwards) gave 0 before (bug hunt): the penalty is over |dt|.
  Generator gen(5);
  const Var x(Generator(6).normal(Shape{4, 2}, 0, 1, DType::f64));
  const Tensor h0 = Generator(7).normal(Shape{4, 3}, 0, 1, DType::f64);
  const std::vector<double> d = {0.25, -1.5, 0.0, 1.5}, h = h0.to_vector();  // the third sample is padding
  const Var dt(Tensor::from_vector(d, Shape{4, 1}, DType::f64));
  for (int K = 1; K <= 4; ++K) {
    CAPTURE(K);
    CTRNNCell c(2, 3, gen, OdeSpec{Method::dopri5, 1, 1e-11, 1e-13}, CellOptions{.dtype = DType::f64}, 2.0);
    for (auto& [name, p] : c.named_parameters())
      if (name != "log_tau") Tensor(p.value()).zero_();
    OdeRegulariser r(OdeRegularisation{.taylor = 0.5, .taylor_order = K});
    c.step(x, Var(h0), dt, &r);
    const std::vector<double> total = r.total().value().to_vector();
    for (int s = 0; s < 4; ++s) {
      const double sq = h[s * 3] * h[s * 3] + h[s * 3 + 1] * h[s * 3 + 1] + h[s * 3 + 2] * h[s * 3 + 2];
      CHECK(total[s] == doctest::Approx(0.5 * sq * std::pow(4.0, -K) * std::fabs(1 - std::exp(-d[s]))).epsilon(1e-7));
    }
  }
}

TEST_CASE("R_6 over short intervals: exact in f64 (the factor to real time was capped at 1e30), refused where f32 cannot carry it") {
  Generator gen(5);
  const Var x(Generator(6).normal(Shape{2, 2}, 0, 1, DType::f64));
  const Tensor h0 = Generator(7).normal(Shape{2, 3}, 0, 1, DType::f64);
  const std::vector<double> d = {1e-3, 1e-4}, h = h0.to_vector();
  CTRNNCell c(2, 3, gen, OdeSpec{Method::dopri5, 1, 1e-11, 1e-13}, CellOptions{.dtype = DType::f64}, 2.0);
  for (auto& [name, p] : c.named_parameters())
    if (name != "log_tau") Tensor(p.value()).zero_();
  OdeRegulariser r(OdeRegularisation{.taylor = 1.0, .taylor_order = 6});
  c.step(x, Var(h0), Var(Tensor::from_vector(d, Shape{2, 1}, DType::f64)), &r);
  const std::vector<double> total = r.total().value().to_vector();
  for (int s = 0; s < 2; ++s) {
    const double sq = h[s * 3] * h[s * 3] + h[s * 3 + 1] * h[s * 3 + 1] + h[s * 3 + 2] * h[s * 3 + 2];
    CHECK(total[s] == doctest::Approx(sq * std::pow(4.0, -6) * (1 - std::exp(-d[s]))).epsilon(1e-6));
  }
  CTRNNCell c32(2, 3, gen, OdeSpec{Method::dopri5, 1, 1e-6, 1e-7}, CellOptions{.dtype = DType::f32}, 2.0);
  OdeRegulariser r32(OdeRegularisation{.taylor = 1.0, .taylor_order = 6});
  CHECK_THROWS_WITH_AS(c32.step(Var(x.value().to(DType::f32)), Var(h0.to(DType::f32)),
                                Var(Tensor::from_vector({1e-4, 0.5}, Shape{2, 1}, DType::f32)), &r32),
                       doctest::Contains("beyond what f32 resolves"), Error);
}

TEST_CASE("the LTC fused solver's regularisers are the rectangle rule at the unfolds' start states") {
  // One sample, one unfold: h dt-share times ||c - a v0||^2 for the kinetic term.
  Generator gen(8);
  LTCCell cell(2, 3, gen, LTCOptions{.dtype = DType::f64, .ode = {Method::ltc_fused, 1}});
  const Var x(Generator(9).normal(Shape{1, 2}, 0, 1, DType::f64));
  const Var v0(Generator(10).normal(Shape{1, 3}, 0, 1, DType::f64));
  const Var dt(Tensor::from_vector({0.7}, Shape{1, 1}, DType::f64));
  OdeRegulariser r(OdeRegularisation{.kinetic = 2.0});
  cell.step(x, v0, dt, &r);
  const LTCBase::Split s = cell.split(v0, cell.prepare(x), Rows());
  const double rate = sum(square(s.c - s.a * v0)).item();
  CHECK(r.total().item() == doctest::Approx(2.0 * 0.7 * rate).epsilon(1e-13));
  OdeRegulariser backwards(OdeRegularisation{.kinetic = 2.0});  // over |dt| (it was negative: bug hunt)
  cell.step(x, v0, -dt, &backwards);
  CHECK(backwards.total().item() == doctest::Approx(2.0 * 0.7 * rate).epsilon(1e-13));
}

TEST_CASE("every ODE cell: the gradient of a loss with the kinetic, Jacobian and R_3 terms matches f64 finite differences") {
  const Batch b = random_batch(2, 3, 2, 41);
  const Tensor weights = Generator(5).normal(Shape{2, 3, 2}, 0, 1, DType::f64);
  for (const json& spec : ode_specs()) {
    CAPTURE(spec.dump());
    Generator gen(3);
    SequenceModel model(make_cell(spec, 2, gen, DType::f64), 2, gen);
    const Var x(b.x);
    auto loss = [&] {
      OdeRegulariser r(OdeRegularisation{.kinetic = 0.3, .jacobian = 0.2, .taylor = 0.1, .taylor_order = 3, .seed = 7});
      const Var out = model(x, b.dt, b.mask, &r);
      return sum(out * Var(weights)) + sum(r.total());
    };
    CHECK(worst_gradient_error(model, loss, 2) < 1e-6);
  }
}

TEST_CASE("sequence models: every regulariser term is in the loss and reported by name; cells without an ODE part refuse") {
  const Batch b = random_batch(3, 3, 2, 51);
  data::SequenceSet set;
  set.x = b.x, set.dt = b.dt, set.mask = b.mask;
  set.y = Generator(4).normal(Shape{3, 3, 2}, 0, 1, DType::f64);
  set.task = data::Task::regression;
  set.per_step = true;
  const data::SequenceExamples examples(set);
  Generator gen(3);
  SequenceModel model(make_cell({{"type", "ode_rnn"}, {"hidden", 3}}, 2, gen, DType::f64), 2, gen, data::Task::regression);
  const BatchLoss plain = model.loss(examples, Mode::train);
  const Training t{.kinetic = 0.5, .jacobian = 0.25, .taylor_order = 2, .taylor = 0.1, .seed = 9};
  const BatchLoss reg = model.loss(examples, Mode::train, t);
  double added = 0;
  std::vector<std::string> names;
  for (const auto& [name, sums] : reg.metrics)
    if (name == "kinetic" || name == "jacobian" || name == "taylor") {
      names.push_back(name);
      CHECK(sums.value > 0);
      added += sums.value / sums.count;
    }
  CHECK(names == std::vector<std::string>{"kinetic", "jacobian", "taylor"});
  CHECK(reg.loss.item() == doctest::Approx(plain.loss.item() + added).epsilon(1e-10));
  CHECK(model.loss(examples, Mode::eval, t).metrics.size() == plain.metrics.size());  // evaluation: off
  SequenceModel cfc(make_cell({{"type", "cfc"}, {"hidden", 3}}, 2, gen, DType::f64), 2, gen, data::Task::regression);
  CHECK_THROWS_WITH_AS(cfc.loss(examples, Mode::train, Training{.taylor_order = 2, .taylor = 0.1}),
                       doctest::Contains("regularisers.taylor: cfc has no ODE part"), Error);
  CHECK_THROWS_WITH_AS(OdeRegulariser(OdeRegularisation{.taylor = 1, .taylor_order = 7}),
                       doctest::Contains("taylor_order must be 1..6"), Error);
}

TEST_CASE("R_K of an ODE-RNN with constant dynamics (a straight-line trajectory) is ||c||^2 dt for K = 1 and 0 above") {
  // With the first layer's weights at zero, f(h) = tanh(b1) W2 + b2 = c: h(t) = h0 + c t.
  Generator gen(11);
  ODERNNCell cell(2, 3, gen, OdeSpec{Method::rk4, 2}, CellOptions{.dtype = DType::f64});
  std::map<std::string, Var> p;
  for (auto& [name, v] : cell.named_parameters()) p[name] = v;
  Tensor(p.at("f.0.weight").value()).zero_();
  const std::vector<double> b1 = p.at("f.0.bias").value().to_vector(), W2 = p.at("f.1.weight").value().to_vector(),
                            b2 = p.at("f.1.bias").value().to_vector();
  double cc = 0;
  for (int j = 0; j < 3; ++j) {
    double c = b2[j];
    for (int i = 0; i < 3; ++i) c += std::tanh(b1[i]) * W2[i * 3 + j];
    cc += c * c;
  }
  const Var x(Tensor::zeros(Shape{2, 2}, DType::f64)), h0(Generator(12).normal(Shape{2, 3}, 0, 1, DType::f64));
  const Var dt(Tensor::from_vector({0.4, 1.3}, Shape{2, 1}, DType::f64));
  for (int K = 1; K <= 3; ++K) {
    CAPTURE(K);
    OdeRegulariser r(OdeRegularisation{.taylor = 1.0, .taylor_order = K});
    cell.step(x, h0, dt, &r);
    const std::vector<double> total = r.total().value().to_vector();
    CHECK(total[0] == doctest::Approx(K == 1 ? cc * 0.4 : 0.0).epsilon(1e-12).scale(1.0));
    CHECK(total[1] == doctest::Approx(K == 1 ? cc * 1.3 : 0.0).epsilon(1e-12).scale(1.0));
  }
}

TEST_CASE("padded steps integrate nothing: regularisers, valid rows' values and gradients and the solvers' steps ignore their dt") {
  // a padded step's dt was passed to the cell with the regulariser: a CT-RNN row charged 0.314
  // for what it charges 0.039 alone, and adaptive solvers stepped through the padding (bug hunt)
  const Batch b = random_batch(3, 3, 2, 61);  // rows of 3, 2 and 1 valid steps
  const std::vector<double> m = b.mask.to_vector();
  std::vector<double> long_padding = b.dt.to_vector(), zero_padding = long_padding;
  for (std::size_t i = 0; i < m.size(); ++i)
    if (m[i] == 0) long_padding[i] = 5.0, zero_padding[i] = 0.0;
  const Tensor dt_long = Tensor::from_vector(long_padding, Shape{3, 3}, DType::f64);
  const Tensor dt_zero = Tensor::from_vector(zero_padding, Shape{3, 3}, DType::f64);
  for (const json& spec : ode_specs()) {
    CAPTURE(spec.dump());
    const bool adaptive = spec.contains("solver") && spec["solver"].contains("method") &&
                          (spec["solver"]["method"] == "dopri5" || spec["solver"]["method"] == "bosh3");
    Generator gen(7);
    SequenceModel model(make_cell(spec, 2, gen, DType::f64), 2, gen);
    for (const bool compiled : {true, false}) {
      CAPTURE(compiled);
      model.set_compiled(compiled);
      // the loss of the valid steps' read-outs plus the regularisers, its value, gradients and NFE
      const auto run = [&](const Tensor& dt) {
        OdeRegulariser r(OdeRegularisation{.kinetic = 1.0, .jacobian = 0.5, .taylor = 0.1, .taylor_order = 2, .seed = 3});
        const Var out = model(Var(b.x), dt, b.mask, &r);
        const Var loss = sum(out * Var(b.mask.unsqueeze(2))) + sum(r.total());
        std::vector<double> values = r.total().value().to_vector();
        values.push_back(loss.item());
        for (const Var& g : grad({loss}, model.parameters(), {}, {.allow_unused = true}))
          if (g.defined())
            for (double v : g.value().to_vector()) values.push_back(v);
        return std::pair{values, r.nfe()};
      };
      const auto [padded, nfe_padded] = run(dt_long);
      const auto [zero, nfe_zero] = run(dt_zero);
      CHECK(padded == zero);
      CHECK(nfe_padded == nfe_zero);
      if (adaptive) continue;  // alone, a row's adaptive steps are its own, not the batch's
      // the row of one valid step charges what it charges alone
      OdeRegulariser alone(OdeRegularisation{.kinetic = 1.0});
      model(Var(b.x.slice(0, 2, 3).slice(1, 0, 1).contiguous()), dt_zero.slice(0, 2, 3).slice(1, 0, 1).contiguous(),
            Tensor::ones(Shape{1, 1}, DType::f64), &alone);
      OdeRegulariser batch(OdeRegularisation{.kinetic = 1.0});
      model(Var(b.x), dt_long, b.mask, &batch);
      CHECK(batch.total().value().to_vector()[2] == doctest::Approx(alone.total().item()).epsilon(1e-12));
    }
  }
}
