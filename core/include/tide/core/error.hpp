// Errors thrown by tide. Every user-facing failure is a tide::Error (or a subclass) whose message
// names the op, the shapes, the key or the file and line involved; nothing aborts on user input.
#pragma once
#include <fmt/format.h>
#include <stdexcept>
#include <string>

namespace tide {

class Error : public std::runtime_error {
public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// What a function being traced into a plan (core/plan.hpp) does that a plan cannot replay: reading
// values on the host, drawing random numbers. Callers that compile opportunistically catch it and
// run the function eagerly instead.
class UntraceableError : public Error {
public:
  explicit UntraceableError(const std::string& message) : Error(message) {}
};

// A plan (core/plan.hpp) called while it is running, on another thread or re-entered: callers that
// can serve the call another way (an eager backward) catch it.
class PlanBusyError : public Error {
public:
  explicit PlanBusyError(const std::string& message) : Error(message) {}
};

// A backward that needs a value the tape saved, modified in place since (the tape's version check):
// a compiled call, which traces its backward with its forward, says where it came from.
class SavedValueModifiedError : public Error {
public:
  explicit SavedValueModifiedError(const std::string& message) : Error(message) {}
};

// Throws tide::Error with a fmt-formatted message.
template <class... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace tide

// Internal invariant (a bug in tide, not bad user input); checked in debug builds only, and in the
// fuzz build (TIDE_ASSERT_ABORTS) as an abort, so that libFuzzer reports it as a crash.
#if defined(TIDE_ASSERT_ABORTS)
#include <cstdio>
#include <cstdlib>
#define TIDE_ASSERT(cond)                                                                                  \
  do {                                                                                                     \
    if (!(cond)) {                                                                                         \
      std::fprintf(stderr, "internal error: %s failed at %s:%d\n", #cond, __FILE__, __LINE__);             \
      std::abort();                                                                                        \
    }                                                                                                      \
  } while (0)
#elif !defined(NDEBUG)
#define TIDE_ASSERT(cond)                                                                        \
  do {                                                                                           \
    if (!(cond)) ::tide::fail("internal error: {} failed at {}:{}", #cond, __FILE__, __LINE__);  \
  } while (0)
#else
#define TIDE_ASSERT(cond) ((void)0)
#endif
