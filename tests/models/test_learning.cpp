// Small, fast versions of the experiments: each model learns a task a sequence model must carry
// information through time for (the sign of the running sum of an irregularly sampled input), well
// above chance within a few dozen optimizer steps.
#include "model_test_util.hpp"
#include "tide/data/xor.hpp"

using namespace tide;
using namespace tide::models;
using json = nlohmann::json;

TEST_CASE("ltc, ltc_biophysical, cfc, mmrnn, ode_rnn, gru_d and lstm learn the sign of a running sum") {
  const std::int64_t B = 256, T = 6;
  Generator data(7);
  const Tensor x = data.normal(Shape{B, T, 1}, 0, 1);
  const Tensor dt = data.uniform(Shape{B, T}, 0.2, 1.0);
  const Tensor mask = Tensor::ones(Shape{B, T});
  const std::vector<double> xs = x.to_vector();
  std::vector<std::int64_t> labels(B);
  for (std::int64_t b = 0; b < B; ++b) {
    double s = 0;
    for (std::int64_t t = 0; t < T; ++t) s += xs[b * T + t];
    labels[b] = s > 0;
  }
  const Tensor y = Tensor::from_indices(labels, Shape{B});
  for (const json& spec : {json{{"type", "ltc"}, {"hidden", 8}}, json{{"type", "ltc_biophysical"}, {"hidden", 8}},
                           json{{"type", "cfc"}, {"hidden", 8}, {"backbone_units", 16}}, json{{"type", "mmrnn"}, {"hidden", 8}},
                           json{{"type", "ode_rnn"}, {"hidden", 8}}, json{{"type", "gru_d"}, {"hidden", 8}},
                           json{{"type", "lstm"}, {"hidden", 8}}}) {
    CAPTURE(spec.dump());
    Generator gen(1);
    SequenceModel model(make_cell(spec, 1, gen, DType::f32), 2, gen);
    Adam opt(model.parameters(), AdamOptions{.lr = 0.03});
    double first = 0, last = 0;
    for (int step = 0; step < 80; ++step) {
      opt.zero_grad();
      const Var loss = masked_cross_entropy(model(Var(x), dt, mask), y, mask);
      if (step == 0) first = loss.item();
      last = loss.item();
      backward(loss);
      opt.step();
    }
    NoGrad ng;
    const MetricSums acc = correct_predictions(model(Var(x), dt, mask).value(), y, mask);
    CHECK(last < 0.6 * first);
    CHECK(acc.value / acc.count > 0.85);
  }
}

TEST_CASE("mmrnn learns bit-stream XOR (parity) on a few hundred short blocks, dense and event-based") {
  // The mmRNN paper's XOR task with 6-bit blocks instead of 32: 512 training blocks, scored on
  // 512 fresh ones (the paper: 100,000 blocks of 32 bits, docs/results.md).
  for (data::XorEncoding encoding : {data::XorEncoding::dense, data::XorEncoding::event}) {
    CAPTURE(encoding == data::XorEncoding::dense ? "dense" : "event");
    const data::SequenceSet train = data::xor_bitstream(512, 3, encoding, 0, 6);
    const data::SequenceSet test = data::xor_bitstream(512, 3, encoding, 1, 6);
    Generator gen(2);
    SequenceModel model(make_cell(json{{"type", "mmrnn"}, {"hidden", 16}}, 1, gen, DType::f32), 2, gen);
    Adam opt(model.parameters(), AdamOptions{.lr = 0.02});
    for (int step = 0; step < 120; ++step) {
      opt.zero_grad();
      backward(masked_cross_entropy(model(Var(train.x), train.dt, train.mask), train.y, train.mask));
      opt.step();
    }
    NoGrad ng;
    const MetricSums acc = correct_predictions(model(Var(test.x), test.dt, test.mask).value(), test.y, test.mask);
    MESSAGE("test accuracy " << acc.value / acc.count);
    CHECK(acc.value / acc.count > 0.8);
  }
}
