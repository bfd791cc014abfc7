// `tide bench taylor --peers`: d^K z/dt^K of the Taylor MLP (taylor_mlp.hpp) on tide and on JAX
// (bench/peers/taylor_peers.py: TayNODE's jet re-run and K-1 nested jax.jvp, both jit), and one
// gradient of the R_K-style penalty mean((d^K z/dt^K)^2) by the weights; same weights and inputs
// (a safetensors file), samples interleaved, f64 on both sides.
#include "bench_taylor.hpp"
#include "peer_table.hpp"
#include "taylor_mlp.hpp"
#include "tide/tide.hpp"
#include <fmt/format.h>
#include <memory>

namespace tide::cli {
namespace {

double total(const Var& v) { return sum(v).value().item(); }

std::string write_file(const PeerFiles& files, const MlpDynamics& f, const Var& z, const Var& t) {
  Archive a;
  for (const auto& [name, v] : f.named()) a.add(name, v.value());
  a.add("z", z.value());
  a.add("t", t.value());
  return files.write("taylor", a);
}

void add_peer(ComparisonRun& run, Peer& jax, const std::string& case_name, const std::string& file, int K) {
  for (const auto& [variant, label] : {std::pair{"jet_rerun", "jax jet re-run"}, std::pair{"nested_jvp", "jax nested jvp"}})
    run.add(jax, label, {{"case", case_name}, {"variant", variant}, {"file", file}, {"K", K}});
}

std::vector<PeerTarget> forward_targets(int K) {
  if (K == 5) return {{"jax jet", 3.0}, {"jax nested", 1.5}};
  if (K == 3) return {{"jax nested", 1.0}};
  return {};
}

Comparison forward(Peer& jax, const TaylorSize& s, const std::string& file, int K, const TimingPlan& plan) {
  auto f = std::make_shared<MlpDynamics>(s, 7);
  Generator g(8);
  const Var z(g.uniform(Shape{s.batch, s.d}, -1.0, 1.0, DType::f64));
  const Var t(Tensor::scalar(0.5, DType::f64));
  const JetDynamics jf = [f](const Jet& y, const Jet& tt) { return (*f)(y, tt); };
  ComparisonRun run(fmt::format("taylor_forward K={} (d^K z/dt^K, {} tanh layers, d={} h={} batch {}, f64)", K, s.layers, s.d, s.h, s.batch),
                    forward_targets(K));
  for (const auto& [form, label] : {std::pair{TaylorForm::incremental, "tide taylor"}, std::pair{TaylorForm::nested_jvp, "tide nested jvp"}})
    run.add(TideSide{label, [=] {
                       NoGrad no_grad;
                       return total(ode_derivative(jf, z, t, K, form));
                     }, {}});
  const CompiledFunction compiled = compile([=](const std::vector<Var>& in) { return ode_derivative(jf, in[0], t, K); });
  run.add(TideSide{"tide compiled", [=] {
                     NoGrad no_grad;
                     return total(compiled({z}));
                   }, {}});
  add_peer(run, jax, "taylor_forward", file, K);
  return run.run(plan);
}

Comparison rk_gradient(Peer& jax, const TaylorSize& s, const std::string& file, int K, const TimingPlan& plan) {
  auto f = std::make_shared<MlpDynamics>(s, 7, true);
  Generator g(8);
  const Var z(g.uniform(Shape{s.batch, s.d}, -1.0, 1.0, DType::f64));
  const Var t(Tensor::scalar(0.5, DType::f64));
  const JetDynamics jf = [f](const Jet& y, const Jet& tt) { return (*f)(y, tt); };
  ComparisonRun run(fmt::format("taylor_rk_grad K={} (gradient of mean((d^K z/dt^K)^2) by the weights, f64)", K),
                    K == 3 ? std::vector<PeerTarget>{{"jax jet", 3.0}} : std::vector<PeerTarget>{});
  const CompiledFunction compiled = compile([=](const std::vector<Var>& in) { return ode_derivative(jf, in[0], t, K); });
  const auto side = [=](const std::string& label, bool plans) {
    return TideSide{label, [=] {
                      for (auto& [name, w] : f->named()) w.zero_grad();
                      backward(mean(square(plans ? compiled({z}) : ode_derivative(jf, z, t, K))));
                      double total_gradient = 0;
                      for (const auto& [name, w] : f->named()) total_gradient += total(Var(w.grad()));
                      return total_gradient;
                    }, {}};
  };
  run.add(side("tide taylor", false));
  run.add(side("tide compiled", true));
  add_peer(run, jax, "taylor_rk_grad", file, K);
  return run.run(plan);
}

}  // namespace

int run_bench_taylor_peers(const BenchTaylorOptions& options) {
  TimingPlan plan;
  plan.repeats = options.repeats;
  plan.min_sample_seconds = 0.05;
  const TaylorSize s = options.sizes.empty() ? TaylorSize{"default", 64, 64, 2, 256} : options.sizes.front();
  PeerFiles files;
  Peer jax(options.peers, "taylor_peers.py", {});
  std::string file;
  {
    const MlpDynamics f(s, 7);
    Generator g(8);
    file = write_file(files, f, Var(g.uniform(Shape{s.batch, s.d}, -1.0, 1.0, DType::f64)), Var(Tensor::scalar(0.5, DType::f64)));
  }
  std::vector<Comparison> all;
  for (int K = 1; K <= std::min(options.kmax, 6); ++K) all.push_back(forward(jax, s, file, K, plan));
  for (int K : {2, 3}) all.push_back(rk_gradient(jax, s, file, K, plan));
  const std::vector<std::string> status = peer_status({&jax});
  print_peer_report("taylor", "f64", all, status, plan, options.json);
  return 0;
}

}  // namespace tide::cli
