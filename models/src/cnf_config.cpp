// The "cnf" model type from a config object (cnf.hpp): every key checked, named in errors.
#include "tide/data/config_object.hpp"
#include "tide/models/cnf.hpp"
#include <nlohmann/json.hpp>

namespace tide::models {

using json = nlohmann::json;

CnfSolve parse_cnf_solve(const json& spec, const CnfSolve& defaults, const std::string& where, bool trace_keys) {
  ConfigObject k(spec, where);
  CnfSolve out = defaults;
  out.ode.method = method_from_name(k.string("method", method_name(defaults.ode.method), method_names()));
  if (out.ode.method == Method::ltc_fused) fail("{}: ltc_fused solves only the LTC cells", k.path("method"));
  out.ode.rtol = k.number("rtol", defaults.ode.rtol, 1e-14, 1.0);
  out.ode.atol = k.number("atol", defaults.ode.atol, 1e-16, 1.0);
  out.ode.gradient = gradient_kind_from_name(k.string("gradient", gradient_kind_name(defaults.ode.gradient), gradient_kind_names()));
  // a method named here starts without the inherited step count (test_solver: dopri5 after rk4 x 8)
  const bool new_method = k.has("method") && out.ode.method != defaults.ode.method;
  out.steps = k.integer("steps", new_method ? 0 : defaults.steps, 0, 1000000);
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
  if (!tableau(out.ode.method).adaptive() && out.steps == 0)
    fail("{}: the fixed-step method '{}' needs \"steps\" (fixed steps per solve)", where, method_name(out.ode.method));
  return out;
}

std::shared_ptr<CnfModel> make_cnf(const json& spec, std::int64_t dims, const std::vector<std::int64_t>& image,
                                   Generator& gen, DType dtype, const std::string& where) {
  ConfigObject k(spec, where);
  k.string("type", "cnf", {"cnf"});
  CnfOptions o;
  o.dims = dims;
  o.image = image;
  o.dtype = dtype;
  o.hidden = k.integers("hidden", o.hidden, 1, 1 << 16);
  o.layer = cnf_layer_from_name(k.string("layer", "concatsquash", cnf_layer_names()));
  o.activation = cnf_activation_from_name(k.string("activation", image.empty() ? "tanh" : "softplus", cnf_activation_names()));
  o.blocks = static_cast<int>(k.integer("blocks", 1, 1, 64));
  o.time_length = k.number("time_length", image.empty() ? 0.5 : 1.0, 1e-6, 1e6);
  o.train_end_time = k.boolean("train_end_time", true);
  o.logit_alpha = k.number("logit_alpha", o.logit_alpha, 0.0, 0.49);
  if (!(o.logit_alpha > 0))
    fail("{}: must be > 0 (in (0, 0.49]): at 0 a pixel 255 dequantises to 1, whose logit is infinite", k.path("logit_alpha"));
  if (image.empty() && spec.contains("logit_alpha"))
    fail("{}: the logit transform is applied to image data only; these data are vectors", k.path("logit_alpha"));
  // exact traces for small dims (FFJORD's toys use the brute-force trace), Hutchinson above
  o.train.trace = dims <= 4 ? CnfTrace::exact : CnfTrace::hutchinson_vjp;
  if (const json* s = k.object("solver")) o.train = parse_cnf_solve(*s, o.train, k.path("solver"));
  o.test = o.train;
  if (const json* s = k.object("test_solver")) o.test = parse_cnf_solve(*s, o.train, k.path("test_solver"));
  const bool report = k.boolean("report_regularisers", false);
  k.finish("model type 'cnf'");
  auto model = std::make_shared<CnfModel>(o, gen);
  model->report_regularisers = report;
  return model;
}

}  // namespace tide::models
