// torchdiffeq's test problems in tide, run with the torchdiffeq preset (torchdiffeq_parity.hpp).
#include "torchdiffeq_parity.hpp"
#include "tide/tide.hpp"
#include "train/train_config.hpp"
#include <cmath>
#include <fstream>

namespace tide::cli {
using json = nlohmann::json;

namespace {

// `object[key]` (`object` is a case, or its params with `where` "params."), null when absent; a
// value that `accepts` refuses fails naming the case, the key and the type expected.
template <class Accepts>
const json* field(const json& object, const char* key, std::size_t index, const char* expected, Accepts accepts,
                  const char* where = "") {
  const auto it = object.find(key);
  if (it == object.end()) return nullptr;
  if (!accepts(*it)) fail("torchdiffeq case {}: key '{}{}': expected {}, got {}", index, where, key, expected, it->type_name());
  return &*it;
}

double number_or(const json& object, const char* key, double fallback, std::size_t index, const char* where = "") {
  const json* v = field(object, key, index, "a number", [](const json& x) { return x.is_number(); }, where);
  return v ? v->get<double>() : fallback;
}

std::string text_or(const json& object, const char* key, std::size_t index) {
  const json* v = field(object, key, index, "a string", [](const json& x) { return x.is_string(); });
  return v ? v->get<std::string>() : "";
}

// The numbers of an array, nested arrays flattened in order (ys is [T][D]).
void flatten(const json& x, std::vector<double>& out, const char* key, std::size_t index) {
  if (x.is_number()) out.push_back(x.get<double>());
  else if (x.is_array())
    for (const json& e : x) flatten(e, out, key, index);
  else fail("torchdiffeq case {}: '{}' holds a non-number", index, key);
}

std::vector<double> numbers(const json& c, const char* key, std::size_t index) {
  if (!c.contains(key) || !c[key].is_array()) fail("torchdiffeq case {}: missing array '{}'", index, key);
  std::vector<double> v;
  flatten(c[key], v, key, index);
  return v;
}

Tensor matrix(const json& params, std::size_t index) {
  if (!params.contains("matrix") || !params["matrix"].is_array()) fail("torchdiffeq case {}: missing params.matrix", index);
  std::vector<double> v;
  const std::int64_t n = static_cast<std::int64_t>(params["matrix"].size());
  for (const json& row : params["matrix"]) {
    if (!row.is_array() || static_cast<std::int64_t>(row.size()) != n) fail("torchdiffeq case {}: params.matrix is not square", index);
    for (const json& x : row) {
      if (!x.is_number()) fail("torchdiffeq case {}: key 'params.matrix': expected numbers, got {}", index, x.type_name());
      v.push_back(x.get<double>());
    }
  }
  return Tensor::from_vector(v, Shape{n, n}, DType::f64);
}

// The problem's right-hand side on row states [1, D] and time columns [1, 1].
Dynamics problem(const json& c, std::size_t index) {
  const std::string name = text_or(c, "problem", index);
  const json* given = field(c, "params", index, "an object", [](const json& x) { return x.is_object(); });
  const json params = given ? *given : json::object();
  if (name == "constant") {
    const double a = number_or(params, "a", 0.2, index, "params."), b = number_or(params, "b", 3.0, index, "params.");
    return [a, b](const Var& y, const Var& t) { return pow(y - (t * a + b), 5.0) + a; };
  }
  if (name == "sine")
    return [](const Var& y, const Var& t) { return y * 2.0 / t + pow(t, 4.0) * sin(t * 2.0) - t * t + pow(t, 3.0) * 4.0; };
  if (name == "linear" || name == "harmonic") {
    const Var mt = Var(matrix(params, index).transpose(0, 1).contiguous());
    return [mt](const Var& y, const Var&) { return matmul(y, mt); };
  }
  fail("torchdiffeq case {}: unknown problem '{}' (known: constant, sine, linear, harmonic)", index, name);
}

}  // namespace

json run_torchdiffeq_case(const json& c, std::size_t index) {
  if (!c.is_object()) fail("torchdiffeq case {}: expected an object, got {}", index, c.type_name());
  const std::string method = text_or(c, "method", index);
  SolveOptions o = SolveOptions::torchdiffeq(method);
  const double rtol = number_or(c, "rtol", 0.0, index), atol = number_or(c, "atol", 0.0, index);
  if (rtol > 0 || atol > 0) o.rtol = rtol, o.atol = atol;
  o.first_step = number_or(c, "first_step", 0.0, index);  // 0: chosen as torchdiffeq chooses it
  const json* nfe = field(c, "nfe", index, "an integer", [](const json& x) { return x.is_number_integer(); });
  const std::vector<double> y0 = numbers(c, "y0", index), times = numbers(c, "times", index), expected = numbers(c, "ys", index);
  const auto D = static_cast<std::int64_t>(y0.size()), T = static_cast<std::int64_t>(times.size());
  const Solution s = solve(problem(c, index), Var(Tensor::from_vector(y0, Shape{D}, DType::f64)),
                           Var(Tensor::from_vector(times, Shape{T}, DType::f64)), o);
  const std::vector<double> ys = s.ys.value().to_vector();
  if (ys.size() != expected.size()) fail("torchdiffeq case {}: 'ys' has {} values, the solve {}", index, expected.size(), ys.size());
  double diff = 0.0;
  for (std::size_t i = 0; i < ys.size(); ++i) diff = std::max(diff, std::fabs(ys[i] - expected[i]));
  return {{"problem", text_or(c, "problem", index)}, {"method", method}, {"rtol", rtol}, {"atol", atol}, {"nfe", s.stats->max_nfe()},
          {"nfe_torchdiffeq", nfe ? nfe->get<std::int64_t>() : -1}, {"ys", ys}, {"max_abs_diff", diff}};
}

json run_torchdiffeq_cases(const std::string& path) {
  const json file = load_json_file(path, "torchdiffeq cases file");  // nesting bounded: a deep array overflowed flatten's stack
  if (!file.is_object() || !file.contains("cases") || !file["cases"].is_array()) fail("{}: expected an object with a 'cases' array", path);
  json out = {{"torchdiffeq", file.value("torchdiffeq", json("?"))}, {"cases", json::array()}};  // the version, as recorded
  for (std::size_t i = 0; i < file["cases"].size(); ++i) {
    try {
      out["cases"].push_back(run_torchdiffeq_case(file["cases"][i], i));
    } catch (const Error& e) {
      fail("{}: {}", path, e.what());
    }
  }
  return out;
}

}  // namespace tide::cli
