// The "cnf" model type from a config object (cnf.hpp): every key checked, named in errors.
#include "tide/data/config_object.hpp"
#include "tide/models/cnf.hpp"
#include "tide/models/registry.hpp"
#include "spec_reader.hpp"
#include <nlohmann/json.hpp>

namespace tide::models {

using json = nlohmann::json;
using detail::SpecReader;

CnfSolve parse_cnf_solve(const json& spec, const CnfSolve& defaults, const std::string& where, bool trace_keys, json* normal) {
  SpecReader k(spec, where);
  CnfSolve out = defaults;
  out.ode.method = method_from_name(k.string("method", method_name(defaults.ode.method), method_names()));
  if (out.ode.method == Method::ltc_fused) fail("{}: ltc_fused solves only the LTC cells", k.path("method"));
  // a method named here starts without the inherited step count (test_solver: dopri5 after rk4 x 8)
  const bool new_method = k.has("method") && out.ode.method != defaults.ode.method;
  out.steps = k.integer("steps", new_method ? 0 : defaults.steps, 0, 1000000);
  // The tolerances steer an adaptive method's step control (and an implicit method's Newton
  // iteration, fixed steps or not): with fixed steps of an explicit method nothing reads them.
  const Tableau& tab = tableau(out.ode.method);
  if (tab.adaptive() && (out.steps == 0 || tab.implicit)) {
    out.ode.rtol = k.number("rtol", defaults.ode.rtol, 1e-14, 1.0);
    out.ode.atol = k.number("atol", defaults.ode.atol, 1e-16, 1.0);
  } else {
    for (const char* key : {"rtol", "atol"})
      if (k.has(key))  // (marked read: ignored inside a RecordedSpecScope)
        refuse_unread_key(fmt::format("{}: method '{}'{} takes fixed steps with no error control, so nothing reads \"{}\" (it is "
                                      "for an adaptive method without \"steps\")",
                                      k.path(key), method_name(out.ode.method), tab.adaptive() ? " with \"steps\"" : "", key));
  }
  out.ode.gradient = gradient_kind_from_name(k.string("gradient", gradient_kind_name(defaults.ode.gradient), gradient_kind_names()));
  if (trace_keys) {
    out.trace = cnf_trace_from_name(k.string("trace", cnf_trace_names()[static_cast<std::size_t>(defaults.trace)], cnf_trace_names()));
    out.noise = k.string("noise", noise_name(defaults.noise), {"gaussian", "rademacher"}) == "gaussian" ? Noise::gaussian : Noise::rademacher;
    out.trace_error_control = k.boolean("trace_error_control", defaults.trace_error_control);
  }
  out.per_sample = k.boolean("per_sample", defaults.per_sample);
  out.regulariser_error_control = k.boolean("regulariser_error_control", defaults.regulariser_error_control);
  k.finish(trace_keys ? "a CNF solver" : "a solver");
  if (trace_keys && spec.contains("noise") && out.trace == CnfTrace::exact)
    fail("{}: the exact trace draws no noise; \"noise\" is for the Hutchinson traces", k.path("noise"));
  if (trace_keys && out.trace == CnfTrace::exact) k.forget("noise");
  if (!tab.adaptive() && out.steps == 0)
    fail("{}: the fixed-step method '{}' needs \"steps\" (fixed steps per solve)", where, method_name(out.ode.method));
  if (normal) *normal = k.normal();
  return out;
}

std::shared_ptr<CnfModel> make_cnf(const json& spec, std::int64_t dims, const std::vector<std::int64_t>& image,
                                   Generator& gen, DType dtype, const std::string& where) {
  SpecReader k(spec, where);
  k.string("type", "cnf", {"cnf"});
  CnfOptions o;
  o.dims = dims;
  o.image = image;
  o.dtype = dtype;
  o.hidden = k.integers("hidden", o.hidden, 1, 1 << 16);
  o.layer = cnf_layer_from_name(k.string("layer", "concatsquash", cnf_layer_names()));
  o.activation = cnf_activation_from_name(k.string("activation", image.empty() ? "tanh" : "softplus", cnf_activation_names()));
  o.blocks = static_cast<int>(k.integer("blocks", 1, 1, 64));
  o.train_end_time = k.boolean("train_end_time", true);
  const double length = image.empty() ? 0.5 : 1.0;  // trained: a start the parameters hold what became of
  o.time_length = o.train_end_time ? k.initial_number("time_length", length, 1e-6, 1e6) : k.number("time_length", length, 1e-6, 1e6);
  o.logit_alpha = k.number("logit_alpha", o.logit_alpha, 0.0, 0.49);
  if (!(o.logit_alpha > 0))
    fail("{}: must be > 0 (in (0, 0.49]): at 0 a pixel 255 dequantises to 1, whose logit is infinite", k.path("logit_alpha"));
  if (image.empty() && spec.contains("logit_alpha"))
    fail("{}: the logit transform is applied to image data only; these data are vectors", k.path("logit_alpha"));
  if (image.empty()) k.forget("logit_alpha");
  // exact traces for small dims (FFJORD's toys use the brute-force trace), Hutchinson above
  o.train.trace = dims <= 4 ? CnfTrace::exact : CnfTrace::hutchinson_vjp;
  json solver, test_solver;  // (absent: their defaults, recorded as such)
  o.train = parse_cnf_solve(k.object("solver"), o.train, k.path("solver"), true, &solver);
  o.test = parse_cnf_solve(k.object("test_solver"), o.train, k.path("test_solver"), true, &test_solver);
  k.set("solver", std::move(solver));
  k.set("test_solver", std::move(test_solver));
  const bool report = k.boolean("report_regularisers", false);
  k.finish("model type 'cnf'");
  auto model = std::make_shared<CnfModel>(o, gen);
  model->report_regularisers = report;
  model->set_spec(k.normal());
  return model;
}

}  // namespace tide::models
