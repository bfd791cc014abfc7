// Archive name lookups through the index (contains, at, add): right after many adds, in copies and
// moved archives, after a load, and after the entries were changed through `tensors` directly; the
// header's nesting bound, checked on its text, counts no bracket inside a name or the metadata.
#include "archive_test_util.hpp"
#include "tide/autodiff/archive.hpp"
#include <doctest/doctest.h>
#include <filesystem>
#include <functional>
#include <string>
#include <unistd.h>

using namespace tide;
using namespace tide::test;

namespace {

std::string key(int i) { return fmt::format("blocks.{}.weight", i); }

Archive numbered(int n) {
  Archive a;
  for (int i = 0; i < n; ++i) a.add(key(i), Tensor::full(Shape{2}, i, DType::f64));
  return a;
}

// Every key 0..n-1 is found with its value, and the neighbours of the range are not.
void check_numbered(const Archive& a, int n) {
  REQUIRE(a.tensors.size() == static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    CAPTURE(i);
    REQUIRE(a.contains(key(i)));
    CHECK(a.at(key(i)).to_vector() == std::vector<double>{double(i), double(i)});
    CHECK(a.tensors[static_cast<std::size_t>(i)].first == key(i));  // in the order added
  }
  CHECK(!a.contains(key(n)));
  CHECK(!a.contains(key(-1)));
}

}  // namespace

TEST_CASE("an archive of 3000 tensors finds each by name, keeps their order and refuses each duplicate") {
  Archive a = numbered(3000);
  check_numbered(a, 3000);
  for (int i : {0, 1499, 2999})
    CHECK(error_of([&] { a.add(key(i), Tensor::zeros(Shape{1}, DType::f64)); }) ==
          fmt::format("archive (in memory): duplicate tensor name '{}'", key(i)));
  CHECK(a.tensors.size() == 3000);
  CHECK(error_of([&] { (void)a.at("blocks.3000.weight"); }).starts_with(
      "archive (in memory): no tensor 'blocks.3000.weight' (it has 3000 tensors: blocks.0.weight, "));
}

TEST_CASE("copies and moves of an archive keep their own index") {
  Archive a = numbered(500);
  Archive copy = a;
  copy.add("extra", Tensor::zeros(Shape{1}, DType::f64));
  CHECK(copy.contains("extra"));
  CHECK(!a.contains("extra"));
  a.add("other", Tensor::zeros(Shape{1}, DType::f64));
  CHECK(!copy.contains("other"));
  check_numbered(copy = numbered(40), 40);  // assigned over
  Archive moved = std::move(a);
  CHECK(moved.contains("other"));
  check_numbered(Archive(numbered(60)), 60);
  a = numbered(10);  // the moved-from archive, reused
  check_numbered(a, 10);
  a.add("blocks.10.weight", Tensor::full(Shape{2}, 10, DType::f64));
  check_numbered(a, 11);
}

TEST_CASE("a loaded archive finds its tensors by name") {
  const std::string path =
      (std::filesystem::temp_directory_path() / fmt::format("tide-test-archive-scale-{}.tide", static_cast<long>(::getpid()))).string();
  save_archive(path, numbered(700));
  Archive loaded = load_archive(path);
  std::filesystem::remove(path);
  check_numbered(loaded, 700);
  CHECK(error_of([&] { loaded.add(key(5), Tensor::zeros(Shape{1}, DType::f64)); }) ==
        fmt::format("archive '{}': duplicate tensor name '{}'", path, key(5)));
}

TEST_CASE("entries appended, removed or renamed through tensors directly are found (or not) as they now are") {
  Archive a = numbered(100);
  a.tensors.emplace_back("pushed", Tensor::zeros(Shape{1}, DType::f64));  // appended directly
  CHECK(a.contains("pushed"));
  CHECK(error_of([&] { a.add("pushed", Tensor::zeros(Shape{1}, DType::f64)); }).find("duplicate tensor name 'pushed'") !=
        std::string::npos);
  a.add("after", Tensor::zeros(Shape{1}, DType::f64));
  CHECK(a.contains("after"));
  a.tensors.pop_back();  // removed from the end
  a.tensors.pop_back();
  CHECK(!a.contains("after"));
  CHECK(!a.contains("pushed"));
  a.add("pushed", Tensor::ones(Shape{1}, DType::f64));  // its name free again
  CHECK(a.at("pushed").item() == 1.0);
  for (auto& [name, t] : a.tensors) name = "model." + name;  // renamed in place
  a.reindex();
  CHECK(a.contains("model.blocks.7.weight"));
  CHECK(!a.contains("blocks.7.weight"));
  CHECK(a.at("model.pushed").item() == 1.0);
  a.add("blocks.7.weight", Tensor::zeros(Shape{1}, DType::f64));
  CHECK(a.tensors.size() == 102);
}

TEST_CASE("brackets, braces, quotes and backslashes in names and metadata are not nesting") {
  const std::string dir = std::filesystem::temp_directory_path().string();
  const std::string stem = fmt::format("{}/tide-test-archive-brackets-{}", dir, static_cast<long>(::getpid()));
  Archive a;
  const std::string odd = std::string(20, '[') + "\\\"{{{{{{{{{{\\" + std::string(12, '{') + "\\";
  a.add(odd, Tensor::full(Shape{1, 1, 1, 1, 1}, 3, DType::f64));
  a.add("plain", Tensor::full(Shape{2}, 1, DType::f32));
  a.meta_json = R"({"note": "[[[[[[[[[[[[ {{{{{{{{{{", "spec": {"a": [1, [2]]}})";
  for (const std::string& path : {stem + ".tide", stem + ".safetensors"}) {
    CAPTURE(path);
    if (path.ends_with(".tide")) save_archive(path, a);
    else save_safetensors(path, a);
    const Archive loaded = path.ends_with(".tide") ? load_archive(path) : load_safetensors(path);
    std::filesystem::remove(path);
    CHECK(loaded.at(odd).to_vector() == std::vector<double>{3});
    CHECK(loaded.at(odd).shape() == Shape{1, 1, 1, 1, 1});
    CHECK(loaded.at("plain").to_vector() == std::vector<double>{1, 1});
    CHECK(loaded.meta_json == a.meta_json);
  }
}
