// LTC: the biophysical form mapped onto the paper's form, theorems 1 and 2 as properties under
// inputs of growing magnitude, the fused solver's first-order convergence to the ODE's solution,
// and the wirings' structure.
#include "model_test_util.hpp"

using namespace tide;
using namespace tide::models;

namespace {

const double inv_softplus_one = std::log(std::expm1(1.0));

std::vector<double> states_after(const Cell& cell, const Tensor& inputs, const Tensor& dts, Tensor state) {
  NoGrad ng;
  for (std::int64_t t = 0; t < inputs.size(1); ++t)
    state = cell.step(Var(inputs.select(1, t).contiguous()), Var(state), Var(dts.slice(1, t, t + 1).contiguous())).value();
  return state.to_vector();
}

}  // namespace

TEST_CASE("ltc: the biophysical form with E_ji = A_i, vleak = 0, cm = 1, gleak = 1/tau is the paper's form") {
  const std::int64_t I = 2, N = 4, B = 3, T = 5;
  for (Method method : {Method::ltc_fused, Method::dopri5}) {
    CAPTURE(method_name(method));
    LTCOptions options;
    options.dtype = DType::f64;
    options.ode = OdeSpec{method, 6, 1e-10, 1e-12};
    Generator gen(31);
    BiophysicalLTCCell bio(fully_connected(I, N, N, 7), gen, options);
    auto& p = bio.params();
    // The paper's f, written independently of the cell: sum over presynaptic neurons and inputs
    // of w sigmoid(sigma (x_j - mu)), from the biophysical cell's synapse parameters.
    auto f = [&](const Var& x, const Var& input) {
      const std::vector<double> w = softplus(p.w.value()).to_vector(), s = p.sigma.value().to_vector(),
                                m = p.mu.value().to_vector(), sw = softplus(p.sensory_w.value()).to_vector(),
                                ss = p.sensory_sigma.value().to_vector(), sm = p.sensory_mu.value().to_vector();
      std::vector<Var> columns;
      for (std::int64_t i = 0; i < N; ++i) {
        Var acc(Tensor::zeros(Shape{x.size(0), 1}, DType::f64));
        for (std::int64_t j = 0; j < N; ++j)
          acc = acc + w[j * N + i] * sigmoid((slice(x, 1, j, j + 1) - m[j * N + i]) * s[j * N + i]);
        for (std::int64_t j = 0; j < I; ++j)
          acc = acc + sw[j * N + i] * sigmoid((slice(input, 1, j, j + 1) - sm[j * N + i]) * ss[j * N + i]);
        columns.push_back(acc);
      }
      return concat(columns, 1);
    };
    Generator gen2(32);
    LTCCell paper(I, N, gen2, options, f);
    const std::vector<double> A = paper.A().value().to_vector(), tau = paper.tau().value().to_vector();
    std::vector<double> erev(N * N), serev(I * N), gleak(N);
    for (std::int64_t i = 0; i < N; ++i) {
      for (std::int64_t j = 0; j < N; ++j) erev[j * N + i] = A[i];
      for (std::int64_t j = 0; j < I; ++j) serev[j * N + i] = A[i];
      gleak[i] = std::log(std::expm1(1.0 / tau[i]));
    }
    Tensor(p.erev.value()).copy_(Tensor::from_vector(erev, Shape{N, N}, DType::f64));
    Tensor(p.sensory_erev.value()).copy_(Tensor::from_vector(serev, Shape{I, N}, DType::f64));
    Tensor(p.gleak.value()).copy_(Tensor::from_vector(gleak, Shape{N}, DType::f64));
    Tensor(p.vleak.value()).zero_();
    Tensor(p.cm.value()).fill_(inv_softplus_one);
    Generator data(33);
    const Tensor inputs = data.normal(Shape{B, T, I}, 0, 1, DType::f64), dts = data.uniform(Shape{B, T}, 0.2, 1.5, DType::f64);
    const Tensor x0 = data.uniform(Shape{B, N}, -0.5, 0.5, DType::f64);
    const std::vector<double> a = states_after(bio, inputs, dts, x0), b = states_after(paper, inputs, dts, x0);
    for (std::size_t k = 0; k < a.size(); ++k) CHECK(a[k] == doctest::Approx(b[k]).epsilon(1e-12));
    // Not a trivial agreement: an unrelated reversal potential breaks it.
    Tensor(p.erev.value()).data<double>()[1] += 0.5;
    CHECK(std::abs(states_after(bio, inputs, dts, x0)[1] - b[1]) > 1e-6);
  }
}

TEST_CASE("ltc theorems 1 and 2: time constant and state stay in the proven ranges as inputs grow") {
  const std::int64_t I = 3, N = 8, B = 4, T = 12;
  for (Method method : {Method::ltc_fused, Method::dopri5}) {
    CAPTURE(method_name(method));
    LTCOptions options;
    options.dtype = DType::f64;
    options.ode = OdeSpec{method, 6, 1e-8, 1e-10};
    Generator gen(41);
    LTCCell cell(I, N, gen, options);
    const std::vector<double> A = cell.A().value().to_vector(), tau = cell.tau().value().to_vector();
    const double lo = std::min(0.0, *std::min_element(A.begin(), A.end()));
    const double hi = std::max(0.0, *std::max_element(A.begin(), A.end()));
    for (double scale : {1.0, 10.0, 100.0, 1e3, 1e4}) {
      CAPTURE(scale);
      Generator data(42);
      const Tensor inputs = tide::mul(data.normal(Shape{B, T, I}, 0, 1, DType::f64), Tensor::scalar(scale, DType::f64));
      NoGrad ng;
      Tensor x = Tensor::zeros(Shape{B, N}, DType::f64);
      double worst_tau = 0, worst_state = 0;
      for (std::int64_t t = 0; t < T; ++t) {
        const Tensor in = inputs.select(1, t).contiguous();
        x = cell.step(Var(in), Var(x), Var(Tensor::ones(Shape{B, 1}, DType::f64))).value();
        const std::vector<double> f = cell.f(Var(x), Var(in)).value().to_vector(), xs = x.to_vector();
        for (std::int64_t k = 0; k < B * N; ++k) {
          const double t_i = tau[k % N], tau_sys = 1.0 / (1.0 / t_i + f[k]);
          // theorem 1 with f in [0, W], W = 1 (sigmoid): tau / (1 + tau W) <= tau_sys <= tau
          worst_tau = std::max({worst_tau, t_i / (1 + t_i) - tau_sys, tau_sys - t_i});
          worst_state = std::max({worst_state, lo - xs[k], xs[k] - hi});  // theorem 2
          CHECK(std::isfinite(xs[k]));
        }
      }
      CHECK(worst_tau <= 1e-12);
      CHECK(worst_state <= (method == Method::ltc_fused ? 1e-12 : 1e-6));
    }
  }
}

TEST_CASE("ltc biophysical: the state stays within the hull of 0, vleak and the reversal potentials") {
  LTCOptions options;
  options.dtype = DType::f64;
  Generator gen(43);
  BiophysicalLTCCell cell(ncp(3, NcpSizes{}, 5), gen, options);
  for (double scale : {1.0, 1e2, 1e4}) {
    Generator data(44);
    Tensor x = Tensor::zeros(Shape{4, cell.state_size()}, DType::f64);
    NoGrad ng;
    for (int t = 0; t < 10; ++t) {
      const Tensor in = tide::mul(data.normal(Shape{4, 3}, 0, 1, DType::f64), Tensor::scalar(scale, DType::f64));
      x = cell.step(Var(in), Var(x), Var(Tensor::full(Shape{4, 1}, 0.7, DType::f64))).value();
      for (double v : x.to_vector()) CHECK((v >= -1.0 - 1e-12 && v <= 1.0 + 1e-12));
    }
  }
}

TEST_CASE("ltc biophysical: the unrecorded fused-kernel path equals the recorded composite one") {
  // Without a tape the synapse sums run as core's fused kernel; with one, as primitive ops.
  for (DType dtype : {DType::f64, DType::f32}) {
    for (Method method : {Method::ltc_fused, Method::dopri5, Method::rk4}) {
      CAPTURE(dtype_name(dtype));
      CAPTURE(method_name(method));
      LTCOptions options;
      options.dtype = dtype;
      options.ode = OdeSpec{method, 6, 1e-6, 1e-8};
      Generator gen(61);
      BiophysicalLTCCell cell(ncp(4, NcpSizes{}, 3), gen, options);
      Generator data(62);
      const Var x(data.normal(Shape{5, 4}, 0, 2, dtype)), v(data.uniform(Shape{5, cell.state_size()}, -1, 1, dtype));
      const Var dt(data.uniform(Shape{5, 1}, 0.1, 2.0, dtype));
      const Tensor recorded = cell.step(x, v, dt).value();  // parameters require grad: composite
      Tensor fused;
      {
        NoGrad ng;
        fused = cell.step(x, v, dt).value();
      }
      const double diff = max(abs(tide::sub(recorded, fused))).item();
      CHECK(diff <= (dtype == DType::f64 ? 1e-12 : 2e-5));
      CHECK(diff < max(abs(tide::sub(recorded, v.value()))).item() * 1e-3);  // the step moved the state
      // Frozen parameters with a state or dt that needs a gradient: the observation is prepared
      // unrecorded, the unfolds recorded (the leak was counted twice there: bug hunt).
      auto& p = cell.params();
      for (Var* q : {&p.gleak, &p.vleak, &p.cm, &p.w, &p.mu, &p.sigma, &p.erev, &p.sensory_w, &p.sensory_mu,
                     &p.sensory_sigma, &p.sensory_erev, &p.input_w, &p.input_b, &p.output_w, &p.output_b})
        *q = q->detach();
      const double tol = dtype == DType::f64 ? 1e-12 : 2e-5;
      CHECK(max(abs(tide::sub(cell.step(x, Var::parameter(v.value().clone()), dt).value(), fused))).item() <= tol);
      CHECK(max(abs(tide::sub(cell.step(x, v, Var::parameter(dt.value().clone())).value(), fused))).item() <= tol);
    }
  }
}

TEST_CASE("ltc: the fused step converges to the ODE's solution at first order in the unfolds") {
  auto run = [](Method method, int unfolds) {
    LTCOptions options;
    options.dtype = DType::f64;
    options.ode = OdeSpec{method, unfolds, 1e-12, 1e-14};
    Generator gen(51);
    LTCCell cell(2, 5, gen, options);
    Generator data(52);
    return states_after(cell, data.normal(Shape{3, 2, 2}, 0, 1, DType::f64), data.uniform(Shape{3, 2}, 0.5, 2.0, DType::f64),
                        data.uniform(Shape{3, 5}, -0.5, 0.5, DType::f64));
  };
  const std::vector<double> exact = run(Method::dopri5, 1);
  auto error = [&](int unfolds) {
    const std::vector<double> v = run(Method::ltc_fused, unfolds);
    double e = 0;
    for (std::size_t i = 0; i < v.size(); ++i) e = std::max(e, std::abs(v[i] - exact[i]));
    return e;
  };
  double previous = error(16);
  for (int unfolds : {32, 64, 128}) {
    const double e = error(unfolds);
    CAPTURE(unfolds);
    CHECK(previous / e == doctest::Approx(2.0).epsilon(0.15));
    previous = e;
  }
  CHECK(previous < 1e-3);
}

TEST_CASE("wirings: the neural circuit policy's four layers, and the fully connected and random ones") {
  const NcpSizes s{.inter = 6, .command = 4, .motor = 2, .sensory_fanout = 3, .inter_fanout = 2, .recurrent_command = 3, .motor_fanin = 3};
  const Wiring w = ncp(5, s, 9);
  CHECK(w.units == 12);
  CHECK(w.motor == 2);
  const std::vector<double> adj = w.adjacency.to_vector(), sens = w.sensory_adjacency.to_vector();
  auto layer = [&](std::int64_t n) { return n < 2 ? 0 : n < 6 ? 1 : 2; };  // motor, command, inter
  std::int64_t sensory_count = 0;
  for (std::int64_t i = 0; i < 5; ++i)
    for (std::int64_t n = 0; n < 12; ++n)
      if (sens[i * 12 + n] != 0) {
        ++sensory_count;
        CHECK(layer(n) == 2);  // inputs reach inter neurons only
      }
  CHECK(sensory_count == 5 * 3);
  for (std::int64_t pre = 0; pre < 12; ++pre)
    for (std::int64_t post = 0; post < 12; ++post) {
      if (adj[pre * 12 + post] == 0) continue;
      const int a = layer(pre), b = layer(post);
      CHECK(((a == 2 && b == 1) || (a == 1 && b == 1) || (a == 1 && b == 0)));  // inter->command, command->command, command->motor
    }
  for (std::int64_t post = 0; post < 12; ++post) {
    bool has = false;
    for (std::int64_t pre = 0; pre < 12; ++pre) has |= adj[pre * 12 + post] != 0;
    for (std::int64_t i = 0; i < 5; ++i) has |= sens[i * 12 + post] != 0;
    CHECK(has);
  }
  CHECK(w.summary() == fmt::format("ncp: 5 inputs, 12 units (6 inter, 4 command, 2 motor), 2 motor, {} synapses", w.synapses()));
  // Every command neuron reaches a motor neuron, whatever the seed (59 of 100 default wirings of 4
  // inputs left one that could never reach the outputs; the reference library never does: bug hunt).
  for (std::uint64_t seed = 0; seed < 100; ++seed) {
    const Wiring d = ncp(4, NcpSizes{}, seed);
    const std::vector<double> a = d.adjacency.to_vector();
    const std::int64_t U = d.units, M = d.motor;
    for (std::int64_t pre = M; pre < M + NcpSizes{}.command; ++pre) {
      bool reaches = false;
      for (std::int64_t post = 0; post < M; ++post) reaches |= a[pre * U + post] != 0;
      CAPTURE(seed);
      CAPTURE(pre);
      CHECK(reaches);
    }
  }
  const Wiring full = fully_connected(3, 10, 4, 1);
  CHECK(full.synapses() == 130);
  double excitatory = 0;
  for (double v : full.adjacency.to_vector()) excitatory += v > 0;
  CHECK(excitatory / 100 == doctest::Approx(2.0 / 3).epsilon(0.25));
  const Wiring sparse = random_sparse(3, 40, 4, 0.75, 2);
  CHECK(sparse.synapses() == doctest::Approx(0.25 * 1720).epsilon(0.2));
  CHECK_THROWS_WITH_AS(ncp(3, NcpSizes{.inter = 2, .sensory_fanout = 4}, 1), doctest::Contains("sensory_fanout 4 must be <= inter 2"), Error);
  CHECK_THROWS_WITH_AS(fully_connected(3, 4, 5, 1), doctest::Contains("1 <= motor <= units"), Error);
}

namespace {

// A wiring as one string: its adjacency, then its sensory adjacency, entry by entry (+, -, .).
std::string wiring_digest(const Wiring& w) {
  std::string s;
  for (double v : w.adjacency.to_vector()) s += v > 0 ? '+' : v < 0 ? '-' : '.';
  s += '|';
  for (double v : w.sensory_adjacency.to_vector()) s += v > 0 ? '+' : v < 0 ? '-' : '.';
  return s;
}

}  // namespace

TEST_CASE("wirings: a seed gives the same wiring with any compiler, the one GCC builds gave so far") {
  // Two draws inside one call's arguments were taken in the compiler's order (Clang built other
  // NCP and random wirings from the same seed: bug hunt). These are GCC's, from before the fix.
  CHECK(wiring_digest(ncp(4, NcpSizes{}, 1)) ==
        ".................................+..............-+..............+++.............-+..+..+.........+-.............+......"
        "...........+.+++...........-.-.++...........+.+++..........++.+.+............+-++...........+++-...........+.+-.+....."
        ".......--+-........|...........+.-+-........+.++..+..........+.++-..........-++-....");
  CHECK(wiring_digest(random_sparse(2, 6, 6, 0.9, 1)) == "........................+-...+......|..+++-......");
  CHECK(wiring_digest(fully_connected(2, 4, 4, 1)) == "++-+--+++--+++++|+-+-++-+");
}

TEST_CASE("wirings: sparse NCPs keep the fill-in rule runs were trained with (a command neuron fed only by recurrence)") {
  // At these sizes every seed has a command neuron the inter layer missed; ncps would give it an
  // inter synapse, tide keeps the rule its runs' recorded seeds were wired by (wiring.cpp). GCC's
  // wirings from before today's changes, seeds 0 and 1.
  const NcpSizes s{.inter = 3, .command = 8, .motor = 2, .sensory_fanout = 2, .inter_fanout = 1, .recurrent_command = 8, .motor_fanin = 2};
  CHECK(wiring_digest(ncp(3, s, 0)) ==
        "...........................+.....+.....-............-......-.....+....+........-...........+......+.....+.++........."
        "-.-..+...........+..+++.....+................+......|...........-+...........++..........+.+");
  CHECK(wiring_digest(ncp(3, s, 1)) ==
        "..........................+.............+....-..+...+..-..........+.+....+.....+...........++-+.........+......-....."
        "-.................+...........+...+..........-......|..........+.-..........++............+-");
}

TEST_CASE("wirings: an NCP fan-out error names the fan-out that fails, not every relation") {
  CHECK_THROWS_WITH_AS(ncp(3, NcpSizes{.command = 3, .inter_fanout = 4, .motor_fanin = 3}, 1),
                       "ncp wiring: inter_fanout 4 must be <= command 3 (the neurons it reaches)", Error);
  CHECK_THROWS_WITH_AS(ncp(3, NcpSizes{.command = 5, .motor_fanin = 6}, 1), "ncp wiring: motor_fanin 6 must be <= command 5 (the neurons it reaches)",
                       Error);
}
