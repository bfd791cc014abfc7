// The "latent_ode" model type from a config object (latent_ode.hpp): every key checked, named in errors.
#include "tide/core/named.hpp"
#include "tide/data/config_object.hpp"
#include "tide/models/latent_ode.hpp"
#include "tide/models/registry.hpp"
#include "spec_reader.hpp"
#include <nlohmann/json.hpp>

namespace tide::models {

namespace {

constexpr Named<LatentTask> kTasks[] = {{"interpolation", LatentTask::interpolation},
                                       {"extrapolation", LatentTask::extrapolation},
                                       {"classification", LatentTask::classification}};
constexpr Named<LatentEncoder> kEncoders[] = {{"ode_rnn", LatentEncoder::ode_rnn}, {"rnn", LatentEncoder::rnn}};
constexpr Named<LatentLikelihood> kLikelihoods[] = {{"mean", LatentLikelihood::mean}, {"sum", LatentLikelihood::sum}};
constexpr Named<LatentEncoderTime> kEncoderTimes[] = {{"since_previous", LatentEncoderTime::since_previous},
                                                       {"to_next", LatentEncoderTime::to_next}};
constexpr Named<LatentGenerative> kGenerative[] = {{"ode", LatentGenerative::ode}, {"rnn", LatentGenerative::rnn}};
constexpr Named<LatentGrid> kGrids[] = {{"per_sample", LatentGrid::per_sample}, {"union", LatentGrid::union_of_times}};

// Keys that only another task, encoder or generative model reads: refused when given, rather than
// ignored.
void refuse_unread_keys(const detail::SpecReader& k, const nlohmann::json& spec, const LatentOdeOptions& o) {
  if (o.task != LatentTask::extrapolation && spec.contains("extrapolate_fraction"))
    fail("{}: only task 'extrapolation' encodes the first part of each sequence; task '{}' encodes all of it",
         k.path("extrapolate_fraction"), latent_task_names()[static_cast<std::size_t>(o.task)]);
  for (const char* key : {"ce_weight", "classifier_hidden"})
    if (o.task != LatentTask::classification && spec.contains(key))
      fail("{}: only task 'classification' has a classifier; this task is '{}'", k.path(key),
           latent_task_names()[static_cast<std::size_t>(o.task)]);
  // Keys that only the ODE parts read: refused when the chosen encoder or generative model is an RNN.
  if (o.encoder == LatentEncoder::ode_rnn && spec.contains("encoder_time"))
    fail("{}: only the RNN encoder takes the time as an input; the ODE-RNN's state follows its ODE over it",
         k.path("encoder_time"));
  for (const char* key : {"encoder_solver", "encoder_hidden"})
    if (o.encoder == LatentEncoder::rnn && spec.contains(key))
      fail("{}: only the ODE-RNN encoder has an ODE between observations; \"encoder\": \"rnn\" steps a GRU over the "
           "elapsed times", k.path(key));
  for (const char* key : {"solver", "grid", "dynamics_hidden", "steer_eps"})
    if (o.generative_model == LatentGenerative::rnn && spec.contains(key))
      fail("{}: only the generative ODE (\"generative\": \"ode\") reads it; \"generative\": \"rnn\" (the RNN-VAE "
           "baseline) has no ODE", k.path(key));
}

// What the variant does not read (refused above when given) is not recorded: the spec builds the
// model again.
void leave_out_unread_keys(detail::SpecReader& k, const LatentOdeOptions& o) {
  if (o.task != LatentTask::extrapolation) k.forget("extrapolate_fraction");
  if (o.task != LatentTask::classification) k.forget("ce_weight"), k.forget("classifier_hidden");
  if (o.encoder == LatentEncoder::rnn) k.forget("encoder_hidden");
  if (o.encoder == LatentEncoder::ode_rnn) k.forget("encoder_time");
  if (o.generative_model == LatentGenerative::rnn) k.forget("grid"), k.forget("dynamics_hidden"), k.forget("steer_eps");
}

}  // namespace

std::vector<std::string> latent_task_names() { return names_of(kTasks); }
std::vector<std::string> latent_encoder_names() { return names_of(kEncoders); }

std::shared_ptr<LatentOdeModel> make_latent_ode(const nlohmann::json& spec, std::int64_t variables, std::int64_t classes,
                                                Generator& gen, DType dtype, const std::string& where) {
  detail::SpecReader k(spec, where);
  k.string("type", "latent_ode", {"latent_ode"});
  LatentOdeOptions o;
  o.variables = variables;
  o.classes = classes;
  o.dtype = dtype;
  o.latent = k.integer("latent", o.latent, 1, 1 << 16);
  o.encoder_state = k.integer("encoder_state", o.encoder_state, 1, 1 << 16);
  o.dynamics_hidden = k.integers("dynamics_hidden", o.dynamics_hidden, 1, 1 << 16);
  o.encoder_hidden = k.integers("encoder_hidden", o.encoder_hidden, 1, 1 << 16);
  o.gru_units = k.integer("gru_units", o.gru_units, 1, 1 << 16);
  o.encoder = k.choice("encoder", "ode_rnn", kEncoders);
  o.encoder_time = k.choice("encoder_time", "since_previous", kEncoderTimes);
  o.generative_model = k.choice("generative", "ode", kGenerative);
  // (the ODE parts' solvers are recorded only for the parts that are ODEs; the keys of the others are refused below)
  nlohmann::json normal;
  if (o.generative_model == LatentGenerative::ode) {
    o.generative = parse_ode_spec(k.object("solver"), o.generative, k.path("solver"), &normal);
    k.set("solver", normal);
  }
  if (o.encoder == LatentEncoder::ode_rnn) {
    o.recognition = parse_ode_spec(k.object("encoder_solver"), o.recognition, k.path("encoder_solver"), &normal);
    k.set("encoder_solver", normal);
  }
  for (const auto* spec_ode : {&o.generative, &o.recognition})
    if (spec_ode->method == Method::ltc_fused) fail("{}: ltc_fused solves only the LTC cells", where);
  o.grid = k.choice("grid", "per_sample", kGrids);
  o.obs_std = k.number("obs_std", o.obs_std, 1e-9, 1e9);
  o.likelihood = k.choice("likelihood", "mean", kLikelihoods);
  o.kl = k.choice("kl", "sum", kLikelihoods);
  o.samples = static_cast<int>(k.integer("samples", o.samples, 1, 1000));
  o.eval_samples = static_cast<int>(k.integer("eval_samples", o.eval_samples, 1, 1000));
  o.task = k.choice("task", "interpolation", kTasks);
  o.held_out = k.number("held_out", o.held_out, 0.0, 0.99);
  o.extrapolate_fraction = k.number("extrapolate_fraction", o.extrapolate_fraction, 0.01, 0.99);
  o.ce_weight = k.number("ce_weight", o.ce_weight, 0.0, 1e9);
  o.classifier_hidden = k.integers("classifier_hidden", o.classifier_hidden, 1, 1 << 16);
  {
    detail::SpecReader ak(k.object("kl_annealing"), k.path("kl_annealing"));
    o.kl_wait = ak.number("wait", o.kl_wait, 0.0, 1e9);
    o.kl_rate = ak.number("rate", o.kl_rate, 0.0, 1.0);
    if (o.kl_rate >= 1)
      fail("{}: must be < 1 (the KL weight is 1 - rate^(epochs past wait), 0 for ever at rate 1)", ak.path("rate"));
    ak.finish("kl_annealing (wait, rate)");
    k.set("kl_annealing", ak.normal());
  }
  o.steer_eps = k.number("steer_eps", o.steer_eps, 1e-12, 1e6);
  if (o.task == LatentTask::extrapolation && o.held_out > 0)
    fail("{}: held_out hides steps from the encoder for interpolation and classification; extrapolation already encodes "
         "only the first part (extrapolate_fraction)", k.path("held_out"));
  refuse_unread_keys(k, spec, o);
  if (o.task == LatentTask::classification && classes != 2)
    fail("{}: task 'classification' predicts a binary label per sequence (PhysioNet's mortality); the data have {} classes",
         k.path("task"), classes);
  k.finish("model type 'latent_ode'");
  leave_out_unread_keys(k, o);
  auto model = std::make_shared<LatentOdeModel>(o, gen);
  model->set_spec(k.normal());
  return model;
}

}  // namespace tide::models
