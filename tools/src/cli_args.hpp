// Argument-parsing helpers shared by the `tide` subcommands: usage errors print one line on
// stderr and return exit status 2.
#pragma once
#include "tide/core/error.hpp"
#include "tide/data/config_object.hpp"
#include <fmt/format.h>
#include <charconv>
#include <filesystem>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace tide::cli {

constexpr int exit_usage = 2;
using Args = std::vector<std::string_view>;

// Throws tide::Error when `path` (an output file) lies in a directory that does not exist, or is a
// directory itself, so a long run fails before it starts rather than at its end; "" passes.
inline void check_output_path(const std::string& path) {
  if (path.empty()) return;
  if (std::error_code ec; std::filesystem::is_directory(path, ec))
    fail("{}: is a directory; the output needs a file name (such as {})", path, (std::filesystem::path(path) / "out").string());
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty() && !std::filesystem::is_directory(parent))
    fail("{}: the directory '{}' does not exist", path, parent.string());
}

// Whether two paths name one file: the same file when both exist (links, "./", other spellings),
// else the same path once made absolute and normalised (a file the output would create).
inline bool same_file(const std::string& a, const std::string& b) {
  namespace fs = std::filesystem;
  std::error_code ec, ec_b;
  if (fs::exists(a, ec) && fs::exists(b, ec_b)) return fs::equivalent(a, b, ec) && !ec;
  const fs::path x = fs::weakly_canonical(fs::absolute(a, ec), ec), y = fs::weakly_canonical(fs::absolute(b, ec_b), ec_b);
  return !ec && !ec_b && x == y;
}

// An input a command reads (or a run's file it must not replace), and what it is ("the --data
// file", "the run's file").
struct Input {
  std::string path, what;
};

// Throws tide::Error, before any work, when --out `out` is one of the command's `inputs`: writing
// it would replace the user's data or destroy a run (its config, log, checkpoints). "" passes.
inline void check_output_not_input(const std::string& out, const std::vector<Input>& inputs) {
  if (out.empty()) return;
  for (const Input& in : inputs)
    if (!in.path.empty() && same_file(out, in.path))
      fail("--out {} is {} {}: the output would replace it; give --out another file", out, in.what, in.path);
}

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
// An integer flag value in [lo, hi].
template <class Int>
bool parse_integer(std::string_view text, Int lo, Int hi, Int& out) {
  Int n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n < lo || n > hi) return false;
  out = n;
  return true;
}
inline bool parse_int(std::string_view text, int lo, int hi, int& out) { return parse_integer(text, lo, hi, out); }

// A floating-point flag value in [lo, hi].
inline bool parse_double(std::string_view text, double lo, double hi, double& out) {
  double v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || !(v >= lo && v <= hi)) return false;
  out = v;
  return true;
}

// A subcommand's flags, declared once: switches, integers in a range, strings (optionally from a
// list), custom values and positional arguments. The loop, "--flag VALUE" / "--flag=VALUE", help
// and the usage errors ("tide bench core: --repeats takes an integer in 1..100, got '0'") are
// shared by every `tide` command.
class Flags {
public:
  Flags(std::string command, const char* usage) : command_(std::move(command)), usage_(usage) {}

  Flags& on(std::string_view name, bool& out, bool value = true) {
    specs_.push_back({name, false, [&out, value](std::string_view) { out = value; return std::string(); }});
    return *this;
  }
  template <class Int>
  Flags& integer(std::string_view name, Int lo, Int hi, Int& out, std::string takes = "") {
    if (takes.empty()) takes = fmt::format("an integer in {}..{}", lo, hi);
    return custom(name, [name, lo, hi, &out, takes](std::string_view v) {
      return parse_integer(v, lo, hi, out) ? std::string() : fmt::format("{} takes {}, got '{}'", name, takes, v);
    });
  }
  // A finite number in [lo, hi].
  Flags& number(std::string_view name, double lo, double hi, double& out) {
    return custom(name, [name, lo, hi, &out](std::string_view v) {
      double x = 0;
      const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
      if (ec != std::errc() || p != v.data() + v.size() || v.empty() || !(x >= lo && x <= hi))
        return fmt::format("{} takes a number in [{:g}, {:g}], got '{}'", name, lo, hi, v);
      out = x;
      return std::string();
    });
  }
  // A non-empty string; with `allowed`, one of them ("--split takes test, val or train").
  Flags& text(std::string_view name, std::string& out, std::vector<std::string_view> allowed = {}) {
    return custom(name, [name, &out, allowed](std::string_view v) {
      if (v.empty()) return fmt::format("{} needs a value", name);
      bool ok = allowed.empty();
      for (std::string_view a : allowed) ok = ok || a == v;
      if (!ok) return fmt::format("{} takes {}, got '{}'", name, one_of(allowed), v);
      out = std::string(v);
      return std::string();
    });
  }
  // `apply` returns an error message ("--size takes ...") or "" when the value was taken.
  Flags& custom(std::string_view name, std::function<std::string(std::string_view)> apply) {
    specs_.push_back({name, true, std::move(apply)});
    return *this;
  }
  // Arguments that are not flags, at most `max` of them (`what` names them in the error).
  Flags& positional(std::vector<std::string>& out, std::size_t max, std::string what) {
    positional_ = &out, max_positional_ = max, positional_what_ = std::move(what);
    return *this;
  }

  // nullopt: go on; otherwise the exit status (0 after printing the help, 2 on a usage error).
  std::optional<int> parse(const Args& args) const {
    const std::string hint = command_ + " --help";
    for (std::size_t i = 0; i < args.size(); ++i) {
      const std::string_view arg = args[i];
      if (is_help(arg)) {
        fmt::print("{}", usage_);
        return 0;
      }
      if (const Spec* s = find(arg)) {
        std::string_view value;
        if (s->takes_value && !flag_value(args, i, s->name, value))
          return usage_error(fmt::format("{}: {} needs a value", command_, s->name), hint.c_str());
        // "--out --json": the value forgotten, the next option is not taken for it ("--out=--json" is)
        if (s->takes_value && arg == s->name && (find(value) || is_help(value)))
          return usage_error(fmt::format("{}: {} needs a value, got the option '{}' (write {}={} for a value spelled so)", command_,
                                         s->name, value, s->name, value), hint.c_str());
        if (const std::string error = s->apply(value); !error.empty())
          return usage_error(fmt::format("{}: {}", command_, error), hint.c_str());
        continue;
      }
      if (arg.starts_with("-"))
        return usage_error(fmt::format("{}: unknown option '{}'{}", command_, arg, suggestion(arg)), hint.c_str());
      if (!positional_)  // "tide bench core foo": a word where only options go
        return usage_error(fmt::format("{}: unexpected argument '{}' (it takes options only){}", command_, arg, suggestion(arg)),
                           hint.c_str());
      if (positional_->size() == max_positional_)
        return usage_error(fmt::format("{}: {} expected, got '{}' and '{}'", command_, positional_what_, positional_->back(), arg), hint.c_str());
      positional_->emplace_back(arg);
    }
    return std::nullopt;
  }

private:
  struct Spec {
    std::string_view name;
    bool takes_value;
    std::function<std::string(std::string_view)> apply;
  };
  const Spec* find(std::string_view arg) const {
    for (const Spec& s : specs_)
      if (s.takes_value ? matches(arg, s.name) : arg == s.name) return &s;
    return nullptr;
  }
  // " (did you mean '--epochs'?)" for a typo of a flag (nearest_name, as config keys are matched); else "".
  std::string suggestion(std::string_view arg) const {
    std::vector<std::string> names;
    for (const Spec& s : specs_) names.emplace_back(s.name);
    const std::string near = nearest_name(std::string(arg.substr(0, arg.find('='))), names);
    return near.empty() ? "" : fmt::format(" (did you mean '{}'?)", near);
  }
  static std::string one_of(const std::vector<std::string_view>& allowed) {
    std::string out;
    for (std::size_t i = 0; i < allowed.size(); ++i) out += (i == 0 ? "" : i + 1 == allowed.size() ? " or " : ", ") + std::string(allowed[i]);
    return out;
  }

  std::string command_;
  const char* usage_;
  std::vector<Spec> specs_;
  std::vector<std::string>* positional_ = nullptr;
  std::size_t max_positional_ = 0;
  std::string positional_what_;
};

struct Subcommand {
  std::string_view name;
  int (*run)(const Args& rest);
};

// Runs the subcommand args[0] names, with the remaining arguments; `path` ("tide bench") and
// `what` ("suite") word the errors. Every command level (tide, tide bench, tide data) is a table.
inline int dispatch(const Args& args, std::string_view path, std::string_view what, const char* usage,
                    const std::vector<Subcommand>& table) {
  std::string names;
  for (const auto& c : table) names += (names.empty() ? "" : ", ") + std::string(c.name);
  const std::string hint = std::string(path) + " --help";
  if (args.empty()) {
    fmt::print(stderr, "{}: missing {} (available: {})\n{}", path, what, names, usage);
    return exit_usage;
  }
  if (is_help(args[0])) {
    fmt::print("{}", usage);
    return 0;
  }
  for (const auto& c : table)
    if (args[0] == c.name) return c.run(Args(args.begin() + 1, args.end()));
  if (args[0].starts_with("-")) return usage_error(fmt::format("{}: unknown option '{}'", path, args[0]), hint.c_str());
  std::vector<std::string> known;
  for (const auto& c : table) known.emplace_back(c.name);
  const std::string near = nearest_name(std::string(args[0]), known);
  return usage_error(fmt::format("{}: unknown {} '{}' ({}available: {})", path, what, args[0],
                                 near.empty() ? "" : fmt::format("did you mean '{}'? ", near), names), hint.c_str());
}

}  // namespace tide::cli
