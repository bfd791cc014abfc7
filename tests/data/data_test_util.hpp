// Helpers for the data tests: a fresh temporary folder per test, files written byte for byte,
// gzip files made without zlib (stored deflate blocks), and a check that an expression throws a
// tide::Error whose message names what it should.
#pragma once
#include "tide/core/error.hpp"
#include <doctest/doctest.h>
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <unistd.h>

namespace tide::data::test {

class TempDir {
public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("tide_data_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

private:
  std::filesystem::path path_;
};

inline std::string write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
  return path;
}

inline std::uint32_t crc32(const std::string& bytes) {
  std::uint32_t crc = 0xffffffffu;
  for (unsigned char c : bytes) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

// A valid gzip member holding `bytes` in stored (uncompressed) deflate blocks.
inline std::string gzip_stored(const std::string& bytes) {
  std::string out("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff", 10);
  std::size_t at = 0;
  do {
    const std::size_t n = std::min<std::size_t>(65535, bytes.size() - at);
    const bool last = at + n == bytes.size();
    out += static_cast<char>(last ? 1 : 0);
    const auto len = static_cast<std::uint16_t>(n), nlen = static_cast<std::uint16_t>(~len);
    out += static_cast<char>(len & 0xff), out += static_cast<char>(len >> 8);
    out += static_cast<char>(nlen & 0xff), out += static_cast<char>(nlen >> 8);
    out.append(bytes, at, n);
    at += n;
  } while (at < bytes.size());
  const auto little = [&](std::uint32_t v) {
    for (int k = 0; k < 4; ++k) out += static_cast<char>((v >> (8 * k)) & 0xff);
  };
  little(crc32(bytes));
  little(static_cast<std::uint32_t>(bytes.size()));
  return out;
}

// The message of the tide::Error that f throws (a failed check when it throws nothing or
// something else).
template <class F> std::string error_of(F&& f) {
  try {
    f();
  } catch (const tide::Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    FAIL("threw a non-tide exception: " << e.what());
    return {};
  }
  FAIL("no tide::Error was thrown");
  return {};
}

}  // namespace tide::data::test

// expr throws a tide::Error whose message contains `text`.
#define CHECK_ERROR_NAMES(expr, text)                                                                  \
  do {                                                                                               \
    const std::string tide_message_ = ::tide::data::test::error_of([&] { (void)(expr); });          \
    INFO("message: " << tide_message_);                                                              \
    CHECK(tide_message_.find(text) != std::string::npos);                                           \
  } while (0)
