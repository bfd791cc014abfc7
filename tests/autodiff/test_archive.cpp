// Archives and saved optimizer state: a run saved mid-way and resumed in fresh objects continues
// bit for bit; load_state and load_module check everything before they change anything; archives
// round-trip every dtype and layout (the files themselves: test_archive_files.cpp).
#include "archive_test_util.hpp"
#include "tide/autodiff/archive.hpp"
#include "tide/autodiff/grad.hpp"
#include "tide/autodiff/ops.hpp"
#include "tide/core/random.hpp"
#include <doctest/doctest.h>
#include <cmath>
#include <functional>
#include <sys/stat.h>

using namespace tide;
using namespace tide::test;

namespace {

// ---- resuming training ------------------------------------------------------------------------

using MakeOptimizer = std::function<std::unique_ptr<Optimizer>(std::vector<Var>)>;

// A small regression model plus one extra parameter that enters the loss only from step 6 on, so
// at the save after step 4 it has no gradient history (lazy buffers not yet created).
struct Run {
  MLP mlp;
  Var extra;
  std::unique_ptr<Optimizer> optimizer;
  Run(std::uint64_t seed, DType dtype, const MakeOptimizer& make)
      : mlp(make_mlp(seed, dtype)), extra(Var::parameter(Tensor::full(Shape{2}, 0.25, dtype))) {
    std::vector<Var> params = mlp.parameters();
    params.push_back(extra);
    optimizer = make(params);
  }
  static MLP make_mlp(std::uint64_t seed, DType dtype) {
    Generator gen(seed);
    return MLP({3, 8, 2}, Activation::tanh, gen, {.dtype = dtype});
  }
  void step(int step_number) {
    Generator data(99);
    const DType dtype = extra.dtype();
    const Tensor x = data.normal(Shape{6, 3}, 0, 1, dtype), y = data.normal(Shape{6, 2}, 0, 1, dtype);
    if (step_number == 3) optimizer->set_learning_rate(optimizer->learning_rate() * 0.5);  // a schedule
    optimizer->zero_grad();
    Var out = mlp(Var(x));
    if (step_number >= 6) out = out + extra;
    backward(mean(square(out - Var(y))));
    optimizer->step();
  }
  std::vector<Var> all_parameters() const {
    std::vector<Var> params = mlp.parameters();
    params.push_back(extra);
    return params;
  }
};

void check_resume_is_bit_exact(const MakeOptimizer& make, DType dtype) {
  TempDir dir;
  const std::string path = dir.file("run.tidearch");
  Run straight(1, dtype, make);
  for (int s = 1; s <= 10; ++s) straight.step(s);

  {
    Run first(1, dtype, make);
    for (int s = 1; s <= 4; ++s) first.step(s);
    Archive archive;
    archive.meta_json = R"({"step": 4})";
    add_module(archive, "model.", first.mlp);
    archive.add("extra", first.extra.value());
    add_optimizer(archive, "optim.", *first.optimizer);
    save_archive(path, archive);
  }
  Run resumed(2, dtype, make);  // another init seed: every value must come from the archive
  CHECK_FALSE(same_bits(resumed.mlp.parameters()[0].value(), straight.mlp.parameters()[0].value()));
  const Archive archive = load_archive(path);
  CHECK(archive.meta_json == R"({"step": 4})");
  load_module(archive, "model.", resumed.mlp);
  Tensor extra = resumed.extra.value();
  extra.copy_(archive.at("extra"));
  load_optimizer(archive, "optim.", *resumed.optimizer);
  CHECK(resumed.optimizer->step_count() == 4);
  for (int s = 5; s <= 10; ++s) resumed.step(s);

  CHECK(resumed.optimizer->step_count() == straight.optimizer->step_count());
  CHECK(resumed.optimizer->learning_rate() == straight.optimizer->learning_rate());
  const auto a = straight.all_parameters(), b = resumed.all_parameters();
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) CHECK_MESSAGE(same_bits(a[i].value(), b[i].value()), "parameter ", i);
}

}  // namespace

TEST_CASE("a run saved after 4 steps and resumed in fresh objects matches 10 straight steps bit for bit") {
  const std::vector<std::pair<const char*, MakeOptimizer>> optimizers = {
      {"Adam", [](std::vector<Var> p) { return std::make_unique<Adam>(std::move(p), AdamOptions{.lr = 1e-2, .weight_decay = 1e-3}); }},
      {"AdamW amsgrad", [](std::vector<Var> p) {
         return std::make_unique<Adam>(std::move(p), AdamOptions{.lr = 1e-2, .weight_decay = 1e-2, .decoupled_weight_decay = true, .amsgrad = true});
       }},
      {"SGD nesterov", [](std::vector<Var> p) {
         return std::make_unique<SGD>(std::move(p), SGDOptions{.lr = 5e-2, .momentum = 0.9, .weight_decay = 1e-3, .nesterov = true});
       }},
      {"RMSprop centered momentum", [](std::vector<Var> p) {
         return std::make_unique<RMSprop>(std::move(p), RMSpropOptions{.lr = 1e-3, .momentum = 0.5, .weight_decay = 1e-3, .centered = true});
       }},
      {"Adamax", [](std::vector<Var> p) { return std::make_unique<Adamax>(std::move(p), AdamaxOptions{.lr = 1e-2, .weight_decay = 1e-3}); }},
  };
  for (const auto& [name, make] : optimizers)
    for (DType dtype : {DType::f32, DType::f64}) {
      CAPTURE(name);
      CAPTURE(dtype_name(dtype));
      check_resume_is_bit_exact(make, dtype);
    }
}

TEST_CASE("load_state rejects another optimizer's state, missing and mis-shaped keys, and changes nothing") {
  Generator gen(5);
  const Var w = Var::parameter(gen.normal(Shape{3}, 0, 1, DType::f64));
  const Var other = Var::parameter(gen.normal(Shape{4}, 0, 1, DType::f64));
  Adam adam({w}, {.lr = 0.1});
  adam.zero_grad();
  backward(sum(square(w)));
  adam.step();
  const auto state = adam.state();

  SGD sgd({w}, {.lr = 0.3, .momentum = 0.9});
  CHECK_THROWS_WITH_AS(sgd.load_state(state), doctest::Contains("kind.Adam"), Error);
  CHECK(sgd.learning_rate() == 0.3);

  Adam adamw({w}, {.decoupled_weight_decay = true});
  CHECK_THROWS_WITH_AS(adamw.load_state(state), doctest::Contains("kind.Adam"), Error);
  Adam amsgrad({w}, {.amsgrad = true});
  CHECK_THROWS_WITH_AS(amsgrad.load_state(state), doctest::Contains("'vmax.0'"), Error);
  Adam wrong_shape({other}, {.lr = 0.5});
  const std::string shape_error = error_of([&] { wrong_shape.load_state(state); });
  CHECK_MESSAGE(has(shape_error, "'m.0'"), shape_error);
  CHECK_MESSAGE(has(shape_error, "[4]"), shape_error);
  CHECK(wrong_shape.learning_rate() == 0.5);

  auto missing = state;
  missing.erase(missing.begin() + 3);
  Adam fresh({w}, {.lr = 0.5});
  CHECK_THROWS_WITH_AS(fresh.load_state(missing), doctest::Contains(("missing key '" + state[3].first + "'").c_str()), Error);
  auto mis_shaped = state;
  mis_shaped.back().second = Tensor::zeros(Shape{2}, DType::f64);
  CHECK_THROWS_WITH_AS(fresh.load_state(mis_shaped), doctest::Contains(("'" + state.back().first + "'").c_str()), Error);
  auto extra = state;
  extra.emplace_back("surprise", Tensor::zeros(Shape{1}));
  CHECK_THROWS_WITH_AS(fresh.load_state(extra), doctest::Contains("unexpected key 'surprise'"), Error);
  CHECK(fresh.learning_rate() == 0.5);
  CHECK(fresh.step_count() == 0);
  fresh.load_state(state);
  CHECK(fresh.learning_rate() == 0.1);
  CHECK(fresh.step_count() == 1);

  // SGD's momentum buffer is created by the first update: "not yet" survives the round trip
  SGD lazy({w, other}, {.momentum = 0.9});
  const auto lazy_state = lazy.state();
  bool has_mask = false;
  for (const auto& [key, t] : lazy_state) has_mask = has_mask || key == "momentum.defined";
  CHECK(has_mask);
  SGD lazy_copy({w, other}, {.momentum = 0.9});
  lazy_copy.load_state(lazy_state);
  CHECK(lazy_copy.state().size() == lazy_state.size());
}

TEST_CASE("load_state refuses non-finite buffers and negative second moments, naming the key and index") {
  // The state of `optimizer` after one step, with `key`'s element 1 replaced by `bad`, loaded into
  // a fresh copy: the error, or "(no error)".
  const auto load_with = [](const MakeOptimizer& make,
                            const std::string& key, double bad) {
    const Var w = Var::parameter(Tensor::from_vector({1.0, -2.0, 3.0}, Shape{3}, DType::f64));
    const auto trained = make({w});
    trained->zero_grad();
    backward(sum(square(w)));
    trained->step();
    auto state = trained->state();
    bool found = false;
    for (auto& [k, t] : state)
      if (k == key) {
        std::vector<double> values = t.to_vector();
        values[1] = bad;
        t = Tensor::from_vector(values, t.shape(), t.dtype());
        found = true;
      }
    REQUIRE_MESSAGE(found, key);
    const auto fresh = make({Var::parameter(Tensor::zeros(Shape{3}, DType::f64))});
    const double lr = fresh->learning_rate();
    const std::string error = error_of([&] { fresh->load_state(state); });
    CHECK(fresh->learning_rate() == lr);  // nothing changed
    return error;
  };
  const auto adam = [](std::vector<Var> p) { return std::make_unique<Adam>(std::move(p), AdamOptions{.lr = 0.1, .amsgrad = true}); };
  const auto adamax = [](std::vector<Var> p) { return std::make_unique<Adamax>(std::move(p), AdamaxOptions{.lr = 0.1}); };
  const auto rmsprop = [](std::vector<Var> p) {
    return std::make_unique<RMSprop>(std::move(p), RMSpropOptions{.lr = 0.1, .momentum = 0.5, .centered = true});
  };
  const auto sgd = [](std::vector<Var> p) { return std::make_unique<SGD>(std::move(p), SGDOptions{.lr = 0.1, .momentum = 0.9}); };
  CHECK(load_with(adam, "v.0", -1.0) == "Adam.load_state: key 'v.0' holds -1 at index 1, expected finite values >= 0 (a second moment)");
  CHECK(has(load_with(adam, "v.0", NAN), "key 'v.0' holds nan at index 1"));
  CHECK(has(load_with(adam, "vmax.0", -1e-30), "key 'vmax.0' holds -1e-30 at index 1"));
  CHECK(load_with(adam, "m.0", INFINITY) == "Adam.load_state: key 'm.0' holds inf at index 1, expected finite values");
  CHECK(load_with(adam, "m.0", -5.0) == "(no error)");  // a first moment may be negative
  CHECK(has(load_with(adamax, "u.0", -1.0), "Adamax.load_state: key 'u.0' holds -1 at index 1"));
  CHECK(has(load_with(adamax, "m.0", NAN), "key 'm.0' holds nan"));
  CHECK(has(load_with(rmsprop, "square_avg.0", -1.0), "RMSprop.load_state: key 'square_avg.0' holds -1 at index 1"));
  CHECK(has(load_with(rmsprop, "grad_avg.0", INFINITY), "key 'grad_avg.0' holds inf"));
  CHECK(has(load_with(rmsprop, "momentum.0", -INFINITY), "key 'momentum.0' holds -inf"));
  CHECK(load_with(rmsprop, "grad_avg.0", -0.5) == "(no error)");
  CHECK(has(load_with(sgd, "momentum.0", NAN), "SGD.load_state: key 'momentum.0' holds nan at index 1"));
}

TEST_CASE("an archive round-trips f32, f64 and i64 tensors, empty, scalar and non-contiguous ones") {
  TempDir dir;
  Generator gen(7);
  const Tensor matrix = gen.normal(Shape{4, 5}, 0, 1, DType::f64);
  Archive archive;
  archive.meta_json = "{\"note\": \"quotes \\\" and\\nnewlines, \xc3\xa9\"}";
  archive.add("f32", gen.normal(Shape{2, 3}, 0, 1, DType::f32));
  archive.add("f64", matrix);
  archive.add("i64", Tensor::from_indices({-3, 0, 7, INT64_MAX}, Shape{2, 2}));
  archive.add("empty", Tensor::zeros(Shape{0}));
  archive.add("empty 2d", Tensor::zeros(Shape{3, 0}, DType::i64));
  archive.add("scalar", Tensor::scalar(2.5, DType::f64));
  archive.add("transposed", matrix.transpose());
  archive.add("strided slice", matrix.slice(1, 1, 5, 2));
  archive.add("broadcast", Tensor::arange(3).unsqueeze(0).broadcast_to(Shape{2, 3}));
  CHECK_THROWS_WITH_AS(archive.add("f32", Tensor::zeros(Shape{1})), doctest::Contains("duplicate"), Error);
  const std::string path = dir.file("tensors.tidearch");
  save_archive(path, archive);
  const Archive loaded = load_archive(path);
  CHECK(loaded.path == path);
  CHECK(loaded.meta_json == archive.meta_json);
  REQUIRE(loaded.tensors.size() == archive.tensors.size());
  for (std::size_t i = 0; i < archive.tensors.size(); ++i) {
    CAPTURE(archive.tensors[i].first);
    CHECK(loaded.tensors[i].first == archive.tensors[i].first);
    CHECK(loaded.tensors[i].second.is_contiguous());
    CHECK(same_bits(loaded.tensors[i].second, archive.tensors[i].second));
  }
  CHECK(loaded.at("transposed").shape() == Shape{5, 4});
  CHECK(loaded.at("transposed").to_vector() == matrix.transpose().to_vector());
  CHECK(loaded.at("i64").to_indices() == std::vector<std::int64_t>{-3, 0, 7, INT64_MAX});
  CHECK(loaded.at("scalar").rank() == 0);
  CHECK(loaded.contains("empty 2d"));
  CHECK_FALSE(loaded.contains("nope"));
  const std::string missing = error_of([&] { loaded.at("nope"); });
  CHECK_MESSAGE(has(missing, "'nope'"), missing);
  CHECK_MESSAGE(has(missing, path), missing);

  Archive nothing;
  save_archive(path, nothing);
  CHECK(load_archive(path).tensors.empty());
  CHECK_THROWS_WITH_AS(load_archive(dir.file("absent")), doctest::Contains(dir.file("absent").c_str()), Error);
  CHECK_THROWS_WITH_AS(load_archive(dir.path.string()), doctest::Contains("not a regular file"), Error);
  // a FIFO: refused before it is opened (opening one waits for a writer, which would hang)
  const std::string fifo = dir.file("fifo");
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  CHECK_THROWS_WITH_AS(load_archive(fifo), doctest::Contains("not a regular file"), Error);
  CHECK_THROWS_WITH_AS(load_safetensors(fifo), doctest::Contains("not a regular file"), Error);
}

TEST_CASE("load_module checks every name, shape and dtype before it copies anything") {
  Generator gen(11);
  MLP small({2, 4, 1}, Activation::tanh, gen), wide({2, 5, 1}, Activation::tanh, gen), deep({2, 4, 4, 1}, Activation::tanh, gen);
  MLP target({2, 4, 1}, Activation::tanh, gen);
  const Tensor before = target.parameters()[0].value().clone();
  Archive archive;
  add_module(archive, "model.", wide);
  const auto version = target.parameters()[0].value().version();
  const std::string shape_error = error_of([&] { load_module(archive, "model.", target); });
  for (const char* part : {"'0.weight'", "[2, 4]", "[2, 5]"}) CHECK_MESSAGE(has(shape_error, part), shape_error);
  CHECK(same_bits(target.parameters()[0].value(), before));
  CHECK(target.parameters()[0].value().version() == version);

  Archive too_many;
  add_module(too_many, "model.", deep);
  CHECK_THROWS_AS(load_module(too_many, "model.", target), Error);
  Archive partial;
  add_module(partial, "m.", small);
  partial.tensors.pop_back();
  CHECK_THROWS_WITH_AS(load_module(partial, "m.", target), doctest::Contains("m.1.bias"), Error);
  Archive extra;
  add_module(extra, "m.", small);
  extra.add("m.head.weight", Tensor::zeros(Shape{1}));
  CHECK_THROWS_WITH_AS(load_module(extra, "m.", target), doctest::Contains("m.head.weight"), Error);
  Archive f64;
  MLP small64({2, 4, 1}, Activation::tanh, gen, {.dtype = DType::f64});
  add_module(f64, "m.", small64);
  CHECK_THROWS_WITH_AS(load_module(f64, "m.", target), doctest::Contains("f64"), Error);

  Archive good;
  add_module(good, "m.", small);
  load_module(good, "m.", target);
  const auto a = small.parameters(), b = target.parameters();
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(same_bits(a[i].value(), b[i].value()));
  CHECK(target.parameters()[0].value().version() > version);
}
