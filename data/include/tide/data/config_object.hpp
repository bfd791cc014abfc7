// ConfigObject: reads the keys of one JSON object of a configuration with their types and ranges
// checked, and rejects the keys nobody read; every error names the key's full path
// ("model.solver.unfolds") and what was expected. Used by the dataset registry (data/), the model
// registry (models/) and `tide train`; it lives in the lowest layer that reads configs.
#pragma once
#include "tide/core/error.hpp"
#include "tide/core/named.hpp"
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace tide {

// Reads keys of one JSON object and rejects the ones nobody read.
class ConfigObject {
public:
  ConfigObject(const nlohmann::json& j, std::string where) : j_(j), where_(std::move(where)) {
    if (!j_.is_object()) fail("{}: expected an object, got {}", where_, j_.dump());
  }
  std::string path(const std::string& key) const { return where_ + "." + key; }
  bool has(const std::string& key) { seen_.insert(key); return j_.contains(key); }
  std::int64_t integer(const std::string& key, std::int64_t fallback, std::int64_t lo, std::int64_t hi) {
    if (!has(key)) return fallback;
    const nlohmann::json& v = j_.at(key);
    if (!v.is_number_integer() || v.get<std::int64_t>() < lo || v.get<std::int64_t>() > hi)
      fail("{}: expected an integer in {}..{}, got {}", path(key), lo, hi, v.dump());
    return v.get<std::int64_t>();
  }
  double number(const std::string& key, double fallback, double lo, double hi) {
    if (!has(key)) return fallback;
    const nlohmann::json& v = j_.at(key);
    if (!v.is_number() || !(v.get<double>() >= lo && v.get<double>() <= hi))
      fail("{}: expected a number in [{:g}, {:g}], got {}", path(key), lo, hi, v.dump());
    return v.get<double>();
  }
  bool boolean(const std::string& key, bool fallback) {
    if (!has(key)) return fallback;
    if (!j_.at(key).is_boolean()) fail("{}: expected true or false, got {}", path(key), j_.at(key).dump());
    return j_.at(key).get<bool>();
  }
  std::string string(const std::string& key, const std::string& fallback, const std::vector<std::string>& allowed) {
    if (!has(key)) return fallback;
    const nlohmann::json& v = j_.at(key);
    if (v.is_string())
      for (const std::string& a : allowed)
        if (v.get<std::string>() == a) return a;
    fail("{}: expected one of {}, got {}", path(key), fmt::join(allowed, ", "), v.dump());
  }
  // A string naming a row of `table` (tide/core/named.hpp): that row's value.
  template <class Table>
  const auto& choice(const std::string& key, const std::string& fallback, const Table& table) {
    return lookup(table, string(key, fallback, names_of(table)), path(key));
  }
  // Any string (file paths, names).
  std::string text(const std::string& key, const std::string& fallback) {
    if (!has(key)) return fallback;
    if (!j_.at(key).is_string()) fail("{}: expected a string, got {}", path(key), j_.at(key).dump());
    return j_.at(key).get<std::string>();
  }
  std::vector<std::string> texts(const std::string& key) {
    std::vector<std::string> out;
    if (!has(key)) return out;
    const nlohmann::json& v = j_.at(key);
    if (!v.is_array()) fail("{}: expected an array of strings, got {}", path(key), v.dump());
    for (const nlohmann::json& e : v) {
      if (!e.is_string()) fail("{}: expected an array of strings, got {}", path(key), v.dump());
      out.push_back(e.get<std::string>());
    }
    return out;
  }
  const nlohmann::json* object(const std::string& key) {
    if (!has(key)) return nullptr;
    if (!j_.at(key).is_object()) fail("{}: expected an object, got {}", path(key), j_.at(key).dump());
    return &j_.at(key);
  }
  const std::string& where() const { return where_; }
  void finish(const std::string& what) const {
    std::vector<std::string> known(seen_.begin(), seen_.end());
    for (auto it = j_.begin(); it != j_.end(); ++it)
      if (!seen_.count(it.key()))
        fail("{}: unknown key for {} (known: {})", path(it.key()), what, fmt::join(known, ", "));
  }

private:
  const nlohmann::json& j_;
  std::string where_;
  std::set<std::string> seen_;
};

}  // namespace tide
