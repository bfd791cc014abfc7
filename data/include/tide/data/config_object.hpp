// ConfigObject: reads the keys of one JSON object of a configuration with their types and ranges
// checked, and rejects the keys nobody read; every error names the key's full path
// ("model.solver.unfolds") and what was expected. Used by the dataset registry (data/), the model
// registry (models/) and `tide train`; it lives in the lowest layer that reads configs.
#pragma once
#include "tide/core/error.hpp"
#include "tide/core/named.hpp"
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace tide {

// A JSON value as an error message shows it: scalars as written (strings cut at 60 characters),
// small arrays and objects as written, larger ones by kind and size. Never an unbounded dump of
// user input (a deeply nested value would recurse, a huge one flood the message).
inline bool small_json(const nlohmann::json& v, int& budget) {
  if (--budget < 0) return false;
  if (v.is_string()) return v.get_ref<const std::string&>().size() <= 60;
  if (!v.is_structured()) return true;
  for (const auto& e : v)
    if (!small_json(e, budget)) return false;
  return true;
}
inline std::string brief(const nlohmann::json& v) {
  int budget = 16;
  constexpr auto replace = nlohmann::json::error_handler_t::replace;  // a string cut inside a UTF-8 character
  if (small_json(v, budget)) return v.dump(-1, ' ', false, replace);
  if (v.is_string()) return nlohmann::json(v.get_ref<const std::string&>().substr(0, 57) + "...").dump(-1, ' ', false, replace);
  return v.is_array() ? fmt::format("an array of {} elements", v.size()) : fmt::format("an object with {} keys", v.size());
}

// The known name within two single-character edits of `name` (a typo: "hiden", "target",
// "humdity"), and within one edit per three characters (so "x" suggests nothing); the closest;
// empty if none is. Config keys and CSV column names are suggested by this one rule.
inline std::string nearest_name(const std::string& name, const std::vector<std::string>& known) {
  std::string best;
  std::size_t best_distance = 3;
  for (const std::string& k : known) {
    std::vector<std::size_t> row(k.size() + 1);  // Levenshtein distance, one row at a time
    for (std::size_t j = 0; j <= k.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= name.size(); ++i) {
      std::size_t diagonal = row[0];
      row[0] = i;
      for (std::size_t j = 1; j <= k.size(); ++j) {
        const std::size_t up = row[j];
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (name[i - 1] == k[j - 1] ? 0 : 1)});
        diagonal = up;
      }
    }
    const std::size_t d = row[k.size()];
    if (d < best_distance && d * 3 <= std::max(name.size(), k.size())) best_distance = d, best = k;
  }
  return best;
}

// Whether `v` is an integer in lo..hi. A JSON integer above INT64_MAX is held unsigned, and read as
// int64_t it wraps (2^64 - 1 read as -1, inside a range that admits -1): compared as it is written.
inline bool integer_in(const nlohmann::json& v, std::int64_t lo, std::int64_t hi) {
  if (v.is_number_unsigned()) {
    const std::uint64_t u = v.get<std::uint64_t>();
    return hi >= 0 && u <= static_cast<std::uint64_t>(hi) && (lo <= 0 || u >= static_cast<std::uint64_t>(lo));
  }
  return v.is_number_integer() && v.get<std::int64_t>() >= lo && v.get<std::int64_t>() <= hi;
}

// Reads keys of one JSON object and rejects the ones nobody read.
class ConfigObject {
public:
  ConfigObject(const nlohmann::json& j, std::string where) : j_(j), where_(std::move(where)) {
    if (!j_.is_object()) fail("{}: expected an object, got {}", where_, brief(j_));
  }
  std::string path(const std::string& key) const { return where_ + "." + key; }
  bool has(const std::string& key) { seen_.insert(key); return j_.contains(key); }
  std::int64_t integer(const std::string& key, std::int64_t fallback, std::int64_t lo, std::int64_t hi) {
    if (!has(key)) return fallback;
    const nlohmann::json& v = j_.at(key);
    if (!integer_in(v, lo, hi)) fail("{}: expected an integer in {}..{}, got {}", path(key), lo, hi, brief(v));
    return v.get<std::int64_t>();
  }
  double number(const std::string& key, double fallback, double lo, double hi) {
    if (!has(key)) return fallback;
    const nlohmann::json& v = j_.at(key);
    if (!v.is_number() || !(v.get<double>() >= lo && v.get<double>() <= hi))
      fail("{}: expected a number in [{:g}, {:g}], got {}", path(key), lo, hi, brief(v));
    return v.get<double>();
  }
  bool boolean(const std::string& key, bool fallback) {
    if (!has(key)) return fallback;
    if (!j_.at(key).is_boolean()) fail("{}: expected true or false, got {}", path(key), brief(j_.at(key)));
    return j_.at(key).get<bool>();
  }
  std::string string(const std::string& key, const std::string& fallback, const std::vector<std::string>& allowed) {
    if (!has(key)) return fallback;
    const nlohmann::json& v = j_.at(key);
    if (v.is_string())
      for (const std::string& a : allowed)
        if (v.get<std::string>() == a) return a;
    fail("{}: expected one of {}, got {}", path(key), fmt::join(allowed, ", "), brief(v));
  }
  // A string naming a row of `table` (tide/core/named.hpp): that row's value.
  template <class Table>
  const auto& choice(const std::string& key, const std::string& fallback, const Table& table) {
    return lookup(table, string(key, fallback, names_of(table)), path(key));
  }
  // Any string (file paths, names).
  std::string text(const std::string& key, const std::string& fallback) {
    if (!has(key)) return fallback;
    if (!j_.at(key).is_string()) fail("{}: expected a string, got {}", path(key), brief(j_.at(key)));
    return j_.at(key).get<std::string>();
  }
  // A file or folder: a non-empty string (an empty one used to fail as a file without a name).
  std::string file_path(const std::string& key, const std::string& fallback) {
    const std::string s = text(key, fallback);
    if (has(key) && s.empty()) fail("{}: expected a file path, got an empty string", path(key));
    return s;
  }
  std::vector<std::string> texts(const std::string& key) {
    std::vector<std::string> out;
    if (!has(key)) return out;
    const nlohmann::json& v = j_.at(key);
    if (!v.is_array()) fail("{}: expected an array of strings, got {}", path(key), brief(v));
    for (const nlohmann::json& e : v) {
      if (!e.is_string()) fail("{}: expected an array of strings, got {}", path(key), brief(v));
      out.push_back(e.get<std::string>());
    }
    return out;
  }
  // An array of integers in lo..hi; `fallback` when the key is absent.
  std::vector<std::int64_t> integers(const std::string& key, std::vector<std::int64_t> fallback, std::int64_t lo, std::int64_t hi) {
    if (!has(key)) return fallback;
    const nlohmann::json& v = j_.at(key);
    std::vector<std::int64_t> out;
    if (!v.is_array()) fail("{}: expected an array of integers in {}..{}, got {}", path(key), lo, hi, brief(v));
    for (const nlohmann::json& e : v) {
      if (!integer_in(e, lo, hi))
        fail("{}: expected an array of integers in {}..{}, got {}", path(key), lo, hi, brief(v));
      out.push_back(e.get<std::int64_t>());
    }
    return out;
  }
  // The key's value as written (nullptr when absent), for keys of more than one type.
  const nlohmann::json* value(const std::string& key) { return has(key) ? &j_.at(key) : nullptr; }
  const nlohmann::json* object(const std::string& key) {
    if (!has(key)) return nullptr;
    if (!j_.at(key).is_object()) fail("{}: expected an object, got {}", path(key), brief(j_.at(key)));
    return &j_.at(key);
  }
  const std::string& where() const { return where_; }
  // Whether a reader asked for `key`: once the reader is done, whether the object accepts it.
  bool known(const std::string& key) const { return seen_.count(key) > 0; }
  void finish(const std::string& what) const {
    std::vector<std::string> known(seen_.begin(), seen_.end());
    for (auto it = j_.begin(); it != j_.end(); ++it)
      if (!seen_.count(it.key())) {
        const std::string near = nearest_name(it.key(), known);
        fail("{}: unknown key for {}{} (known: {})", path(it.key()), what,
             near.empty() ? std::string() : "; did you mean '" + near + "'?", fmt::join(known, ", "));
      }
  }
  // For an error raised before finish() (a loader reads its keys as it goes, files in between): a
  // note on each unread key a typo away from a read one ("delimeter"), which may well be the cause;
  // empty if none is. Keys not read yet are no typos of themselves, so only near misses are named.
  std::string typo_note() const {
    std::vector<std::string> known(seen_.begin(), seen_.end());
    std::string note;
    for (auto it = j_.begin(); it != j_.end(); ++it) {
      if (seen_.count(it.key())) continue;
      const std::string near = nearest_name(it.key(), known);
      if (!near.empty()) note += fmt::format(" (note: {} is no key of this dataset; did you mean '{}'?)", path(it.key()), near);
    }
    return note;
  }

private:
  const nlohmann::json& j_;
  std::string where_;
  std::set<std::string> seen_;
};

}  // namespace tide
