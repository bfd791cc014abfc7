// Archives and saved optimizer state: a run saved mid-way and resumed in fresh objects continues
// bit for bit; corrupted files are rejected with errors naming the file; a failed save leaves the
// previous file as it was.
#include "tide/autodiff/archive.hpp"
#include "tide/autodiff/grad.hpp"
#include "tide/autodiff/ops.hpp"
#include "tide/core/random.hpp"
#include <doctest/doctest.h>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <sys/stat.h>
#include <unistd.h>

using namespace tide;
namespace fs = std::filesystem;

namespace {

// A fresh directory under the system temp directory, removed with its contents at scope exit.
struct TempDir {
  fs::path path;
  TempDir() {
    static int counter = 0;
    path = fs::temp_directory_path() / fmt::format("tide-test-archive-{}-{}", static_cast<long>(::getpid()), counter++);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::permissions(path, fs::perms::owner_all, fs::perm_options::add, ignored);
    fs::remove_all(path, ignored);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// The message of the tide::Error that `f` throws ("(no error)" when it throws none).
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}
bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || !(a.shape() == b.shape())) return false;
  const Tensor ca = a.to(Device::cpu()).contiguous(), cb = b.to(Device::cpu()).contiguous();
  return std::memcmp(ca.raw_data(), cb.raw_data(), static_cast<std::size_t>(ca.numel()) * dtype_size(ca.dtype())) == 0;
}

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

namespace {
// An archive file written by hand (FNV-1a 64 re-implemented here) to reach the loader's
// structural checks behind a valid checksum.
std::string forge(const std::string& header, const std::string& data, std::uint32_t version = 1) {
  std::string bytes = "TIDEARCH";
  for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<char>((version >> (8 * i)) & 0xff));
  for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<char>((std::uint64_t{header.size()} >> (8 * i)) & 0xff));
  bytes += header + data;
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;
  for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<char>((h >> (8 * i)) & 0xff));
  return bytes;
}
}  // namespace

TEST_CASE("corrupted archives are rejected with an error naming the file, never a crash") {
  TempDir dir;
  Archive archive;
  archive.meta_json = "{\"k\": 1}";
  archive.add("w", Tensor::from_vector({1, 2, 3, 4}, Shape{2, 2}));
  archive.add("n", Tensor::from_indices({5}, Shape{1}));
  const std::string good_path = dir.file("good.tidearch"), path = dir.file("bad.tidearch");
  save_archive(good_path, archive);
  const std::string good = read_bytes(good_path);
  REQUIRE(good.size() > 40);

  std::vector<std::string> problems;
  auto expect_rejected = [&](const std::string& bytes, const std::string& what) {
    write_bytes(path, bytes);
    try {
      load_archive(path);
      problems.push_back(what + ": loaded without error");
    } catch (const Error& e) {
      if (!std::string(e.what()).starts_with("load_archive '" + path + "'")) problems.push_back(what + ": " + e.what());
    } catch (const std::exception& e) {
      problems.push_back(what + ": not a tide::Error: " + e.what());
    }
  };
  for (std::size_t n = 0; n < good.size(); ++n) expect_rejected(good.substr(0, n), fmt::format("truncated to {}", n));
  for (std::size_t i = 0; i < good.size(); ++i)
    for (unsigned char mask : {0x01, 0x80, 0xff}) {
      std::string bad = good;
      bad[i] = static_cast<char>(bad[i] ^ mask);
      expect_rejected(bad, fmt::format("byte {} xor {}", i, mask));
    }
  expect_rejected(good + "x", "one byte appended");
  CHECK(problems.empty());
  for (std::size_t i = 0; i < problems.size() && i < 10; ++i) MESSAGE(problems[i]);

  auto message = [&](const std::string& bytes) -> std::string {
    write_bytes(path, bytes);
    try {
      load_archive(path);
    } catch (const Error& e) {
      return e.what();
    }
    return "loaded";
  };
  CHECK(message(good.substr(0, 30)).find("truncated at byte 30") != std::string::npos);
  CHECK(message("NOTANARCHIVE").find("bad magic") != std::string::npos);
  std::string flipped = good;
  flipped[good.size() - 20] ^= 0x10;
  CHECK(message(flipped).find("checksum mismatch") != std::string::npos);

  const std::string data(16, '\0');
  auto header = [](const std::string& tensors, int data_size = 16) {
    return fmt::format(R"({{"tensors": [{}], "data_size": {}, "meta": ""}})", tensors, data_size);
  };
  const std::string w = R"({"name": "w", "dtype": "f32", "shape": [2, 2], "offset": 0, "size": 16})";
  CHECK(message(forge(header(w), data)) == "loaded");
  CHECK(message(forge(header(w), data, 2)).find("unsupported format version 2") != std::string::npos);
  CHECK(message(forge("{\"tensors\": [", data)).find("header JSON error") != std::string::npos);
  const std::string w_again = R"({"name": "w", "dtype": "f32", "shape": [4], "offset": 16, "size": 16})";
  CHECK(message(forge(header(w + ", " + w_again, 32), data + data)).find("duplicate tensor name 'w'") != std::string::npos);
  CHECK(message(forge(header(R"({"name": "w", "dtype": "f32", "shape": [2, 2], "offset": 8, "size": 16})"), data))
            .find("outside the data section") != std::string::npos);
  CHECK(message(forge(header(R"({"name": "w", "dtype": "f64", "shape": [2, 2], "offset": 0, "size": 16})"), data))
            .find("does not match") != std::string::npos);
  CHECK(message(forge(header(R"({"name": "w", "dtype": "f16", "shape": [2, 2], "offset": 0, "size": 16})"), data))
            .find("unknown dtype") != std::string::npos);
  CHECK(message(forge(header(R"({"name": "w", "dtype": "f32", "shape": [4294967296, 4294967296, 0], "offset": 0, "size": 0})"), data))
            .find("too large") != std::string::npos);
  CHECK(message(forge(header(R"({"name": "w", "dtype": "f32", "shape": [-2, 2], "offset": 0, "size": 16})"), data))
            .find("not an unsigned integer") != std::string::npos);
  CHECK(message(forge(header(w, 1 << 30), data)).find("truncated") != std::string::npos);
  CHECK(message(forge(header(w + ", " + R"({"name": "v", "dtype": "i64", "shape": [2], "offset": 0, "size": 16})"), data))
            .find("more bytes than the data section") != std::string::npos);
  const std::string zero_sized = R"({"name": "z", "dtype": "i64", "shape": [1000000, 0], "offset": 16, "size": 0})";
  CHECK(message(forge(header(zero_sized), data)) == "loaded");
}

TEST_CASE("a failed save leaves the previous archive byte for byte and no temporary file") {
  TempDir dir;
  const std::string path = dir.file("checkpoint.tidearch");
  Archive first;
  first.add("w", Tensor::from_vector({1, 2, 3}, Shape{3}));
  save_archive(path, first);
  const std::string before = read_bytes(path);
  Archive second;
  second.add("w", Tensor::from_vector({4, 5, 6, 7}, Shape{4}));

  // the temporary file cannot be created: a directory sits where it would go
  const std::string temp = fmt::format("{}.tmp-{}", path, static_cast<long>(::getpid()));
  fs::create_directory(temp);
  CHECK_THROWS_WITH_AS(save_archive(path, second), doctest::Contains(path.c_str()), Error);
  CHECK(read_bytes(path) == before);
  fs::remove(temp);

  // the rename fails: the archive's path is a directory
  const std::string dir_path = dir.file("a directory");
  fs::create_directory(dir_path);
  CHECK_THROWS_WITH_AS(save_archive(dir_path, second), doctest::Contains(dir_path.c_str()), Error);
  CHECK(fs::is_directory(dir_path));

  // the directory does not exist
  CHECK_THROWS_WITH_AS(save_archive(dir.file("no/such/dir/x.tidearch"), second), doctest::Contains("no/such/dir"), Error);

  // the directory is not writable (root may write anyway, so only checked for other users)
  if (::geteuid() != 0) {
    fs::permissions(dir.path, fs::perms::owner_write, fs::perm_options::remove);
    CHECK_THROWS_WITH_AS(save_archive(path, second), doctest::Contains(path.c_str()), Error);
    fs::permissions(dir.path, fs::perms::owner_write, fs::perm_options::add);
    CHECK(read_bytes(path) == before);
  }

  // bad input fails before the file system is touched
  Archive undefined;
  undefined.tensors.emplace_back("u", Tensor());
  CHECK_THROWS_WITH_AS(save_archive(path, undefined), doctest::Contains("'u'"), Error);
  Archive duplicate = first;
  duplicate.tensors.push_back(duplicate.tensors[0]);
  CHECK_THROWS_WITH_AS(save_archive(path, duplicate), doctest::Contains("duplicate"), Error);
  Archive bad_utf8;
  bad_utf8.meta_json = "\xff\xfe";
  CHECK_THROWS_WITH_AS(save_archive(path, bad_utf8), doctest::Contains(path.c_str()), Error);
  CHECK(read_bytes(path) == before);

  std::vector<std::string> leftovers;
  for (const auto& entry : fs::directory_iterator(dir.path))
    if (entry.path().filename().string().find(".tmp-") != std::string::npos) leftovers.push_back(entry.path().string());
  CHECK(leftovers.empty());

  save_archive(path, second);  // and a save that succeeds replaces it
  CHECK(load_archive(path).at("w").numel() == 4);
}

namespace {

// A safetensors file written by hand: the u64 header length, the JSON header, the buffer.
std::string safetensors_bytes(const std::string& header, const std::string& buffer) {
  std::string out(8, '\0');
  const std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + buffer;
}

std::string float_bytes(std::initializer_list<float> values) {
  std::string out;
  for (float v : values) out.append(reinterpret_cast<const char*>(&v), sizeof v);
  return out;
}

}  // namespace

TEST_CASE("safetensors: a file written as the format describes is read; tide's own round-trips with its metadata") {
  TempDir dir;
  // as other tools write it: keys in any order, offsets not in key order, padding spaces after the JSON
  const std::string header = R"({"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]},"__metadata__":{"format":"pt"}})";
  const std::string path = dir.file("hand.safetensors");
  std::ofstream(path, std::ios::binary) << safetensors_bytes(header + "   ", float_bytes({7.0f, 1.5f, -2.0f}));
  const Archive hand = load_safetensors(path);
  REQUIRE(hand.tensors.size() == 2);
  CHECK(hand.at("a").to_vector() == std::vector<double>{1.5, -2.0});
  CHECK(hand.at("b").shape() == Shape{1});
  CHECK(hand.at("b").to_vector() == std::vector<double>{7.0});
  CHECK(hand.meta_json.empty());

  Archive a;
  a.add("w", Tensor::from_vector({1, 2, 3, 4, 5, 6}, Shape{2, 3}, DType::f32));
  a.add("v", Tensor::from_vector({0.1, -0.25}, Shape{2}, DType::f64));
  a.add("k", Tensor::from_indices({-3, 9}, Shape{2}));
  a.meta_json = "{\"model\": \"cfc\"}";
  save_safetensors(dir.file("rt.safetensors"), a);
  const std::string bytes = read_bytes(dir.file("rt.safetensors"));
  CHECK((bytes.size() - 8 - (6 * 4 + 2 * 8 + 2 * 8)) % 8 == 0);  // the header is padded so the buffer is 8-aligned
  const Archive back = load_safetensors(dir.file("rt.safetensors"));
  CHECK(back.meta_json == a.meta_json);
  for (const auto& [name, t] : a.tensors) {
    CAPTURE(name);
    CHECK(back.at(name).dtype() == t.dtype());
    CHECK(back.at(name).shape() == t.shape());
    CHECK(back.at(name).to_vector() == t.to_vector());
  }
}

TEST_CASE("safetensors: bad files are errors naming the file and the tensor") {
  TempDir dir;
  const auto check = [&](const std::string& bytes, const std::string& expected) {
    const std::string path = dir.file("bad.safetensors");
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
    std::string message;
    try {
      load_safetensors(path);
    } catch (const Error& e) {
      message = e.what();
    }
    INFO("message: " << message);
    CHECK(message.find("load_safetensors '" + path + "'") != std::string::npos);
    CHECK(message.find(expected) != std::string::npos);
  };
  check("abc", "fewer than the 8-byte header length");
  check(safetensors_bytes("{x", ""), "header JSON error");
  check(safetensors_bytes(R"({"x":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}})", "ab"), "tensor 'x': dtype \"BF16\" is not one tide reads");
  check(safetensors_bytes(R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", float_bytes({1, 2})), "tensor 'x': size 8 does not match");
  check(safetensors_bytes(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", float_bytes({1, 2})), "not back to back");
  check(safetensors_bytes(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", float_bytes({1, 2})), "4 bytes after the last tensor");
  check(safetensors_bytes(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", float_bytes({1})), "lie outside the data section");
  check(safetensors_bytes(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", ""), "data_offsets must be [begin, end]");
  std::string huge(8, '\xff');
  check(huge + "{}", "the header claims");
  // nesting is bounded while parsing: 200,000 levels overflowed the stack in the copies after it
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  check(safetensors_bytes(R"({"x":{"dtype":"F32","shape":)" + deep + R"(,"data_offsets":[0,4]}})", float_bytes({1})),
        "header JSON nested deeper than 8 levels");
}

TEST_CASE("a huge file is judged by its first bytes and its header before the rest is read") {
  TempDir dir;
  // 1 TiB, sparse: reading it whole was std::bad_alloc, naming no file
  constexpr std::uintmax_t tebibyte = std::uintmax_t{1} << 40;
  const std::string zeros = dir.file("zeros.tide");
  write_bytes(zeros, "");
  fs::resize_file(zeros, tebibyte);
  CHECK_THROWS_WITH_AS(load_archive(zeros), doctest::Contains(("load_archive '" + zeros + "': not a tide archive").c_str()), Error);
  CHECK_THROWS_WITH_AS(load_safetensors(zeros), doctest::Contains(("load_safetensors '" + zeros + "': header JSON error").c_str()), Error);

  // a valid file grown to 1 TiB: the header's sizes disagree with the file's, refused before its data is read
  Archive a;
  a.add("w", Tensor::from_vector({1, 2, 3}, Shape{3}));
  const std::string archive = dir.file("grown.tide"), safetensors = dir.file("grown.safetensors");
  save_archive(archive, a);
  save_safetensors(safetensors, a);
  fs::resize_file(archive, tebibyte);
  fs::resize_file(safetensors, tebibyte);
  CHECK_THROWS_WITH_AS(load_archive(archive), doctest::Contains("unexpected bytes after byte"), Error);
  CHECK_THROWS_WITH_AS(load_safetensors(safetensors), doctest::Contains("bytes after the last tensor's end"), Error);
}

TEST_CASE("save_archive and save_safetensors refuse a shape their loaders would refuse, naming the tensor") {
  TempDir dir;
  Archive a;
  a.add("z", Tensor::empty(Shape{0, std::int64_t{1} << 59}, DType::f32, Device::cpu()));  // no bytes, yet too large
  const std::string archive = dir.file("z.tide"), safetensors = dir.file("z.safetensors");
  const std::string too_large = "': tensor 'z': shape [0,576460752303423488] is too large";
  CHECK_THROWS_WITH_AS(save_archive(archive, a), doctest::Contains(("save_archive '" + archive + too_large).c_str()), Error);
  CHECK_THROWS_WITH_AS(save_safetensors(safetensors, a), doctest::Contains(("save_safetensors '" + safetensors + too_large).c_str()), Error);
  CHECK_FALSE(fs::exists(archive));
  CHECK_FALSE(fs::exists(safetensors));
  // the largest shape allowed round-trips through both
  Archive largest;
  largest.add("z", Tensor::empty(Shape{0, (std::int64_t{1} << 58) - 1}, DType::f32, Device::cpu()));
  save_archive(archive, largest);
  CHECK(load_archive(archive).at("z").shape() == Shape{0, (std::int64_t{1} << 58) - 1});
  save_safetensors(safetensors, largest);
  CHECK(load_safetensors(safetensors).at("z").shape() == Shape{0, (std::int64_t{1} << 58) - 1});
}

TEST_CASE("a file in the other format is named as such: a tide archive called .safetensors, safetensors called .tide") {
  TempDir dir;
  Archive a;
  a.add("w", Tensor::from_vector({1, 2}, Shape{2}));
  const std::string tide_named_safetensors = dir.file("really_tide.safetensors"), safetensors_named_tide = dir.file("really_st.tide");
  save_archive(tide_named_safetensors, a);
  save_safetensors(safetensors_named_tide, a);
  CHECK_THROWS_WITH_AS(load_safetensors(tide_named_safetensors),
                       doctest::Contains(("load_safetensors '" + tide_named_safetensors + "': the file is a tide archive (it starts with \"TIDEARCH\"), "
                                          "not the safetensors file its extension .safetensors names").c_str()),
                       Error);
  CHECK_THROWS_WITH_AS(load_archive(safetensors_named_tide),
                       doctest::Contains(("load_archive '" + safetensors_named_tide + "': the file is a safetensors file (an 8-byte header length, "
                                          "then JSON), not the tide archive its extension .tide names").c_str()),
                       Error);
  const std::string other = dir.file("params.bin");
  save_archive(other, a);
  CHECK_THROWS_WITH_AS(load_safetensors(other), doctest::Contains("the file is a tide archive (it starts with \"TIDEARCH\"), not a safetensors file"), Error);
}
