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
    CHECK(make_cell({{"type", "ltc_biophysical"}, {"hidden", 4}, {"wiring", wiring}}, 2, gen, DType::f32) != nullptr);
  }
  CHECK(error_of([&] { make_cell({{"type", "ltc_biophysical"}, {"wiring", "dense"}}, 2, gen, DType::f32); }) ==
        "model.wiring: expected one of full, random, ncp, got \"dense\"");
}

TEST_CASE("registry: NCP sizes that do not fit together fail naming the model object (found by fuzz/config.cpp)") {
  Generator gen(1);
  CHECK(error_of([&] { make_cell({{"type", "ltc_biophysical"}, {"wiring", "ncp"}, {"command", 1}, {"inter_fanout", 2}, {"motor_fanin", 1}},
                                 2, gen, DType::f32, "c.json.model"); }) ==
        "c.json.model: ncp wiring: sensory_fanout 4 must be <= inter 8, inter_fanout 2 and motor_fanin 1 <= command 1");
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
