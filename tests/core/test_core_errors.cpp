// User errors in the core layer: every one is a tide::Error whose message names the op and the
// shapes (or the value) involved.
#include "core_test_util.hpp"
#include "tide/core/atomic_file.hpp"
#include "tide/core/cuda.hpp"
#include <filesystem>
#include <fstream>
#include <limits>
#include <unistd.h>

using namespace tide;
using tide::test::check_error;

namespace {

Tensor f32(const Shape& s) { return Tensor::zeros(s, DType::f32); }
Tensor f64(const Shape& s) { return Tensor::zeros(s, DType::f64); }
Tensor idx(std::vector<std::int64_t> v) {
  const auto n = static_cast<std::int64_t>(v.size());
  return Tensor::from_indices(std::move(v), Shape{n});
}

}  // namespace

TEST_CASE("broadcast mismatch names the op and both shapes") {
  check_error([] { add(f32({3, 4}), f32({3})); }, {"add", "[3, 4]", "[3]"});
  check_error([] { mul(f32({2, 3}), f32({3, 2})); }, {"mul", "[2, 3]", "[3, 2]"});
  check_error([] { lt(f32({5}), f32({4})); }, {"lt", "[5]", "[4]"});
  check_error([] { where(f32({2}), f32({3}), f32({3})); }, {"where", "[2]", "[3]"});
  check_error([] { f32({3}).broadcast_to(Shape{4}); }, {"broadcast_to", "[3]", "[4]"});
  check_error([] { f32({2, 3}).add_(f32({4, 3})); }, {"add_", "[2, 3]", "[4, 3]"});
  check_error([] { f32({1, 3}).add_(f32({2, 3})); }, {"add_", "[2, 3]", "[1, 3]"});
  check_error([] { sum_to(f32({2, 3}), Shape{2}); }, {"sum_to", "[2, 3]", "[2]"});
}

TEST_CASE("in-place scaling refuses a non-finite factor whatever the layout, naming the in-place op") {
  // mul_ on a contiguous tensor skipped the check that x * NaN and a strided mul_ make
  Tensor x = f32({2});
  check_error([&] { x.mul_(std::nan("")); }, {"mul_", "factor", "finite"});
  check_error([&] { f32({2, 3}).transpose().mul_(HUGE_VAL); }, {"mul_", "factor"});
  check_error([&] { x.add_(f32({2}), HUGE_VAL); }, {"add_", "alpha", "finite"});  // named mul_scalar before
  CHECK(x.mul_(2.0).to_vector() == std::vector<double>{0.0, 0.0});
}

TEST_CASE("matmul errors name both shapes") {
  check_error([] { matmul(f32({3, 4}), f32({5, 6})); }, {"matmul", "[3, 4]", "[5, 6]"});
  check_error([] { matmul(f32({2, 3, 4}), f32({3, 4, 5})); }, {"matmul", "[2, 3, 4]", "[3, 4, 5]"});
  check_error([] { matmul(f32({4}), f32({5})); }, {"matmul", "[4]", "[5]"});
  check_error([] { matmul(f32({}), f32({3})); }, {"matmul", "scalar"});
}

TEST_CASE("dtype mismatch and non-floating operands are reported") {
  check_error([] { add(f32({3, 4}), f64({3, 4})); }, {"add", "f32[3, 4]", "f64[3, 4]"});
  check_error([] { matmul(f32({2, 2}), f64({2, 2})); }, {"matmul", "f32", "f64"});
  check_error([] { concat({f32({2}), f64({2})}, 0); }, {"concat", "f32", "f64"});
  check_error([] { f32({2}).add_(f64({2})); }, {"add_", "f32", "f64"});
  check_error([] { exp(Tensor::arange(3, DType::i64)); }, {"exp", "i64"});
  check_error([] { index_select(f32({3}), 0, Tensor::zeros(Shape{1})); }, {"index_select", "i64"});
  check_error([] { Tensor::from_vector({1, 2}, Shape{2}, DType::i64); }, {"from_indices"});
  check_error([] { f32({2}).to_indices(); }, {"to_indices", "f32[2]"});
  check_error([] { exp(Tensor()); }, {"exp", "undefined"});
  check_error([] { f32({2}).add_(Tensor()); }, {"add_", "undefined"});
  check_error([] { f32({2}).copy_(Tensor()); }, {"copy_", "undefined"});
  check_error([] { idx({1, 2}).add_(idx({1, 1})); }, {"add_", "i64[2]"});
  check_error([] { idx({1, 2}).add_(idx({1, 1}), 2.0); }, {"add_", "i64[2]"});
  check_error([] { idx({1, 2}).mul_(2.0); }, {"mul_", "i64[2]"});
}

TEST_CASE("element counts past int64 are errors naming the shape, not wrapped counts") {
  const std::int64_t big = std::int64_t(1) << 32, most = std::numeric_limits<std::int64_t>::max();
  check_error([=] { f32({1, 1}).broadcast_to(Shape{big, big}); }, {"[4294967296, 4294967296]", "overflows"});
  check_error([=] { f32({4}).reshape(Shape{std::int64_t(1) << 62, 8, -1}); }, {"reshape", "[4]"});
  const Tensor long_axis = f32({1}).broadcast_to(Shape{most});
  check_error([&] { concat({long_axis, long_axis}, 0); }, {"concat", "axis 0", "64-bit"});
  CHECK(Shape({big, big, 0}).numel() == 0);  // the product overflows before the zero extent
}

TEST_CASE("split refuses sizes whose sum overflows, naming the sizes") {
  const std::int64_t most = std::numeric_limits<std::int64_t>::max();
  check_error([=] { split(f32({3}), {most, most, 5}, 0); }, {"split", "9223372036854775807, 9223372036854775807, 5", "64-bit"});
  check_error([=] { split(f32({3}), {most, 1, -most}, 0); }, {"split", "64-bit"});
  check_error([] { split(f32({3}), {4, -1}, 0); }, {"split", "negative", "-1"});
}

TEST_CASE("a zero extent makes an empty tensor whatever the extents before it") {
  const std::int64_t huge = std::int64_t(1) << 62;
  CHECK(Tensor::zeros(Shape{huge, huge, 0}).numel() == 0);
  CHECK(Tensor::zeros(Shape{0, huge, huge}).numel() == 0);
  const Tensor view = Tensor::zeros(Shape{1, 1, 0}, DType::f64).broadcast_to(Shape{huge, huge, 0});
  CHECK(view.clone().shape() == Shape{huge, huge, 0});
  check_error([=] { Tensor::zeros(Shape{huge, huge, -1}); }, {"negative", "-1"});  // still refused past the overflow
  check_error([=] { Tensor::zeros(Shape{huge, huge, 1}); }, {"too large"});
}

// Only an empty shape can make the extents' product overflow int64: its strides are then all 1
// (never used to address memory), not a wrapped product (UB, and the sanitizer build aborts).
TEST_CASE("an empty tensor whose extents' product overflows int64 gets strides of 1, in views too") {
  const std::int64_t huge = std::int64_t(1) << 62;
  CHECK(Tensor::zeros(Shape{0, huge, huge}).strides() == Shape{1, 1, 1});
  CHECK(Tensor::zeros(Shape{huge, huge, 0, 5}).strides() == Shape{1, 1, 1, 1});
  CHECK(contiguous_strides(Shape{huge, 4, 0}) == Shape{1, 1, 1});  // huge * 4: past int64 at the first axis
  CHECK(Tensor::zeros(Shape{3, 0, 5}).strides() == Shape{5, 5, 1});  // no overflow: row-major, 0 counted as 1
  const Tensor view = Tensor::zeros(Shape{0, huge, huge}).reshape(Shape{huge, 0, huge});
  CHECK(view.strides() == Shape{1, 1, 1});
  CHECK(view.is_contiguous());
  CHECK(view.unsqueeze(0).select(1, huge - 1).clone().shape() == Shape{1, 0, huge});
  // offsets piled up through views of an empty tensor stay in int64 (kept where they would pass it)
  Tensor piled = Tensor::zeros(Shape{huge / 2, 2, 0}).select(0, huge / 2 - 1);  // offset 2^62 - 2
  for (int i = 0; i < 3; ++i) {
    piled = piled.reshape(Shape{0, huge}).select(1, huge - 1);
    CHECK(piled.offset() >= 0);
  }
}

TEST_CASE("arange too long to allocate names arange and the length") {
  const std::int64_t huge = std::int64_t(1) << 62;
  for (DType dtype : {DType::f32, DType::f64, DType::i64})
    check_error([=] { Tensor::arange(huge, dtype); }, {"arange", "4611686018427387904", "too large"});
}

TEST_CASE("index out of range in index ops names the index and the shape") {
  check_error([] { index_select(f32({3, 4}), 0, idx({0, 3})); }, {"index_select", "3", "[3, 4]"});
  check_error([] { index_select(f32({3, 4}), 1, idx({-1})); }, {"index_select", "-1", "[3, 4]"});
  check_error([] { index_add(f32({2, 4}), 0, idx({0, 5}), 3); }, {"index_add", "5"});
  check_error([] { gather(f32({2, 3}), 1, Tensor::from_indices({0, 1, 3, 0}, Shape{2, 2})); }, {"gather", "3", "[2, 3]"});
  check_error([] { scatter_add(f32({2}), 0, Tensor::from_indices({0, 7}, Shape{2}), Shape{4}); }, {"scatter_add", "7", "[4]"});
  check_error([] { f32({2, 3}).select(1, 3); }, {"select", "3", "[2, 3]"});
  check_error([] { f32({2, 3}).select(0, -3); }, {"select", "-3", "[2, 3]"});
  // shape mismatches between data and index
  check_error([] { gather(f32({2, 3}), 1, Tensor::from_indices({0, 0, 0}, Shape{3, 1})); }, {"gather", "[3, 1]", "[2, 3]"});
  check_error([] { index_select(f32({3}), 0, Tensor::from_indices({0, 0}, Shape{1, 2})); }, {"index_select", "[1, 2]"});
}

TEST_CASE("reshape, slice, permute and axis errors") {
  check_error([] { f32({2, 3}).reshape(Shape{4, 2}); }, {"reshape", "[2, 3]", "[4, 2]"});
  check_error([] { f32({2, 3}).reshape(Shape{4, -1}); }, {"reshape", "[2, 3]", "[4, -1]"});
  check_error([] { f32({2, 3}).reshape(Shape{-1, -1}); }, {"reshape", "-1"});
  check_error([] { f32({5}).slice(0, 0, 5, 0); }, {"slice", "step", "0"});
  check_error([] { f32({5}).slice(0, 0, 5, -1); }, {"slice", "step", "-1"});
  check_error([] { f32({2, 3}).permute(Shape{0, 0}); }, {"permute", "repeated"});
  check_error([] { f32({2, 3}).permute(Shape{0}); }, {"permute", "[2, 3]"});
  check_error([] { sum(f32({2, 3}), {2}); }, {"sum", "axis 2", "rank 2"});
  check_error([] { sum(f32({2, 3}), {-3}); }, {"sum", "-3"});
  check_error([] { sum(f32({2, 3}), {1, -1}); }, {"sum", "twice"});
  check_error([] { f32({2, 3}).squeeze(1); }, {"squeeze", "[2, 3]"});
  check_error([] { f32({2, 3}).unsqueeze(3); }, {"unsqueeze", "3"});
  check_error([] { f32({2, 3}).unsqueeze(-4); }, {"unsqueeze", "-4"});
  check_error([] { f32({2, 3}).transpose(0, 2); }, {"transpose", "2"});
  check_error([] { Tensor::arange(-1); }, {"arange", "-1"});
  check_error([] { split(f32({5}), {2, 2}, 0); }, {"split", "4", "5"});
  check_error([] { concat({f32({2, 3}), f32({3, 3})}, 1); }, {"concat", "[2, 3]", "[3, 3]"});
  check_error([] { concat({}, 0); }, {"concat"});
  check_error([] { concat({Tensor::scalar(1), Tensor::scalar(2)}, 0); }, {"concat", "rank-0"});
  check_error([] { slice_scatter(f32({3}), Shape{4}, 0, 0, 4, 1); }, {"slice_scatter", "[3]", "[4]"});
  check_error([] { Tensor::zeros(Shape{2, -1}); }, {"negative", "[2, -1]"});
  check_error([] { f32({2, 2}).item(); }, {"item", "f32[2, 2]"});
}

TEST_CASE("non-finite scalars and bad scalar parameters are rejected") {
  check_error([] { pow(f32({2}), INFINITY); }, {"pow_scalar", "inf"});
  check_error([] { pow(f32({2}), NAN); }, {"pow_scalar", "nan"});
  check_error([] { add_scalar(f32({2}), NAN); }, {"add_scalar", "nan"});
  check_error([] { mul_scalar(f32({2}), -INFINITY); }, {"mul_scalar", "-inf"});
  check_error([] { leaky_relu(f32({2}), INFINITY); }, {"leaky_relu"});
  check_error([] { elu(f32({2}), NAN); }, {"elu"});
  check_error([] { clamp(f32({2}), 1.0, 0.0); }, {"clamp", "1", "0"});
  check_error([] { clamp(f32({2}), NAN, 0.0); }, {"clamp"});
}

TEST_CASE("max and min over an empty axis are errors; sum is not") {
  check_error([] { max(f32({3, 0}), {1}); }, {"max", "empty", "f32[3, 0]"});
  check_error([] { min(f32({0}), {}); }, {"min", "empty"});
  check_error([] { logsumexp(f32({0, 2}), {0}); }, {"logsumexp", "empty", "f32[0, 2]"});
  check_error([] { mean(f32({3, 0}), {1}); }, {"mean", "empty", "f32[3, 0]"});
  check_error([] { mean(f32({0})); }, {"mean", "empty"});
  CHECK_NOTHROW(sum(f32({3, 0}), {1}));
  CHECK(mean(f32({0, 3}), {1}).shape() == Shape{0});  // the empty axis is not reduced
}

TEST_CASE("mean refuses only an empty reduced axis; a count past int64 beside an empty kept axis is fine") {
  const std::int64_t big = std::int64_t(1) << 32, huge = std::int64_t(1) << 62;
  CHECK(mean(f64({0, big, big}), {1, 2}).shape() == Shape{0});  // 2^64 elements per (absent) row
  CHECK(mean(f64({0, 3, huge}), {1, 2}).shape() == Shape{0});  // 3 * 2^62 wrapped
  CHECK(mean(f64({0, 3, huge}), {1, 2}, true).shape() == Shape{0, 1, 1});
  check_error([=] { mean(f64({big, 0}), {1}); }, {"mean", "empty axis 1", "f64[4294967296, 0]"});
}

TEST_CASE("ops with a result shape of the caller's refuse a negative extent in their own name") {
  check_error([] { index_add(f32({2}), 0, idx({0, 1}), -1); }, {"index_add", "negative size -1"});
  check_error([] { scatter_add(f32({2}), 0, idx({0, 1}), Shape{-3}); }, {"scatter_add", "[-3]", "negative"});
  check_error([] { slice_scatter(f32({0}), Shape{-3}, 0, 0, 0, 1); }, {"slice_scatter", "[-3]", "negative"});
  check_error([] { slice_scatter(f32({2}), Shape{5}, 0, 0, 5, 0); }, {"slice_scatter", "step", "0"});
  check_error([] { slice_scatter(f32({2}), Shape{5}, 1, 0, 5, 1); }, {"slice_scatter", "axis 1"});
}

TEST_CASE("an undefined tensor prints as undefined and its views are refused") {
  CHECK(Tensor().str() == "undefined");
  CHECK(Tensor().format() == "undefined");
  check_error([] { Tensor().reshape(Shape{1, 1}); }, {"reshape", "undefined"});
  check_error([] { Tensor().reshape(Shape{}); }, {"reshape", "undefined"});
  check_error([] { Tensor().broadcast_to(Shape{3, 4}); }, {"broadcast_to", "undefined"});
  check_error([] { Tensor().permute(Shape{}); }, {"permute", "undefined"});
  check_error([] { Tensor().unsqueeze(0); }, {"unsqueeze", "undefined"});
  check_error([] { Tensor().contiguous(); }, {"contiguous", "undefined"});
  check_error([] { Tensor().slice(0, 0, 1); }, {"slice", "undefined"});
}

TEST_CASE("from_vector with the wrong count names both counts and the shape") {
  check_error([] { Tensor::from_vector({1, 2, 3}, Shape{2, 2}); }, {"from_vector", "3", "[2, 2]", "4"});
  check_error([] { Tensor::from_indices({1}, Shape{2}); }, {"from_indices", "1", "[2]"});
}

TEST_CASE("a device without a backend is an error, not a crash") {
  if (!cuda::available()) {  // no CUDA backend in this build, or no GPU: the reason is in the message
    check_error([] { Tensor::zeros(Shape{2}, DType::f32, Device::cuda()); }, {"cuda:0", "not available", cuda::unavailable_reason().c_str()});
    check_error([] { f32({2}).to(Device::cuda()); }, {"cuda"});
    check_error([] { DeviceGuard guard(Device::cuda()); }, {"cuda:0", "not available"});
    check_error([] { cuda::synchronize(); }, {"cuda"});
  }
  check_error([] { Tensor::from_vector({1, 2}, Shape{2}, DType::f32, Device::cuda(1)); }, {"cuda:1", "not available"});
  CHECK(Device::cuda(1).str() == "cuda:1");
  CHECK(Device::cpu().str() == "cpu");
}

TEST_CASE("an atomic file replaces its target whole on commit and leaves it alone otherwise") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / fmt::format("tide_atomic_{}", static_cast<long>(::getpid()));
  fs::create_directories(dir);
  const std::string target = (dir / "out.txt").string();
  auto content = [&] {
    std::ifstream in(target, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  write_file_atomically(target, "first");
  CHECK(content() == "first");
  {
    AtomicFile f(target);
    f.write("second, never committed");
    CHECK(fs::exists(f.temporary_path()));
  }  // destroyed without commit: as after an exception
  CHECK(content() == "first");
  {
    AtomicFile f(target);
    f.write(std::string_view("sec"));
    f.write("ond");
    f.commit();
    CHECK_FALSE(fs::exists(f.temporary_path()));
    CHECK_THROWS_WITH_AS(f.write("x"), doctest::Contains("already committed"), Error);
  }
  CHECK(content() == "second");
  CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 1);  // no temporary left
  const std::string missing = (dir / "no_such_dir" / "x.txt").string();
  CHECK_THROWS_WITH_AS(write_file_atomically(missing, "x"), doctest::Contains(missing.c_str()), Error);
  fs::remove_all(dir);
}
