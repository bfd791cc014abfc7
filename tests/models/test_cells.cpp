// Every cell type by name: shapes, masking, per-sample elapsed times, and the gradient of a
// sequence loss against f64 finite differences.
#include "model_test_util.hpp"
#include "../compare.hpp"
#include "../forwarding_backend.hpp"
#include "../cuda/cuda_test_util.hpp"
#include <map>

using namespace tide;
using namespace tide::models;
using namespace tide::models::testing;
using json = nlohmann::json;

namespace {

std::vector<json> all_specs() {
  return {
      {{"type", "ltc"}, {"hidden", 4}},
      {{"type", "ltc"}, {"hidden", 4}, {"solver", {{"method", "dopri5"}, {"rtol", 1e-8}, {"atol", 1e-10}}}},
      {{"type", "ltc_biophysical"}, {"hidden", 5}, {"motor", 2}},
      {{"type", "ltc_biophysical"}, {"wiring", "ncp"}, {"inter", 3}, {"command", 2}, {"motor", 1}, {"sensory_fanout", 2},
       {"inter_fanout", 2}, {"motor_fanin", 2}},
      {{"type", "ltc_biophysical"}, {"hidden", 4}, {"wiring", "random"}, {"sparsity", 0.5}, {"solver", {{"method", "rk4"}, {"unfolds", 2}}}},
      {{"type", "cfc"}, {"hidden", 4}, {"backbone_units", 6}},
      {{"type", "cfc"}, {"hidden", 4}, {"mode", "no_gate"}, {"backbone_layers", 2}, {"backbone_units", 5}},
      {{"type", "cfc"}, {"hidden", 4}, {"mode", "minimal"}, {"backbone_layers", 0}},
      {{"type", "mmrnn"}, {"hidden", 4}},
      {{"type", "mmrnn"}, {"hidden", 4}, {"ode_input", true}, {"forget_bias", 3.0}, {"solver", {{"method", "bosh3"}, {"rtol", 1e-10}, {"atol", 1e-12}}}},
      {{"type", "ode_rnn"}, {"hidden", 4}},
      {{"type", "ode_rnn"}, {"hidden", 4}, {"solver", {{"method", "dopri5"}, {"gradient", "adjoint"}, {"rtol", 1e-9}, {"atol", 1e-11}}}},
      {{"type", "node_rnn"}, {"hidden", 4}},
      {{"type", "ctrnn"}, {"hidden", 4}, {"solver", {{"method", "euler"}, {"unfolds", 3}}}},
      {{"type", "lstm"}, {"hidden", 4}},
      {{"type", "augmented_lstm"}, {"hidden", 4}},
      {{"type", "gru"}, {"hidden", 4}},
      {{"type", "gru_d"}, {"hidden", 4}},
      {{"type", "rnn"}, {"hidden", 4}},
  };
}

}  // namespace

TEST_CASE("every cell: the gradient of a padded irregular sequence loss matches f64 finite differences") {
  const Batch b = random_batch(3, 4, 2, 11);
  const Tensor weights = Generator(5).normal(Shape{3, 4, 2}, 0, 1, DType::f64);
  for (const json& spec : all_specs()) {
    CAPTURE(spec.dump());
    Generator gen(3);
    SequenceModel model(make_cell(spec, 2, gen, DType::f64), 2, gen);
    const Var x(b.x);
    auto loss = [&] { return sum(model(x, b.dt, b.mask) * Var(weights)); };
    const Var out = model(x, b.dt, b.mask);
    CHECK(out.shape() == Shape{3, 4, 2});
    const bool adjoint = spec.dump().find("adjoint") != std::string::npos;
    CHECK(worst_gradient_error(model, loss) < (adjoint ? 1e-5 : 1e-6));
  }
}

TEST_CASE("every cell: padding keeps the state, so a padded sequence reads out like the sequence alone") {
  const Batch b = random_batch(3, 5, 2, 21);
  for (const json& spec : all_specs()) {
    CAPTURE(spec.dump());
    Generator gen(4);
    SequenceModel model(make_cell(spec, 2, gen, DType::f64), 3, gen);
    NoGrad ng;
    const Tensor all = model(Var(b.x), b.dt, b.mask).value();
    // Row 2 has 3 valid steps; alone and unpadded it must give the same read-outs there.
    const Tensor alone = model(Var(b.x.slice(0, 2, 3).slice(1, 0, 3).contiguous()), b.dt.slice(0, 2, 3).slice(1, 0, 3).contiguous(),
                               Tensor::ones(Shape{1, 3}, DType::f64)).value();
    const std::vector<double> a = all.slice(0, 2, 3).slice(1, 0, 3).contiguous().to_vector(), c = alone.to_vector();
    for (std::size_t i = 0; i < a.size(); ++i) CHECK(a[i] == doctest::Approx(c[i]).epsilon(1e-9));
    // After the last valid step the read-out repeats (the state is held).
    const std::vector<double> tail = all.slice(0, 2, 3).contiguous().to_vector();
    for (int o = 0; o < 3; ++o) CHECK(tail[3 * 3 + o] == tail[2 * 3 + o]);
  }
}

TEST_CASE("a valid row's states do not depend on another row's padding, to the bit") {
  // The padded step blended state + m (next - state), which is not next to the bit where m = 1:
  // 283 of 960 f32 values of an LSTM's valid row moved with its neighbour's padding (bug hunt).
  const Batch b = random_batch(2, 8, 2, 31, DType::f32);
  Tensor padded = Tensor::ones(Shape{2, 8}, DType::f32);
  for (std::int64_t t = 2; t < 8; ++t) padded.slice(0, 1, 2).slice(1, t, t + 1).fill_(0.0);
  for (const json& spec : {json{{"type", "lstm"}, {"hidden", 6}}, json{{"type", "cfc"}, {"hidden", 6}},
                           json{{"type", "mmrnn"}, {"hidden", 6}}, json{{"type", "ltc_biophysical"}, {"hidden", 6}}}) {
    CAPTURE(spec.dump());
    Generator gen(4);
    SequenceModel model(make_cell(spec, 2, gen, DType::f32), 3, gen);
    NoGrad ng;
    const Tensor full = model(Var(b.x), b.dt, Tensor::ones(Shape{2, 8}, DType::f32)).value();
    const Tensor part = model(Var(b.x), b.dt, padded).value();
    CHECK(full.slice(0, 0, 1).contiguous().to_vector() == part.slice(0, 0, 1).contiguous().to_vector());
  }
}

TEST_CASE("every cell: a padded step's non-finite input changes neither the read-outs nor any gradient, compiled and eager") {
  // The padded row's x went into the step unmasked: its discarded result's zero cotangent times the
  // NaN partials (x^T g) made 24 to 84 parameter-gradient entries NaN per cell (bug hunt).
  const Batch b = random_batch(3, 4, 2, 41);
  const std::vector<double> m = b.mask.to_vector();
  std::vector<double> nan_x = b.x.to_vector();
  for (std::size_t i = 0; i < nan_x.size(); ++i)
    if (m[i / 2] == 0) nan_x[i] = std::nan("");
  const Tensor x_nan = Tensor::from_vector(nan_x, b.x.shape(), DType::f64);
  const Tensor weights = Generator(5).normal(Shape{3, 4, 2}, 0, 1, DType::f64);
  // the read-outs and every gradient (the parameters', and x's when it takes one) in one vector
  const auto outputs_and_gradients = [&](const SequenceModel& model, const Tensor& x, bool x_grad) {
    const Var input = x_grad ? Var::parameter(x) : Var(x);  // x sliced as it is, or time-major
    const Var out = model(input, b.dt, b.mask);
    std::vector<Var> wrt = model.parameters();
    if (x_grad) wrt.push_back(input);
    std::vector<double> all = out.value().to_vector();
    for (const Var& g : grad({sum(out * Var(weights))}, wrt, {}, {.allow_unused = true}))
      if (g.defined())
        for (double v : g.value().to_vector()) all.push_back(v);
    return all;
  };
  for (const json& spec : all_specs())
    for (const bool compiled : {true, false})
      for (const bool x_grad : {false, true}) {
        CAPTURE(spec.dump());
        CAPTURE(compiled);
        CAPTURE(x_grad);
        Generator gen(3);
        SequenceModel model(make_cell(spec, 2, gen, DType::f64), 2, gen);
        model.set_compiled(compiled);
        const std::vector<double> clean = outputs_and_gradients(model, b.x, x_grad);
        const std::vector<double> with_nan = outputs_and_gradients(model, x_nan, x_grad);
        REQUIRE(clean.size() == with_nan.size());
        for (std::size_t i = 0; i < clean.size(); ++i) CHECK(with_nan[i] == clean[i]);  // x's padded entries: 0 in both
      }
}

TEST_CASE("every cell: sequences with no step are refused naming the shape") {
  for (const json& spec : all_specs()) {
    CAPTURE(spec.dump());
    Generator gen(3);
    const SequenceModel model(make_cell(spec, 2, gen, DType::f64), 2, gen);
    const Tensor none = Tensor::ones(Shape{2, 0}, DType::f64);
    CHECK_THROWS_WITH_AS(model(Var(Tensor::zeros(Shape{2, 0, 2}, DType::f64)), none, none),
                         (model.cell().name() + ": sequences need at least one step, got x [2, 0, 2]").c_str(), Error);
  }
}

TEST_CASE("continuous-time cells: zero elapsed time leaves the ODE part unchanged") {
  // ODE-RNN with dt = 0 is a plain GRU on the same weights: compare with dt = 0 vs a huge dt.
  Generator gen(8);
  auto cell = make_cell({{"type", "ctrnn"}, {"hidden", 3}}, 2, gen, DType::f64);
  const Var x(Generator(1).normal(Shape{2, 2}, 0, 1, DType::f64));
  const Var h(Generator(2).normal(Shape{2, 3}, 0, 1, DType::f64));
  const Var next = cell->step(x, h, Var(Tensor::zeros(Shape{2, 1}, DType::f64)));
  const std::vector<double> a = next.value().to_vector(), c = h.value().to_vector();
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(a[i] == c[i]);
}

TEST_CASE("ct-rnn: a linear-decay closed form, and each sample integrated over its own elapsed time") {
  // With the input layer's weights and bias at zero, dh/dt = -h / tau: h(dt) = h0 exp(-dt / tau).
  Generator gen(9);
  CTRNNCell cell(1, 2, gen, OdeSpec{Method::dopri5, 1, 1e-10, 1e-12}, CellOptions{DType::f64}, 0.5);
  for (auto& [name, p] : cell.named_parameters())
    if (name != "log_tau") Tensor(p.value()).zero_();
  const Tensor dt = Tensor::from_vector({0.3, 1.7}, Shape{2, 1}, DType::f64);
  const Tensor h0 = Tensor::from_vector({1.0, -2.0, 0.5, 3.0}, Shape{2, 2}, DType::f64);
  const std::vector<double> h = cell.step(Var(Tensor::zeros(Shape{2, 1}, DType::f64)), Var(h0), Var(dt)).value().to_vector();
  const double e0 = std::exp(-0.3 / 0.5), e1 = std::exp(-1.7 / 0.5);
  CHECK(h[0] == doctest::Approx(1.0 * e0).epsilon(1e-8));
  CHECK(h[1] == doctest::Approx(-2.0 * e0).epsilon(1e-8));
  CHECK(h[2] == doctest::Approx(0.5 * e1).epsilon(1e-8));
  CHECK(h[3] == doctest::Approx(3.0 * e1).epsilon(1e-8));
}

TEST_CASE("mmrnn: with the ODE's weights at zero the state is the LSTM's, at every elapsed time") {
  Generator g1(12), g2(12);
  MMRNNCell mm(2, 3, g1, MMRNNVariant{}, DType::f64);
  LSTMCell lstm(2, 3, g2, CellOptions{DType::f64, 1.0});
  for (auto& [name, p] : mm.named_parameters())
    if (name.rfind("f.", 0) == 0) Tensor(p.value()).zero_();
  const Var x(Generator(1).normal(Shape{2, 2}, 0, 1, DType::f64));
  const Var s(Generator(2).normal(Shape{2, 6}, 0, 1, DType::f64));
  const Var dt(Tensor::from_vector({0.5, 7.0}, Shape{2, 1}, DType::f64));
  const std::vector<double> a = mm.step(x, s, dt).value().to_vector(), b = lstm.step(x, s, dt).value().to_vector();
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(a[i] == doctest::Approx(b[i]).epsilon(1e-14));
}

TEST_CASE("cfc minimal: the closed form -A exp(-t (|w| + |f|)) f + A") {
  Generator gen(13);
  CfCOptions o;
  o.dtype = DType::f64;
  o.mode = "minimal";
  o.backbone_layers = 0;
  CfCCell cell(1, 2, gen, o);
  const Var x(Tensor::from_vector({0.7}, Shape{1, 1}, DType::f64));
  const Var h(Tensor::from_vector({0.2, -0.4}, Shape{1, 2}, DType::f64));
  const Var dt(Tensor::from_vector({0.9}, Shape{1, 1}, DType::f64));
  auto params = cell.named_parameters();
  auto find = [&](const std::string& n) { for (auto& [k, v] : params) if (k == n) return v.value(); FAIL("no " << n); return Tensor(); };
  const std::vector<double> W = find("ff1.weight").to_vector(), bias = find("ff1.bias").to_vector();
  const std::vector<double> out = cell.step(x, h, dt).value().to_vector();
  const double in[3] = {0.7, 0.2, -0.4};
  for (int j = 0; j < 2; ++j) {
    double f = bias[j];
    for (int i = 0; i < 3; ++i) f += in[i] * W[i * 2 + j];
    CHECK(out[j] == doctest::Approx(-1.0 * std::exp(-0.9 * std::abs(f)) * f + 1.0).epsilon(1e-14));
  }
}

namespace {

// A fused cell step against the same step written in Var ops (f64): values to 1e-14 and the
// gradient of a random projection to every input in `wrt` to 1e-12.
void check_same_step(const Var& fused, const Var& reference, const std::vector<Var>& wrt, Generator& gen) {
  CHECK(test::max_rel_diff(fused.value(), reference.value()) <= 1e-14);
  const Var w(gen.normal(fused.shape(), 0, 1, DType::f64));
  const std::vector<Var> gf = grad({sum(fused * w)}, wrt), gr = grad({sum(reference * w)}, wrt);
  for (std::size_t i = 0; i < wrt.size(); ++i) {
    CAPTURE(i);
    CHECK(test::max_rel_diff(gf[i].value(), gr[i].value()) <= 1e-12);
  }
}

}  // namespace

TEST_CASE("cfc default and no_gate: the fused heads equal the paper's formula written in Var ops, values and every gradient (dt included)") {
  for (const std::string mode : {"default", "no_gate"}) {
    CAPTURE(mode);
    Generator gen(17);
    CfCOptions o;
    o.dtype = DType::f64;
    o.mode = mode;
    o.backbone_layers = 2;
    o.backbone_units = 7;
    CfCCell cell(3, 5, gen, o);
    std::map<std::string, Var> p;
    for (auto& [k, v] : cell.named_parameters()) p[k] = v;
    auto layer = [&](const Var& z, const std::string& name) { return matmul(z, p.at(name + ".weight")) + p.at(name + ".bias"); };
    auto formula = [&](const Var& x, const Var& h, const Var& dt) {
      Var z = concat({x, h}, 1);
      for (const char* b : {"backbone0", "backbone1"}) z = tanh(layer(z, b) * 0.666) * 1.7159;
      const Var f1 = tanh(layer(z, "ff1")), f2 = tanh(layer(z, "ff2"));
      const Var s = sigmoid(layer(z, "time_a") * dt + layer(z, "time_b"));
      return mode == "default" ? f1 * (1.0 - s) + s * f2 : f1 + s * f2;
    };
    Generator data(18);
    const Var x = Var::parameter(data.normal(Shape{4, 3}, 0, 1, DType::f64)), h = Var::parameter(data.normal(Shape{4, 5}, 0, 1, DType::f64));
    const Var dt = Var::parameter(data.uniform(Shape{4, 1}, 0.1, 2.0, DType::f64));
    std::vector<Var> wrt{x, h, dt};
    for (auto& [k, v] : p) wrt.push_back(v);
    check_same_step(cell.step(x, h, dt), formula(x, h, dt), wrt, data);
  }
}

TEST_CASE("lstm: the fused memory and output updates equal the gates written in Var ops, values and every gradient") {
  Generator gen(19);
  CellOptions o;
  o.dtype = DType::f64;
  o.forget_bias = 0.7;
  LSTMCell cell(3, 4, gen, o);
  std::map<std::string, Var> p;
  for (auto& [k, v] : cell.named_parameters()) p[k] = v;
  auto formula = [&](const Var& x, const Var& state) {
    const Var h = slice(state, 1, 0, 4), c = slice(state, 1, 4, 8);
    const Var g = matmul(concat({x, h}, 1), p.at("gates.weight")) + p.at("gates.bias");
    auto gate = [&](int k) { return slice(g, 1, 4 * k, 4 * k + 4); };
    const Var c_new = sigmoid(gate(1) + 0.7) * c + sigmoid(gate(0)) * tanh(gate(2));
    return concat({sigmoid(gate(3)) * tanh(c_new), c_new}, 1);
  };
  Generator data(20);
  const Var x = Var::parameter(data.normal(Shape{5, 3}, 0, 1, DType::f64)), state = Var::parameter(data.normal(Shape{5, 8}, 0, 1, DType::f64));
  const Var dt(Tensor::ones(Shape{5, 1}, DType::f64));
  check_same_step(cell.step(x, state, dt), formula(x, state), {x, state, p.at("gates.weight"), p.at("gates.bias")}, data);
}

TEST_CASE("registry: configuration errors name the key and what was expected") {
  Generator gen(1);
  auto message = [&](const json& spec) {
    try {
      make_cell(spec, 2, gen, DType::f32);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(message({{"hidden", 4}}).find("model: missing key 'type'") != std::string::npos);
  CHECK(message({{"type", "lstmm"}}).find("model.type: expected one of ltc, ltc_biophysical") != std::string::npos);
  CHECK(message({{"type", "lstm"}, {"hiden", 4}}).find("model.hiden: unknown key for model type 'lstm'; did you mean 'hidden'?") != std::string::npos);
  CHECK(message({{"type", "lstm"}, {"zz", 4}}).find("did you mean") == std::string::npos);  // nothing near
  CHECK(message({{"type", "gru"}, {"hidden", -3}}).find("model.hidden: expected an integer in 1..65536, got -3") != std::string::npos);
  CHECK(message({{"type", "mmrnn"}, {"solver", {{"method", "rk5"}}}}).find("model.solver.method: expected one of euler") != std::string::npos);
  CHECK(message({{"type", "ode_rnn"}, {"solver", {{"unfolds", "3"}}}}).find("model.solver.unfolds: expected an integer") != std::string::npos);
  CHECK(message({{"type", "ctrnn"}, {"solver", {{"method", "ltc_fused"}}}}).find("model.solver.method: ltc_fused solves only the LTC cells") != std::string::npos);
  auto cell = make_cell({{"type", "ctrnn"}, {"hidden", 2}}, 2, gen, DType::f32);
  CHECK_THROWS_WITH_AS(cell->step(Var(Tensor::zeros(Shape{1, 3})), cell->initial_state(1), Var(Tensor::ones(Shape{1, 1}))),
                       doctest::Contains("ctrnn: step expects x [B, 2], state [B, 2], dt [B, 1]"), Error);
}

TEST_CASE("regularisation scope: a CT-RNN's kinetic energy in real time matches the closed form") {
  // With its layer at zero a CT-RNN is dh/dt = -h / tau (tau = 1): h = h0 e^-t, so over an
  // interval of length d the integral of ||h'||^2 is ||h0||^2 (1 - e^-2d) / 2.
  Generator gen(5);
  Generator data(6);
  const Var x(data.normal(Shape{3, 2}, 0, 1, DType::f64));
  const Tensor h0 = data.normal(Shape{3, 3}, 0, 1, DType::f64);
  const std::vector<double> d = {0.5, 2.0, 0.0}, h = h0.to_vector();  // the last sample is padding
  const Var dt(Tensor::from_vector(d, Shape{3, 1}, DType::f64));
  for (Method method : {Method::dopri5, Method::rk4}) {  // rk4 goes through solve() too while regularised
    CAPTURE(method_name(method));
    CTRNNCell c(2, 3, gen, OdeSpec{method, method == Method::rk4 ? 64 : 1, 1e-10, 1e-12}, CellOptions{.dtype = DType::f64});
    for (auto& [name, p] : c.named_parameters()) {
      Tensor v = p.value();
      v.copy_(Tensor::zeros(v.shape(), DType::f64));
    }
    OdeRegulariser regulariser(OdeRegularisation{.kinetic = 3.0});
    c.step(x, Var(h0), dt, &regulariser);
    c.step(x, Var(h0), dt, &regulariser);  // two intervals add up
    c.step(x, Var(h0), dt);                // without it, nothing is added
    const std::vector<double> total = regulariser.total().value().to_vector();
    REQUIRE(total.size() == 3);
    for (int b = 0; b < 3; ++b) {
      const double sq = h[b * 3] * h[b * 3] + h[b * 3 + 1] * h[b * 3 + 1] + h[b * 3 + 2] * h[b * 3 + 2];
      CHECK(total[b] == doctest::Approx(2 * 3.0 * sq * (1 - std::exp(-2 * d[b])) / 2).epsilon(1e-7));
    }
  }
  CHECK_THROWS_WITH_AS(OdeRegulariser(OdeRegularisation{.kinetic = -1}), doctest::Contains("regularisation: weights must be >= 0, got kinetic -1"), Error);
}

TEST_CASE("every cell: one step compiled (autodiff/compile.hpp) equals the eager step in value and gradients, or is refused for an adaptive solver") {
  Generator data(8);
  const Tensor x = data.normal(Shape{3, 2}, 0, 1, DType::f64);
  const Tensor dt = data.uniform(Shape{3, 1}, 0.2, 1.5, DType::f64);
  const Tensor g = data.normal(Shape{3, 1}, 0, 1, DType::f64);
  for (const json& spec : all_specs()) {
    CAPTURE(spec.dump());
    Generator gen(3);
    const CellPtr cell = make_cell(spec, 2, gen, DType::f64);
    const Var h0(data.normal(Shape{3, cell->state_size()}, 0, 0.5, DType::f64));
    const VarFunction step = [cell](const std::vector<Var>& in) { return cell->step(in[0], in[1], in[2]); };
    const CompiledFunction compiled(step);
    std::vector<Var> wrt;
    for (const Var& p : cell->parameters()) wrt.push_back(p);
    auto run = [&](const VarFunction& f) {
      const Var h = Var::parameter(h0.value());
      const Var y = f({Var(x), h, Var(dt)});
      std::vector<Var> all{h};
      all.insert(all.end(), wrt.begin(), wrt.end());
      GradOptions opt;
      opt.allow_unused = true;
      std::vector<Tensor> out{y.value()};
      for (const Var& d : grad({sum(y * Var(g))}, all, {}, opt)) out.push_back(d.defined() ? d.value() : Tensor());
      return out;
    };
    const bool adaptive = spec.dump().find("rtol") != std::string::npos;
    if (adaptive) {  // step-size control reads error norms on the host: a plan cannot follow it
      CHECK_THROWS_WITH_AS(run(VarFunction([&](const std::vector<Var>& in) { return compiled(in); })),
                           doctest::Contains("back to the host"), Error);
      continue;
    }
    const auto want = run(step);
    for (int round = 0; round < 2; ++round) {
      const auto got = run([&](const std::vector<Var>& in) { return compiled(in); });
      REQUIRE(got.size() == want.size());
      for (std::size_t k = 0; k < got.size(); ++k) {
        CAPTURE(k);
        REQUIRE(got[k].defined() == want[k].defined());
        if (!got[k].defined()) continue;
        CHECK(test::max_rel_diff(got[k], want[k]) <= 1e-12);
      }
    }
  }
}

namespace {

// A sequence model's read-outs and the gradients of a weighted sum of them (parameters and input).
std::vector<Tensor> outputs_and_gradients(const SequenceModel& model, const Batch& b, const Tensor& weights) {
  const Var x = Var::parameter(b.x);
  const Var out = model(x, b.dt, b.mask);
  std::vector<Var> wrt = model.parameters();
  wrt.push_back(x);
  std::vector<Tensor> all{out.value()};
  for (const Var& d : grad({sum(out * Var(weights))}, wrt, {}, {.allow_unused = true})) all.push_back(d.defined() ? d.value() : Tensor());
  return all;
}

// A model built, fed and differentiated on `device`: compiled steps against eager ones there.
void check_compiled_steps(const json& spec, Device device) {
  CAPTURE(spec.dump());
  DeviceGuard on(device);
  Generator gen(3);
  SequenceModel model(make_cell(spec, 2, gen, DType::f64), 2, gen);
  const bool adaptive = spec.dump().find("rtol") != std::string::npos;
  for (const std::int64_t B : {3, 5, 3}) {  // a new batch size traces again; the old one replays
    CAPTURE(B);
    Batch b = random_batch(B, 4, 2, 30 + B);
    b = Batch{b.x.to(device), b.dt.to(device), b.mask.to(device)};
    const Tensor weights = Generator(5).normal(Shape{B, 4, 2}, 0, 1, DType::f64).to(device);
    model.set_compiled(false);
    const auto want = outputs_and_gradients(model, b, weights);
    model.set_compiled(true);
    const std::int64_t calls = model.compiled_step().stats().calls;
    const auto got = outputs_and_gradients(model, b, weights);
    CHECK(model.compiled_step().stats().calls - calls == (adaptive ? 0 : 4));  // 4 steps, or eager
    REQUIRE(got.size() == want.size());
    for (std::size_t k = 0; k < got.size(); ++k) {
      CAPTURE(k);
      REQUIRE(got[k].defined() == want[k].defined());
      if (!got[k].defined()) continue;
      CHECK(got[k].device() == device);
      CHECK(test::max_rel_diff(got[k].to(Device::cpu()), want[k].to(Device::cpu())) <= 1e-12);
    }
  }
  const CompileStats& s = model.compiled_step().stats();
  CHECK(s.traces == (adaptive ? 0 : 4));  // (B 3, B 5) x (first step's state without a gradient, later steps with)
  CHECK(s.backward_calls == (adaptive ? 0 : 12));
  CHECK(model.compiled_step().untraceable().empty());
}

}  // namespace

TEST_CASE("every cell: a sequence model's compiled steps (CompiledStep) equal its eager steps, values and gradients, across batch sizes") {
  for (const json& spec : all_specs()) check_compiled_steps(spec, Device::cpu());
}

TEST_CASE("every cell: compiled steps on a non-CPU device (a forwarding 'cuda' backend with the default fused kernels) equal eager ones") {
  test::ForwardingDevice dev(false);
  for (const json& spec : all_specs()) check_compiled_steps(spec, Device::cuda());
  CHECK(dev.backend.kernel_calls > 0);
}

TEST_CASE("every cell: compiled steps on the GPU equal eager ones there") {
  if (test::no_gpu()) return;
  for (const json& spec : all_specs()) check_compiled_steps(spec, Device::cuda());
}

TEST_CASE("CompiledStep: regularised steps run eagerly, evaluations are counted either way, and an untraceable step falls back") {
  Generator gen(2);
  const CellPtr cell = make_cell({{"type", "ctrnn"}, {"hidden", 3}, {"solver", {{"method", "rk4"}, {"unfolds", 2}}}}, 2, gen, DType::f64);
  const CompiledStep step(cell);
  Generator data(4);
  const Var x(data.normal(Shape{2, 2}, 0, 1, DType::f64)), h(data.normal(Shape{2, 3}, 0, 1, DType::f64));
  const Var dt(Tensor::full(Shape{2, 1}, 0.5, DType::f64));
  OdeRegulariser counting{OdeRegularisation{}}, kinetic{OdeRegularisation{.kinetic = 0.1}};
  CHECK(step.compiles(&counting));
  CHECK_FALSE(step.compiles(&kinetic));
  step(x, h, dt, &counting);
  step(x, h, dt, &counting);
  CHECK(counting.nfe() == 2 * 2 * 4);  // two steps of two RK4 unfolds, counted by the replays too
  CHECK(step.stats().calls == 2);
  step(x, h, dt, &kinetic);
  CHECK(step.stats().calls == 2);
  CHECK(kinetic.total().defined());

  // A custom LTC f that reads a value back to the host cannot be traced: the step runs eagerly.
  Generator gen2(5);
  const LTCCell::FFn reads = [](const Var& state, const Var& input) {
    const double scale = sum(input).item() > 1e9 ? 2.0 : 1.0;
    return sigmoid(state * scale);
  };
  const auto ltc = std::make_shared<LTCCell>(2, 3, gen2, LTCOptions{.dtype = DType::f64}, reads);
  const CompiledStep ltc_step(ltc);
  const Tensor eager = ltc->step(x, h, dt).value();
  CHECK(test::max_rel_diff(ltc_step(x, h, dt).value(), eager) == 0);
  CHECK(ltc_step.untraceable().find("back to the host") != std::string::npos);
  CHECK_FALSE(ltc_step.compiles(nullptr));
  CHECK(test::max_rel_diff(ltc_step(x, h, dt).value(), eager) == 0);
  CHECK_THROWS_WITH_AS(ltc_step(Var(Tensor::zeros(Shape{2, 5}, DType::f64)), h, dt), doctest::Contains("ltc"), Error);
}

TEST_CASE("a sequence model given x of another dtype names x and the model's dtype") {
  // the error came from inside the cell, naming an internal concat or mul
  Generator gen(3);
  for (const char* type : {"gru", "ltc_biophysical", "ctrnn"}) {
    CAPTURE(type);
    const models::SequenceModel model(models::make_cell(json{{"type", type}, {"hidden", 4}}, 2, gen, DType::f64), 1, gen);
    const Tensor dt = Tensor::ones(Shape{3, 2}, DType::f64), mask = Tensor::ones(Shape{3, 2}, DType::f64);
    CHECK_THROWS_WITH_AS(model(Var(gen.normal(Shape{3, 2, 2}, 0, 1, DType::f32)), dt, mask),
                         doctest::Contains((std::string(type) + ": x must be f64 (the model's dtype), got f32").c_str()), Error);
    CHECK(model(Var(gen.normal(Shape{3, 2, 2}, 0, 1, DType::f64)), dt, mask).shape() == Shape{3, 2, 1});
  }
}

TEST_CASE("a sequence model refuses a non-finite elapsed time on a valid step, and ignores one on a padded step") {
  // a NaN dt made the read-outs NaN with no error; an infinite one gave NaN in the fused LTC (inf / inf)
  Generator gen(5);
  const models::SequenceModel model(models::make_cell(json{{"type", "ltc"}, {"hidden", 3}}, 1, gen, DType::f64), 1, gen);
  const Var x(gen.normal(Shape{2, 3, 1}, 0, 1, DType::f64));
  const Tensor mask = Tensor::from_vector({1, 1, 1, 1, 1, 0}, Shape{2, 3}, DType::f64);
  for (const double bad : {std::nan(""), HUGE_VAL}) {
    CAPTURE(bad);
    const Tensor dt = Tensor::from_vector({1, 1, 1, 1, bad, 1}, Shape{2, 3}, DType::f64);
    CHECK_THROWS_WITH_AS(model(x, dt, mask), doctest::Contains("ltc: dt[1, 1] = "), Error);
    const Tensor padded = Tensor::from_vector({1, 1, 1, 1, 1, bad}, Shape{2, 3}, DType::f64);
    CHECK(std::isfinite(sum(model(x, padded, mask)).value().item()));
  }
}
