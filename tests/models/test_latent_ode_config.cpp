// The latent ODE's config (models/latent_ode.hpp, make_latent_ode): keys checked and refused where
// the chosen task, encoder, generative model or solver does not read them, the defaults, and what
// a file recorded before a key implies.
#include "tide/models/latent_ode.hpp"
#include "tide/core/error.hpp"
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

using namespace tide;
using namespace tide::models;

TEST_CASE("latent ode: config keys are checked") {
  Generator gen(9);
  const nlohmann::json ok = {{"type", "latent_ode"}, {"latent", 4}, {"solver", {{"method", "rk4"}, {"unfolds", 2}}},
                             {"kl_annealing", {{"wait", 0}, {"rate", 0.9}}}, {"grid", "union"}};
  const auto model = make_latent_ode(ok, 3, 0, gen, DType::f64, "model");
  CHECK(model->options().generative.method == Method::rk4);
  CHECK(model->options().grid == LatentGrid::union_of_times);
  CHECK_THROWS_WITH(make_latent_ode({{"type", "latent_ode"}, {"task", "classification"}}, 3, 0, gen, DType::f64, "model"),
                    doctest::Contains("model.task: task 'classification' predicts a binary label"));
  CHECK_THROWS_WITH(make_latent_ode({{"type", "latent_ode"}, {"latnet", 3}}, 3, 0, gen, DType::f64, "model"),
                    doctest::Contains("latnet"));
  CHECK_THROWS_WITH(make_latent_ode({{"type", "latent_ode"}, {"grid", "shared"}}, 3, 0, gen, DType::f64, "model"),
                    doctest::Contains("model.grid: expected one of per_sample, union"));
  // keys that only another task reads, and an annealing that never starts, are refused
  CHECK_THROWS_WITH(make_latent_ode({{"type", "latent_ode"}, {"extrapolate_fraction", 0.3}}, 3, 0, gen, DType::f64, "model"),
                    doctest::Contains("model.extrapolate_fraction: only task 'extrapolation'"));
  CHECK_THROWS_WITH(make_latent_ode({{"type", "latent_ode"}, {"ce_weight", 10}}, 3, 0, gen, DType::f64, "model"),
                    doctest::Contains("model.ce_weight: only task 'classification' has a classifier"));
  CHECK_THROWS_WITH(make_latent_ode({{"type", "latent_ode"}, {"kl_annealing", {{"rate", 1.0}}}}, 3, 0, gen, DType::f64, "model"),
                    doctest::Contains("model.kl_annealing.rate: must be < 1"));
  CHECK_NOTHROW(make_latent_ode({{"type", "latent_ode"}, {"task", "extrapolation"}, {"extrapolate_fraction", 0.3}}, 3, 0, gen,
                                DType::f64, "model"));
}

TEST_CASE("latent ode config: solver keys the chosen method does not read are refused, naming the key and the method") {
  // unfolds with dopri5 and rtol with rk4 were accepted and ignored (bug hunt)
  Generator gen(9);
  CHECK_THROWS_WITH(make_latent_ode({{"type", "latent_ode"}, {"solver", {{"method", "dopri5"}, {"unfolds", 8}}}}, 3, 0, gen, DType::f64, "model"),
                    doctest::Contains("model.solver.unfolds: method 'dopri5' chooses its steps by its error estimate"));
  CHECK_THROWS_WITH(make_latent_ode({{"type", "latent_ode"}, {"encoder_solver", {{"rtol", 1e-6}}}}, 3, 0, gen, DType::f64, "model"),
                    doctest::Contains("model.encoder_solver.rtol: method 'rk4' takes fixed steps"));
  // the model records both solvers normalised
  const auto model = make_latent_ode({{"type", "latent_ode"}}, 3, 0, gen, DType::f64, "model");
  REQUIRE(model->spec() != nullptr);
  CHECK(model->spec()->at("solver") == nlohmann::json{{"method", "dopri5"}, {"rtol", 1e-3}, {"atol", 1e-4}, {"gradient", "discrete"}});
  CHECK(model->spec()->at("encoder_solver") == nlohmann::json{{"method", "rk4"}, {"unfolds", 1}, {"gradient", "discrete"}});
}

TEST_CASE("latent ode config: keys only an ODE encoder or generative model reads are refused with an RNN there") {
  // Found by a bug hunt: they were accepted and ignored.
  Generator gen(9);
  using nlohmann::json;
  const auto refused = [&](json spec, const std::string& key, const std::string& message) {
    CAPTURE(key);
    spec["type"] = "latent_ode";
    CHECK_THROWS_WITH(make_latent_ode(spec, 3, 0, gen, DType::f64, "model"), doctest::Contains(("model." + key + ": " + message).c_str()));
  };
  refused({{"encoder", "rnn"}, {"encoder_solver", {{"method", "dopri5"}}}}, "encoder_solver", "only the ODE-RNN encoder");
  refused({{"encoder", "rnn"}, {"encoder_hidden", {7}}}, "encoder_hidden", "only the ODE-RNN encoder");
  refused({{"generative", "rnn"}, {"solver", {{"method", "rk4"}, {"unfolds", 5}}}}, "solver", "only the generative ODE");
  refused({{"generative", "rnn"}, {"grid", "union"}}, "grid", "only the generative ODE");
  refused({{"generative", "rnn"}, {"dynamics_hidden", {3}}}, "dynamics_hidden", "only the generative ODE");
  refused({{"generative", "rnn"}, {"steer_eps", 0.1}}, "steer_eps", "only the generative ODE");
  // each with the variant that reads it
  CHECK_NOTHROW(make_latent_ode({{"type", "latent_ode"}, {"encoder", "rnn"}, {"generative", "ode"}, {"grid", "union"},
                                 {"dynamics_hidden", {3}}, {"solver", {{"method", "rk4"}}}}, 3, 0, gen, DType::f64, "model"));
  CHECK_NOTHROW(make_latent_ode({{"type", "latent_ode"}, {"generative", "rnn"}, {"encoder_hidden", {7}},
                                 {"encoder_solver", {{"method", "dopri5"}}}}, 3, 0, gen, DType::f64, "model"));
}

TEST_CASE("latent ode config: the KL summed unless \"kl\": \"mean\" (the reference code's); encoder_time only for the RNN encoder") {
  Generator gen(9);
  const auto options_of = [&](nlohmann::json spec) {
    spec["type"] = "latent_ode";
    return make_latent_ode(spec, 3, 0, gen, DType::f64, "model")->options();
  };
  CHECK(options_of(nlohmann::json::object()).kl == LatentLikelihood::sum);
  CHECK(options_of({{"kl", "mean"}}).kl == LatentLikelihood::mean);
  CHECK_THROWS_WITH(options_of({{"kl", "avg"}}), doctest::Contains("model.kl"));
  CHECK(options_of({{"encoder", "rnn"}}).encoder_time == LatentEncoderTime::since_previous);
  CHECK(options_of({{"encoder", "rnn"}, {"encoder_time", "to_next"}}).encoder_time == LatentEncoderTime::to_next);
  CHECK_THROWS_WITH(options_of({{"encoder_time", "to_next"}}), doctest::Contains("model.encoder_time: only the RNN encoder"));
}

TEST_CASE("latent ode: a file from before encoder_time or kl is refused by a model that does otherwise, naming the key") {
  // Files without the keys were written by models that fed the RNN encoder the time to the next
  // step and summed the KL: loading one into today's default RNN encoder would change its inputs.
  Generator gen(9);
  const auto build = [&](nlohmann::json spec) {
    spec["type"] = "latent_ode";
    spec["latent"] = 2, spec["encoder_state"] = 2, spec["gru_units"] = 2, spec["dynamics_hidden"] = {2};
    return make_latent_ode(spec, 1, 0, gen, DType::f64, "model");
  };
  const auto meta_without = [](const Model& m, const char* key) {
    nlohmann::json meta;
    record_model(meta, m);
    meta["model_spec"].erase(key);
    return meta.dump();
  };
  const auto rnn = build({{"encoder", "rnn"}}), old_rnn = build({{"encoder", "rnn"}, {"encoder_time", "to_next"}});
  CHECK_THROWS_WITH(check_model_meta(meta_without(*rnn, "encoder_time"), *rnn, "old.tide"),
                    doctest::Contains("model.encoder_time is absent in the file (written before the key: its model did \"to_next\"), \"since_previous\" in this model"));
  CHECK_NOTHROW(check_model_meta(meta_without(*old_rnn, "encoder_time"), *old_rnn, "old.tide"));
  const auto summed = build(nlohmann::json::object()), averaged = build({{"kl", "mean"}});
  CHECK_NOTHROW(check_model_meta(meta_without(*summed, "kl"), *summed, "old.tide"));
  CHECK_THROWS_WITH(check_model_meta(meta_without(*averaged, "kl"), *averaged, "old.tide"), doctest::Contains("kl is absent in the file"));
}
