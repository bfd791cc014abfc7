// SpecReader: a ConfigObject (tide/data/config_object.hpp) that also writes down every key's value
// as it is read, the default where the key is absent: the model's normalised spec, which its files
// record (model.hpp) so that a file is loaded only into a model built the same way. Two configs
// that build the same model (one spelling out a default, one leaving it out) normalise the same.
#pragma once
#include "tide/data/config_object.hpp"
#include <nlohmann/json.hpp>

namespace tide::models::detail {

class SpecReader {
public:
  SpecReader(const nlohmann::json& j, std::string where) : j_(j), k_(j, std::move(where)) {}

  std::string path(const std::string& key) const { return k_.path(key); }
  const std::string& where() const { return k_.where(); }
  bool has(const std::string& key) { return k_.has(key); }
  bool given(const std::string& key) const { return j_.contains(key); }  // (marks nothing read)
  void finish(const std::string& what) const { k_.finish(what); }

  std::int64_t integer(const std::string& key, std::int64_t fallback, std::int64_t lo, std::int64_t hi) {
    return keep(key, k_.integer(key, fallback, lo, hi));
  }
  double number(const std::string& key, double fallback, double lo, double hi) {
    return keep(key, k_.number(key, fallback, lo, hi));
  }
  bool boolean(const std::string& key, bool fallback) { return keep(key, k_.boolean(key, fallback)); }
  // A learned parameter's starting value (ctrnn's tau, a trained CNF end time): read, not recorded,
  // since the file's parameters hold what training made of it.
  double initial_number(const std::string& key, double fallback, double lo, double hi) { return k_.number(key, fallback, lo, hi); }
  std::string string(const std::string& key, const std::string& fallback, const std::vector<std::string>& allowed) {
    return keep(key, k_.string(key, fallback, allowed));
  }
  std::vector<std::int64_t> integers(const std::string& key, std::vector<std::int64_t> fallback, std::int64_t lo, std::int64_t hi) {
    return keep(key, k_.integers(key, std::move(fallback), lo, hi));
  }
  template <class Table>
  const auto& choice(const std::string& key, const std::string& fallback, const Table& table) {
    return lookup(table, string(key, fallback, names_of(table)), path(key));
  }
  // A nested object as written; its reader records it with set(). An absent one reads as {}, so
  // that its defaults are recorded too.
  const nlohmann::json& object(const std::string& key) {
    static const nlohmann::json empty = nlohmann::json::object();
    const nlohmann::json* v = k_.object(key);
    return v ? *v : empty;
  }
  // Records a value the reader did not read as such (a nested object's normalised form, a size
  // that follows from others).
  void set(const std::string& key, nlohmann::json value) { normal_[key] = std::move(value); }
  // Leaves out a key read with its default that the chosen variant does not use (a task's or a
  // data kind's option), so that the spec builds its model again: the builders refuse such a key
  // when it is given.
  void forget(const std::string& key) { normal_.erase(key); }
  const nlohmann::json& normal() const { return normal_; }

private:
  template <class T>
  T keep(const std::string& key, T value) {
    normal_[key] = value;
    return value;
  }

  const nlohmann::json& j_;
  ConfigObject k_;
  nlohmann::json normal_ = nlohmann::json::object();
};

}  // namespace tide::models::detail
