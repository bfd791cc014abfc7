// Argument-parsing helpers shared by the `tide` subcommands: usage errors print one line on
// stderr and return exit status 2.
#pragma once
#include <fmt/format.h>
#include <charconv>
#include <string>
#include <string_view>
#include <vector>

namespace tide::cli {

constexpr int exit_usage = 2;
using Args = std::vector<std::string_view>;

inline bool is_help(std::string_view arg) { return arg == "-h" || arg == "--help" || arg == "help"; }

inline int usage_error(const std::string& message, const char* hint) {
  fmt::print(stderr, "{}\n(see '{}')\n", message, hint);
  return exit_usage;
}

// The value of a flag given as "--flag VALUE" or "--flag=VALUE"; nullopt-like empty optional on
// a missing value (reported by the caller).
inline bool flag_value(const std::vector<std::string_view>& args, std::size_t& i, std::string_view flag, std::string_view& value) {
  const std::string_view arg = args[i];
  if (arg == flag) {
    if (i + 1 == args.size()) return false;
    value = args[++i];
    return true;
  }
  value = arg.substr(flag.size() + 1);
  return true;
}
inline bool matches(std::string_view arg, std::string_view flag) {
  return arg == flag || (arg.starts_with(flag) && arg.size() > flag.size() && arg[flag.size()] == '=');
}
inline bool parse_int(std::string_view text, int lo, int hi, int& out) {
  int n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n < lo || n > hi) return false;
  out = n;
  return true;
}

// A floating-point flag value in [lo, hi].
inline bool parse_double(std::string_view text, double lo, double hi, double& out) {
  double v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || !(v >= lo && v <= hi)) return false;
  out = v;
  return true;
}

}  // namespace tide::cli
