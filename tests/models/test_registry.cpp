// The name-keyed registries the models layer reads configs through: every registered name builds,
// and an unknown one fails with the list of the known names (from the registry's own table).
#include "../data/data_test_util.hpp"
#include "model_test_util.hpp"
#include <fmt/ranges.h>

using namespace tide;
using namespace tide::models;
using json = nlohmann::json;

namespace {

using tide::data::test::error_of;

std::string joined(const std::vector<std::string>& names) { return fmt::format("{}", fmt::join(names, ", ")); }

}  // namespace

TEST_CASE("registry: every cell type cell_types() lists builds and steps") {
  Generator gen(1);
  for (const auto& [type, summary] : cell_types()) {
    CAPTURE(type);
    const CellPtr cell = make_cell({{"type", type}, {"hidden", 3}}, 2, gen, DType::f64);
    REQUIRE(cell != nullptr);
    const Var x(Tensor::ones(Shape{2, 2}, DType::f64)), dt(Tensor::ones(Shape{2, 1}, DType::f64));
    CHECK_NOTHROW(cell->step(x, cell->initial_state(2), dt));
  }
}

TEST_CASE("registry: an unknown cell type fails listing every cell type") {
  Generator gen(1);
  std::vector<std::string> names;
  for (const auto& [type, summary] : cell_types()) names.push_back(type);
  const std::string message = error_of([&] { make_cell({{"type", "nosuch"}}, 2, gen, DType::f32); });
  CHECK(message == "model.type: expected one of " + joined(names) + ", got \"nosuch\"");
  CHECK(error_of([&] { make_cell({{"hidden", 3}}, 2, gen, DType::f32); }) == "model: missing key 'type' (one of " + joined(names) + ")");
}

TEST_CASE("registry: every wiring builds and an unknown one fails listing them") {
  Generator gen(1);
  for (const char* wiring : {"full", "random", "ncp"}) {
    CAPTURE(wiring);
    json spec = {{"type", "ltc_biophysical"}, {"wiring", wiring}};
    if (std::string(wiring) != "ncp") spec["hidden"] = 4;  // (an NCP's layer sizes set its size)
    CHECK(make_cell(spec, 2, gen, DType::f32) != nullptr);
  }
  CHECK(error_of([&] { make_cell({{"type", "ltc_biophysical"}, {"wiring", "dense"}}, 2, gen, DType::f32); }) ==
        "model.wiring: expected one of full, random, ncp, got \"dense\"");
}

TEST_CASE("registry: NCP sizes that do not fit together fail naming the failing keys' paths only (found by fuzz/config.cpp)") {
  Generator gen(1);
  CHECK(error_of([&] { make_cell({{"type", "ltc_biophysical"}, {"wiring", "ncp"}, {"command", 1}, {"inter_fanout", 2}, {"motor_fanin", 1}},
                                 2, gen, DType::f32, "c.json.model"); }) ==
        "c.json.model.inter_fanout: 2 must be <= command (1) (an NCP fan-out reaches at most the neurons of the layer it draws from)");
  CHECK(error_of([&] { make_cell({{"type", "ltc_biophysical"}, {"wiring", "ncp"}, {"inter", 2}, {"command", 2}, {"motor_fanin", 2}},
                                 2, gen, DType::f32, "model"); }) ==
        "model.sensory_fanout: 4 must be <= inter (2); model.inter_fanout: 4 must be <= command (2) (an NCP fan-out reaches at most the "
        "neurons of the layer it draws from)");
}

TEST_CASE("registry: an NCP's size is its layers' sum; a hidden that says otherwise is refused, not ignored") {
  Generator gen(1);
  const json ncp = {{"type", "ltc_biophysical"}, {"wiring", "ncp"}};
  CHECK(make_cell(ncp, 2, gen, DType::f32)->state_size() == 16);
  json same = ncp;
  same["hidden"] = 16;
  CHECK(make_cell(same, 2, gen, DType::f32)->state_size() == 16);
  json other = ncp;
  other["hidden"] = 100;  // built a 16-unit model before
  CHECK(error_of([&] { make_cell(other, 2, gen, DType::f32); }) ==
        "model.hidden: 100 is not the NCP's size, inter + command + motor = 8 + 6 + 2 = 16 (the layer sizes set it: leave hidden "
        "out, or change inter, command, motor)");
  json normal;
  make_cell(ncp, 2, gen, DType::f32, "model", &normal);
  CHECK(normal.at("hidden") == 16);  // recorded as built
}

TEST_CASE("registry: solver keys the chosen method does not read are refused, naming the key and the method") {
  Generator gen(1);
  const auto cell = [&](json solver) { return make_cell({{"type", "ode_rnn"}, {"hidden", 3}, {"solver", solver}}, 2, gen, DType::f32); };
  CHECK(error_of([&] { cell({{"method", "rk4"}, {"rtol", 1e-6}}); }) ==
        "model.solver.rtol: method 'rk4' takes fixed steps (\"unfolds\" per interval) with no error control; \"rtol\" is for "
        "adaptive methods");
  CHECK(error_of([&] { cell({{"method", "euler"}, {"unfolds", 2}, {"atol", 1e-6}}); }).starts_with("model.solver.atol: method 'euler'"));
  CHECK(error_of([&] { cell({{"method", "dopri5"}, {"unfolds", 4}}); }) ==
        "model.solver.unfolds: method 'dopri5' chooses its steps by its error estimate; \"unfolds\" is for fixed-step methods");
  CHECK(error_of([&] { make_cell({{"type", "ltc"}, {"solver", {{"rtol", 1e-3}}}}, 2, gen, DType::f32); })
            .starts_with("model.solver.rtol: method 'ltc_fused' takes fixed steps"));
  CHECK_NOTHROW(cell({{"method", "rk4"}, {"unfolds", 2}}));
  CHECK_NOTHROW(cell({{"method", "kvaerno3"}, {"rtol", 1e-4}, {"atol", 1e-6}}));
  // the normalised solver holds the keys its method reads, defaults filled in
  json normal;
  make_cell({{"type", "mmrnn"}, {"solver", {{"method", "dopri5"}}}}, 2, gen, DType::f32, "model", &normal);
  CHECK(normal.at("solver") == json{{"method", "dopri5"}, {"rtol", 1e-3}, {"atol", 1e-4}, {"gradient", "discrete"}});
  make_cell({{"type", "mmrnn"}}, 2, gen, DType::f32, "model", &normal);
  CHECK(normal.at("solver") == json{{"method", "euler"}, {"unfolds", 4}, {"gradient", "discrete"}});
  CHECK(normal.at("forget_bias") == 1.0);
}

TEST_CASE("registry: a run's recorded config builds with the keys refused since, each said in a warning (runs trained before load)") {
  Generator gen(1);
  const json ncp = {{"type", "ltc_biophysical"}, {"wiring", "ncp"}, {"hidden", 100}};
  const json rk4_rtol = {{"type", "ode_rnn"}, {"hidden", 3}, {"solver", {{"method", "rk4"}, {"rtol", 1e-6}}}};
  CHECK_THROWS(make_cell(ncp, 2, gen, DType::f32));
  CHECK_THROWS(make_cell(rk4_rtol, 2, gen, DType::f32));
  {
    const RecordedSpecScope recorded;
    json normal;
    CHECK(make_cell(ncp, 2, gen, DType::f32, "model", &normal)->state_size() == 16);
    CHECK(normal.at("hidden") == 16);
    CHECK_NOTHROW(make_cell(rk4_rtol, 2, gen, DType::f32, "model", &normal));
    CHECK(normal.at("solver") == json{{"method", "rk4"}, {"unfolds", 1}, {"gradient", "discrete"}});
    REQUIRE(recorded.warnings().size() == 2);
    CHECK(recorded.warnings()[0].starts_with("model.hidden: 100 is not the NCP's size"));
    CHECK(recorded.warnings()[1].find("(ignored: the run's recorded config)") != std::string::npos);
    const RecordedSpecScope off(false);  // an inner scope that is off: refused again
    CHECK_THROWS(make_cell(ncp, 2, gen, DType::f32));
  }
  CHECK_THROWS(make_cell(ncp, 2, gen, DType::f32));  // the scope ended
}

TEST_CASE("registry: every ODE method and gradient kind resolves by name; unknown ones fail listing them") {
  Generator gen(1);
  std::vector<std::string> methods;
  for (Method m : all_methods()) {
    methods.push_back(method_name(m));
    CAPTURE(methods.back());
    CHECK(make_cell({{"type", "ltc"}, {"hidden", 2}, {"solver", {{"method", methods.back()}}}}, 2, gen, DType::f32) != nullptr);
  }
  for (const std::string& kind : gradient_kind_names()) {
    CAPTURE(kind);
    CHECK(gradient_kind_name(parse_ode_spec({{"gradient", kind}}, OdeSpec{}, "solver").gradient) == kind);
    CHECK(gradient_kind_name(gradient_kind_from_name(kind)) == kind);
  }
  CHECK(error_of([] { method_from_name("rk45"); }) == "unknown ODE method 'rk45' (known: " + joined(methods) + ")");
  CHECK(error_of([] { gradient_kind_from_name("forward"); }) == "unknown gradient kind 'forward' (known: discrete, checkpointed, adjoint)");
  CHECK(error_of([] { parse_ode_spec({{"gradient", "forward"}}, OdeSpec{}, "solver"); }) ==
        "solver.gradient: expected one of discrete, checkpointed, adjoint, got \"forward\"");
}

TEST_CASE("registry: ltc_fused refuses the checkpointed and adjoint gradients, naming the key, in configs and options") {
  // they were accepted and silently ignored (the fused unfolds are always differentiated as they
  // run), while OdeSpec::str() said "ltc_fused x6 adjoint" (bug hunt)
  Generator gen(1);
  for (const std::string type : {"ltc", "ltc_biophysical"})
    for (const std::string kind : {"checkpointed", "adjoint"}) {
      CAPTURE(type);
      CAPTURE(kind);
      const json spec = {{"type", type}, {"hidden", 2}, {"solver", {{"method", "ltc_fused"}, {"gradient", kind}}}};
      CHECK(error_of([&] { make_cell(spec, 2, gen, DType::f64); }) ==
            "model.solver.gradient: gradient '" + kind + "' does not apply to ltc_fused: a fixed-step fused solver is "
            "differentiated through its unfolds (the discrete gradient, exact and the cheapest); use gradient 'discrete', "
            "or method rk4 or dopri5 for the " + kind + " gradient");
      // the other methods take every gradient kind
      CHECK(make_cell({{"type", type}, {"hidden", 2}, {"solver", {{"method", "rk4"}, {"gradient", kind}}}}, 2, gen, DType::f64) != nullptr);
    }
  LTCOptions o;
  o.ode.gradient = GradientKind::adjoint;
  CHECK(error_of([&] { (void)LTCCell(2, 3, gen, o); }).find("ltc: LTCOptions::ode.gradient: gradient 'adjoint' does not apply to ltc_fused") == 0);
  CHECK(error_of([&] { (void)BiophysicalLTCCell(fully_connected(2, 3, 3, 1), gen, o); }).find("LTCOptions::ode.gradient") != std::string::npos);
}

TEST_CASE("registry: model_types() lists every family make_model builds, the cells first; an unknown type lists them all") {
  std::vector<std::string> names;
  for (const ModelType& t : model_types()) names.push_back(t.name);
  std::vector<std::string> expected;
  for (const auto& [type, summary] : cell_types()) expected.push_back(type);
  for (const char* family : {"cnf", "latent_ode", "ode_classifier"}) expected.push_back(family);
  CHECK(names == expected);
  // whatever the data: an unknown name was taken for a sequence model ("expects sequences ... got
  // vectors") or listed only the cells; a non-string one escaped as a JSON library exception
  Generator gen(1);
  const data::Dataset vectors = data::load_dataset(json{{"dataset", "toy"}, {"name", "moons"}, {"train", 20}, {"val", 10}, {"test", 10}}, 1, "data");
  const data::Dataset sequences = data::load_dataset(json{{"dataset", "xor"}, {"train", 20}, {"test", 10}}, 1, "data");
  for (const data::Dataset* d : {&vectors, &sequences}) {
    for (const json& type : {json("cfn"), json("ode_clasifier"), json(5), json(nullptr), json(true), json::array({"gru"})}) {
      CAPTURE(type.dump());
      CHECK(error_of([&] { make_model(json{{"type", type}}, *d, gen, DType::f32, "model"); }) ==
            "model.type: expected one of " + joined(names) + ", got " + type.dump());
    }
    CHECK(error_of([&] { make_model(json{{"hidden", 3}}, *d, gen, DType::f32, "model"); }) == "model: missing key 'type' (one of " + joined(names) + ")");
  }
  CHECK(make_model(json{{"type", "cnf"}, {"hidden", {4}}}, vectors, gen, DType::f32, "model") != nullptr);
  CHECK(make_model(json{{"type", "gru"}, {"hidden", 3}}, sequences, gen, DType::f32, "model") != nullptr);
}
