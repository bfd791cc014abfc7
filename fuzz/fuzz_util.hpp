// Shared by the fuzz targets: what "correct" means for a reader (a result, or a tide::Error whose
// message names the input), a per-process temporary file for the readers that take a path, and a
// small cursor over the first bytes of an input for the targets that pick options from them.
#pragma once
#include "tide/core/error.hpp"
#include <unistd.h>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <typeinfo>

namespace tide::fuzz {

[[noreturn]] inline void bug(const std::string& what) {
  std::fprintf(stderr, "\n==== tide fuzz: %s\n", what.c_str());
  std::abort();  // libFuzzer reports a crash and saves the input
}

// Runs f; true when it returns. It may also throw a tide::Error whose message contains
// `must_name` (when not empty); any other exception is a bug. (A failed TIDE_ASSERT aborts in the
// fuzz build: CMakeLists.txt defines TIDE_ASSERT_ABORTS.)
template <class F> bool succeeds_or_names(const std::string& must_name, F&& f) {
  try {
    f();
    return true;
  } catch (const tide::Error& e) {
    const std::string message = e.what();
    if (!must_name.empty() && message.find(must_name) == std::string::npos)
      bug("the message does not name '" + must_name + "': " + message);
  } catch (const std::exception& e) {
    bug(std::string("an exception other than tide::Error (") + typeid(e).name() + "): " + e.what());
  }
  return false;
}

// A file named for this process in $TMPDIR, else in /dev/shm (in memory: writing a file per input
// to a disk is ten times slower), else in /tmp; removed when the process exits normally.
class TempFile {
public:
  explicit TempFile(const std::string& stem, const std::string& suffix = "") {
    const char* env = std::getenv("TMPDIR");
    const std::string dir = env && *env ? env : ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    path_ = dir + "/tide-fuzz-" + stem + "-" + std::to_string(::getpid()) + suffix;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  // Writes the bytes (replacing the file) and returns its path.
  const std::string& write(std::string_view bytes) const {
    std::FILE* f = std::fopen(path_.c_str(), "wb");
    if (!f) bug("cannot create " + path_);
    if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size()) bug("cannot write " + path_);
    if (std::fclose(f) != 0) bug("cannot close " + path_);
    return path_;
  }
  const std::string& path() const { return path_; }

private:
  std::string path_;
};

// Takes option bytes from the front of an input; past its end every byte reads as 0.
class Bytes {
public:
  Bytes(const std::uint8_t* data, std::size_t size) : rest_(reinterpret_cast<const char*>(data), size) {}
  std::uint8_t byte() {
    if (rest_.empty()) return 0;
    const auto b = static_cast<std::uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return b;
  }
  std::string_view rest() const { return rest_; }

private:
  std::string_view rest_;
};

}  // namespace tide::fuzz
