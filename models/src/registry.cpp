#include "tide/models/registry.hpp"
#include "tide/data/config_object.hpp"
#include "tide/models/cfc.hpp"
#include "tide/models/ltc.hpp"
#include "tide/models/ode_cells.hpp"
#include "spec_reader.hpp"

namespace tide::models {
namespace {

using json = nlohmann::json;
using detail::SpecReader;

// What a cell's builder reads: the model's config object, its sizes and the solver defaults.
struct CellBuild {
  SpecReader& k;
  const std::string& type;
  std::int64_t inputs, hidden;
  Generator& gen;
  DType dtype;

  // The "solver" object over `defaults`; only the LTC cells take the fused LTC solver.
  OdeSpec ode(const OdeSpec& defaults) {
    json normal;
    const OdeSpec out = parse_ode_spec(k.object("solver"), defaults, k.path("solver"), &normal);
    k.set("solver", std::move(normal));
    if (out.method == Method::ltc_fused && type != "ltc" && type != "ltc_biophysical")
      fail("{}: ltc_fused solves only the LTC cells (ltc, ltc_biophysical); model type '{}' needs a Runge-Kutta method",
           k.path("solver.method"), type);
    check_fused_gradient(out, k.path("solver.gradient"));
    return out;
  }
  CellOptions options() const { return {dtype, 1.0}; }
  LTCOptions ltc_options() {
    LTCOptions lo;
    lo.dtype = dtype;
    lo.ode = ode(lo.ode);
    return lo;
  }
};

using WiringBuilder = Wiring (*)(CellBuild&, std::uint64_t seed);

// The NCP's fan-outs reach at most the layer they draw from: the error names the keys that fail.
thread_local RecordedSpecScope* recorded_scope = nullptr;

void check_ncp_fanouts(SpecReader& k, const NcpSizes& s) {
  const struct {
    const char* key;
    std::int64_t fanout;
    const char* layer;
    std::int64_t size;
  } relations[] = {{"sensory_fanout", s.sensory_fanout, "inter", s.inter},
                   {"inter_fanout", s.inter_fanout, "command", s.command},
                   {"motor_fanin", s.motor_fanin, "command", s.command}};
  std::vector<std::string> failing;
  for (const auto& r : relations)
    if (r.fanout > r.size) failing.push_back(fmt::format("{}: {} must be <= {} ({})", k.path(r.key), r.fanout, r.layer, r.size));
  if (!failing.empty()) fail("{} (an NCP fan-out reaches at most the neurons of the layer it draws from)", fmt::join(failing, "; "));
}

Wiring ncp_wiring(CellBuild& b, std::uint64_t seed) {
  SpecReader& k = b.k;
  NcpSizes s;
  s.inter = k.integer("inter", s.inter, 1, 1 << 16);
  s.command = k.integer("command", s.command, 1, 1 << 16);
  s.motor = k.integer("motor", s.motor, 1, 1 << 16);
  s.sensory_fanout = k.integer("sensory_fanout", s.sensory_fanout, 1, 1 << 16);
  s.inter_fanout = k.integer("inter_fanout", s.inter_fanout, 1, 1 << 16);
  s.recurrent_command = k.integer("recurrent_command", s.recurrent_command, 0, 1 << 16);
  s.motor_fanin = k.integer("motor_fanin", s.motor_fanin, 1, 1 << 16);
  check_ncp_fanouts(k, s);
  // The layers' sum is the model's size: a "hidden" that says otherwise would be ignored.
  const std::int64_t units = s.inter + s.command + s.motor;
  if (k.given("hidden") && b.hidden != units)
    refuse_unread_key(fmt::format("{}: {} is not the NCP's size, inter + command + motor = {} + {} + {} = {} (the layer sizes "
                                  "set it: leave hidden out, or change inter, command, motor)",
                                  k.path("hidden"), b.hidden, s.inter, s.command, s.motor, units));
  k.set("hidden", units);
  try {  // (the sizes were checked above; this names the model object on any other refusal)
    return ncp(b.inputs, s, seed);
  } catch (const Error& e) {
    fail("{}: {}", k.where(), e.what());
  }
}

constexpr Named<WiringBuilder> kWirings[] = {
    {"full", [](CellBuild& b, std::uint64_t seed) {
       return fully_connected(b.inputs, b.hidden, b.k.integer("motor", b.hidden, 1, b.hidden), seed);
     }},
    {"random", [](CellBuild& b, std::uint64_t seed) {
       const std::int64_t motor = b.k.integer("motor", b.hidden, 1, b.hidden);
       return random_sparse(b.inputs, b.hidden, motor, b.k.number("sparsity", 0.5, 0.0, 0.99), seed);
     }},
    {"ncp", ncp_wiring},
};

CellPtr ltc_biophysical(CellBuild& b) {
  const LTCOptions lo = b.ltc_options();
  const WiringBuilder wiring = b.k.choice("wiring", "full", kWirings);
  const auto seed = static_cast<std::uint64_t>(b.k.integer("wiring_seed", 1, 0, INT64_MAX));
  return std::make_shared<BiophysicalLTCCell>(wiring(b, seed), b.gen, lo);
}

CellPtr cfc(CellBuild& b) {
  CfCOptions o;
  o.dtype = b.dtype;
  o.mode = b.k.string("mode", "default", {"default", "no_gate", "minimal"});
  o.backbone_units = b.k.integer("backbone_units", o.backbone_units, 1, 1 << 16);
  o.backbone_layers = static_cast<int>(b.k.integer("backbone_layers", o.backbone_layers, 0, 64));
  return std::make_shared<CfCCell>(b.inputs, b.hidden, b.gen, o);
}

CellPtr mmrnn(CellBuild& b) {
  MMRNNVariant v;
  v.forget_bias = b.k.number("forget_bias", v.forget_bias, -100, 100);
  v.ode_input = b.k.boolean("ode_input", v.ode_input);
  v.ode = b.ode(v.ode);
  return std::make_shared<MMRNNCell>(b.inputs, b.hidden, b.gen, v, b.dtype);
}

CellPtr lstm(CellBuild& b, bool augmented) {
  CellOptions co = b.options();
  co.forget_bias = b.k.number("forget_bias", 1.0, -100, 100);
  return std::make_shared<LSTMCell>(b.inputs, b.hidden, b.gen, co, augmented);
}

struct CellRecipe {
  const char* summary;  // one line for `tide data models`
  CellPtr (*build)(CellBuild&);
};

// Every cell type make_cell knows: the names it accepts and lists are this table's.
constexpr Named<CellRecipe> kCells[] = {
    {"ltc", {"LTC, paper form: dx/dt = -[1/tau + f] x + f A, fused solver (or any)", [](CellBuild& b) -> CellPtr {
       LTCOptions lo = b.ltc_options();
       lo.tau_min = b.k.number("tau_min", 0.0, 0.0, 1e6);
       return std::make_shared<LTCCell>(b.inputs, b.hidden, b.gen, lo);
     }}},
    {"ltc_biophysical", {"LTC, per-synapse form with a wiring (full, random, ncp)", ltc_biophysical}},
    {"cfc", {"closed-form continuous-time cell (default, no_gate, minimal)", cfc}},
    {"mmrnn", {"mixed-memory RNN / ODE-LSTM (mmRNN algorithm 1)", mmrnn}},
    {"ode_rnn", {"ODE-RNN: ODE between observations, GRU update at them", [](CellBuild& b) -> CellPtr {
       return std::make_shared<ODERNNCell>(b.inputs, b.hidden, b.gen, b.ode(OdeSpec{Method::rk4, 1}), b.options());
     }}},
    {"node_rnn", {"neural ODE RNN: dh/dt = MLP([x, h])", [](CellBuild& b) -> CellPtr {
       return std::make_shared<NeuralODERNNCell>(b.inputs, b.hidden, b.gen, b.ode(OdeSpec{Method::rk4, 1}), b.options());
     }}},
    {"ctrnn", {"continuous-time RNN: dh/dt = -h/tau + tanh([x, h] W + b)", [](CellBuild& b) -> CellPtr {
       const double tau = b.k.initial_number("tau", 1.0, 1e-6, 1e6);  // log tau is learned
       return std::make_shared<CTRNNCell>(b.inputs, b.hidden, b.gen, b.ode(OdeSpec{Method::rk4, 1}), b.options(), tau);
     }}},
    {"lstm", {"LSTM", [](CellBuild& b) { return lstm(b, false); }}},
    {"augmented_lstm", {"LSTM with the elapsed time as an extra input", [](CellBuild& b) { return lstm(b, true); }}},
    {"gru", {"GRU", [](CellBuild& b) -> CellPtr { return std::make_shared<GRUCell>(b.inputs, b.hidden, b.gen, b.options()); }}},
    {"gru_d", {"GRU-D: exponential decay of the hidden state", [](CellBuild& b) -> CellPtr {
       return std::make_shared<GRUDCell>(b.inputs, b.hidden, b.gen, b.options());
     }}},
    {"rnn", {"vanilla tanh RNN", [](CellBuild& b) -> CellPtr {
       return std::make_shared<VanillaRNNCell>(b.inputs, b.hidden, b.gen, b.options());
     }}},
};

}  // namespace

const std::vector<std::pair<std::string, std::string>>& cell_types() {
  static const std::vector<std::pair<std::string, std::string>> types = [] {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& [name, recipe] : kCells) out.emplace_back(name, recipe.summary);
    return out;
  }();
  return types;
}

OdeSpec parse_ode_spec(const json& spec, const OdeSpec& defaults, const std::string& where, json* normal) {
  SpecReader k(spec, where);
  OdeSpec out = defaults;
  out.method = method_from_name(k.string("method", method_name(defaults.method), method_names()));
  // A fixed-step method reads its steps, an adaptive one its tolerances; a key the method does not
  // read is refused rather than ignored.
  const bool fixed = out.method == Method::ltc_fused || !tableau(out.method).adaptive();
  const std::vector<const char*> unread = fixed ? std::vector<const char*>{"rtol", "atol"} : std::vector<const char*>{"unfolds"};
  for (const char* key : unread)
    if (k.has(key))  // (marked read: ignored inside a RecordedSpecScope)
      refuse_unread_key(fmt::format("{}: method '{}' {}; \"{}\" is for {} methods", k.path(key), method_name(out.method),
                                    fixed ? "takes fixed steps (\"unfolds\" per interval) with no error control"
                                          : "chooses its steps by its error estimate",
                                    key, fixed ? "adaptive" : "fixed-step"));
  if (fixed) out.unfolds = static_cast<int>(k.integer("unfolds", defaults.unfolds, 1, 10000));
  else {
    out.rtol = k.number("rtol", defaults.rtol, 1e-14, 1.0);
    out.atol = k.number("atol", defaults.atol, 1e-16, 1.0);
  }
  out.gradient = gradient_kind_from_name(k.string("gradient", gradient_kind_name(defaults.gradient), gradient_kind_names()));
  k.finish("a solver");
  if (normal) *normal = k.normal();
  return out;
}

RecordedSpecScope::RecordedSpecScope(bool on) : outer_(recorded_scope), on_(on) { recorded_scope = this; }
RecordedSpecScope::~RecordedSpecScope() { recorded_scope = outer_; }

void refuse_unread_key(const std::string& message) {
  RecordedSpecScope* scope = recorded_scope;
  if (!scope || !scope->on_) fail("{}", message);
  scope->warnings_.push_back(message + " (ignored: the run's recorded config)");
}

CellPtr make_cell(const json& spec, std::int64_t inputs, Generator& gen, DType dtype, const std::string& where, json* normal) {
  SpecReader k(spec, where);
  if (!k.has("type")) fail("{}: missing key 'type' (one of {})", where, fmt::join(names_of(kCells), ", "));
  const std::string type = k.string("type", "", names_of(kCells));
  CellBuild b{k, type, inputs, k.integer("hidden", 64, 1, 1 << 16), gen, dtype};
  CellPtr cell = lookup(kCells, type, "model type").build(b);
  k.finish("model type '" + type + "'");
  if (normal) *normal = k.normal();
  return cell;
}

}  // namespace tide::models
