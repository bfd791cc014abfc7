// Archive and safetensors files on disk: corrupted files are rejected with errors naming the file,
// never a crash; a failed save leaves the previous file as it was; safetensors files written as
// the format describes are read; a huge file is judged before it is read; a file in the other
// format is named as such.
#include "archive_test_util.hpp"
#include "tide/autodiff/archive.hpp"
#include <doctest/doctest.h>
#include <cstring>
#include <filesystem>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

using namespace tide;
using namespace tide::test;
namespace fs = std::filesystem;


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
