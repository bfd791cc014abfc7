// What a piece of test code writes to standard error (file descriptor 2, sent to a temporary file
// meanwhile and restored after): the warnings the tools and loaders print.
#pragma once
#include <doctest/doctest.h>
#include <cstdio>
#include <string>
#include <unistd.h>

namespace tide_test {

template <class F> std::string stderr_of(F&& f) {
  std::fflush(stderr);
  std::FILE* capture = std::tmpfile();
  REQUIRE(capture != nullptr);
  struct Restore {
    int saved = ::dup(2);
    ~Restore() {
      std::fflush(stderr);
      ::dup2(saved, 2);
      ::close(saved);
    }
  };
  {
    const Restore restore;
    ::dup2(::fileno(capture), 2);
    f();
  }
  std::rewind(capture);
  std::string out;
  char buffer[4096];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, capture)) > 0;) out.append(buffer, n);
  std::fclose(capture);
  return out;
}

}  // namespace tide_test
