#include "tide/models/registry.hpp"
#include "tide/models/config_object.hpp"
#include "tide/models/cfc.hpp"
#include "tide/models/ltc.hpp"
#include "tide/models/ode_cells.hpp"

namespace tide::models {
namespace {

using json = nlohmann::json;

std::vector<std::string> method_names() {
  std::vector<std::string> out;
  for (Method m : all_methods()) out.push_back(method_name(m));
  return out;
}

}  // namespace

const std::vector<std::pair<std::string, std::string>>& cell_types() {
  static const std::vector<std::pair<std::string, std::string>> types = {
      {"ltc", "LTC, paper form: dx/dt = -[1/tau + f] x + f A, fused solver (or any)"},
      {"ltc_biophysical", "LTC, per-synapse form with a wiring (full, random, ncp)"},
      {"cfc", "closed-form continuous-time cell (default, no_gate, minimal)"},
      {"mmrnn", "mixed-memory RNN / ODE-LSTM (mmRNN algorithm 1)"},
      {"ode_rnn", "ODE-RNN: ODE between observations, GRU update at them"},
      {"node_rnn", "neural ODE RNN: dh/dt = MLP([x, h])"},
      {"ctrnn", "continuous-time RNN: dh/dt = -h/tau + tanh([x, h] W + b)"},
      {"lstm", "LSTM"},
      {"augmented_lstm", "LSTM with the elapsed time as an extra input"},
      {"gru", "GRU"},
      {"gru_d", "GRU-D: exponential decay of the hidden state"},
      {"rnn", "vanilla tanh RNN"},
  };
  return types;
}

OdeSpec parse_ode_spec(const json& spec, const OdeSpec& defaults, const std::string& where) {
  ConfigObject k(spec, where);
  OdeSpec out = defaults;
  std::vector<std::string> names = method_names();
  out.method = method_from_name(k.string("method", method_name(defaults.method), names));
  out.unfolds = static_cast<int>(k.integer("unfolds", defaults.unfolds, 1, 10000));
  out.rtol = k.number("rtol", defaults.rtol, 1e-14, 1.0);
  out.atol = k.number("atol", defaults.atol, 1e-16, 1.0);
  const std::string g = k.string("gradient", gradient_kind_name(defaults.gradient), {"discrete", "checkpointed", "adjoint"});
  out.gradient = g == "adjoint" ? GradientKind::adjoint : g == "checkpointed" ? GradientKind::checkpointed : GradientKind::discrete;
  k.finish("a solver");
  return out;
}

CellPtr make_cell(const json& spec, std::int64_t inputs, Generator& gen, DType dtype, const std::string& where) {
  ConfigObject k(spec, where);
  std::vector<std::string> names;
  for (auto& [n, _] : cell_types()) names.push_back(n);
  if (!k.has("type")) fail("{}: missing key 'type' (one of {})", where, fmt::join(names, ", "));
  const std::string type = k.string("type", "", names);
  const std::int64_t hidden = k.integer("hidden", 64, 1, 1 << 16);
  auto ode = [&](OdeSpec defaults) {
    const json* s = k.object("solver");
    const OdeSpec out = s ? parse_ode_spec(*s, defaults, k.path("solver")) : defaults;
    if (out.method == Method::ltc_fused && type != "ltc" && type != "ltc_biophysical")
      fail("{}: ltc_fused solves only the LTC cells (ltc, ltc_biophysical); model type '{}' needs a Runge-Kutta method",
           k.path("solver.method"), type);
    return out;
  };
  CellOptions co{dtype, 1.0};
  CellPtr cell;
  if (type == "ltc" || type == "ltc_biophysical") {
    LTCOptions lo;
    lo.dtype = dtype;
    lo.ode = ode(lo.ode);
    if (type == "ltc") {
      lo.tau_min = k.number("tau_min", 0.0, 0.0, 1e6);
      cell = std::make_shared<LTCCell>(inputs, hidden, gen, lo);
    } else {
      const std::string wiring = k.string("wiring", "full", {"full", "random", "ncp"});
      const std::uint64_t seed = static_cast<std::uint64_t>(k.integer("wiring_seed", 1, 0, INT64_MAX));
      Wiring w;
      if (wiring == "ncp") {
        NcpSizes s;
        s.inter = k.integer("inter", s.inter, 1, 1 << 16);
        s.command = k.integer("command", s.command, 1, 1 << 16);
        s.motor = k.integer("motor", s.motor, 1, 1 << 16);
        s.sensory_fanout = k.integer("sensory_fanout", s.sensory_fanout, 1, 1 << 16);
        s.inter_fanout = k.integer("inter_fanout", s.inter_fanout, 1, 1 << 16);
        s.recurrent_command = k.integer("recurrent_command", s.recurrent_command, 0, 1 << 16);
        s.motor_fanin = k.integer("motor_fanin", s.motor_fanin, 1, 1 << 16);
        w = ncp(inputs, s, seed);
      } else {
        const std::int64_t motor = k.integer("motor", hidden, 1, hidden);
        w = wiring == "full" ? fully_connected(inputs, hidden, motor, seed)
                             : random_sparse(inputs, hidden, motor, k.number("sparsity", 0.5, 0.0, 0.99), seed);
      }
      cell = std::make_shared<BiophysicalLTCCell>(w, gen, lo);
    }
  } else if (type == "cfc") {
    CfCOptions o;
    o.dtype = dtype;
    o.mode = k.string("mode", "default", {"default", "no_gate", "minimal"});
    o.backbone_units = k.integer("backbone_units", o.backbone_units, 1, 1 << 16);
    o.backbone_layers = static_cast<int>(k.integer("backbone_layers", o.backbone_layers, 0, 64));
    cell = std::make_shared<CfCCell>(inputs, hidden, gen, o);
  } else if (type == "mmrnn") {
    MMRNNVariant v;
    v.forget_bias = k.number("forget_bias", v.forget_bias, -100, 100);
    v.ode_input = k.boolean("ode_input", v.ode_input);
    v.ode = ode(v.ode);
    cell = std::make_shared<MMRNNCell>(inputs, hidden, gen, v, dtype);
  } else if (type == "ode_rnn") {
    cell = std::make_shared<ODERNNCell>(inputs, hidden, gen, ode(OdeSpec{Method::rk4, 1}), co);
  } else if (type == "node_rnn") {
    cell = std::make_shared<NeuralODERNNCell>(inputs, hidden, gen, ode(OdeSpec{Method::rk4, 1}), co);
  } else if (type == "ctrnn") {
    const double tau = k.number("tau", 1.0, 1e-6, 1e6);
    cell = std::make_shared<CTRNNCell>(inputs, hidden, gen, ode(OdeSpec{Method::rk4, 1}), co, tau);
  } else if (type == "lstm" || type == "augmented_lstm") {
    co.forget_bias = k.number("forget_bias", 1.0, -100, 100);
    cell = std::make_shared<LSTMCell>(inputs, hidden, gen, co, type == "augmented_lstm");
  } else if (type == "gru") {
    cell = std::make_shared<GRUCell>(inputs, hidden, gen, co);
  } else if (type == "gru_d") {
    cell = std::make_shared<GRUDCell>(inputs, hidden, gen, co);
  } else {
    cell = std::make_shared<VanillaRNNCell>(inputs, hidden, gen, co);
  }
  k.finish("model type '" + type + "'");
  return cell;
}

}  // namespace tide::models
