#include "tide/models/wiring.hpp"
#include "tide/core/error.hpp"
#include <algorithm>
#include <numeric>
#include <vector>

namespace tide::models {
namespace {

// Uniform draws from one seeded Philox stream, handed out one at a time.
class Draws {
public:
  explicit Draws(std::uint64_t seed) : gen_(seed) {}
  double uniform() {
    if (at_ == buffer_.size()) {
      buffer_ = gen_.uniform(Shape{4096}, 0.0, 1.0, DType::f64, Device::cpu()).to_vector();
      at_ = 0;
    }
    return buffer_[at_++];
  }
  std::int64_t below(std::int64_t n) { return std::min<std::int64_t>(n - 1, static_cast<std::int64_t>(uniform() * n)); }
  double polarity() { return below(3) == 0 ? -1.0 : 1.0; }  // 2/3 excitatory
  // k distinct values of `pool`, in random order.
  std::vector<std::int64_t> choose(std::vector<std::int64_t> pool, std::int64_t k) {
    k = std::min<std::int64_t>(k, static_cast<std::int64_t>(pool.size()));
    for (std::int64_t i = 0; i < k; ++i) std::swap(pool[i], pool[i + below(static_cast<std::int64_t>(pool.size()) - i)]);
    pool.resize(k);
    return pool;
  }

private:
  Generator gen_;
  std::vector<double> buffer_;
  std::size_t at_ = 0;
};

struct Builder {
  std::int64_t inputs, units;
  std::vector<double> adj, sensory;
  Builder(std::int64_t i, std::int64_t n) : inputs(i), units(n), adj(n * n, 0.0), sensory(i * n, 0.0) {}
  void synapse(std::int64_t pre, std::int64_t post, double polarity) { adj[pre * units + post] = polarity; }
  void sensory_synapse(std::int64_t in, std::int64_t post, double polarity) { sensory[in * units + post] = polarity; }
  bool has_input(std::int64_t post) const {
    for (std::int64_t j = 0; j < units; ++j) if (adj[j * units + post] != 0) return true;
    for (std::int64_t j = 0; j < inputs; ++j) if (sensory[j * units + post] != 0) return true;
    return false;
  }
  Wiring finish(std::string kind, std::int64_t motor) {
    Wiring w;
    w.kind = std::move(kind);
    w.inputs = inputs, w.units = units, w.motor = motor;
    w.adjacency = Tensor::from_vector(adj, Shape{units, units}, DType::f64, Device::cpu());
    w.sensory_adjacency = Tensor::from_vector(sensory, Shape{inputs, units}, DType::f64, Device::cpu());
    w.validate();
    return w;
  }
};

// An NCP fan-out reaches at most the layer it draws from; the error names the key that fails.
void check_fanout(const char* key, std::int64_t fanout, const char* layer, std::int64_t size) {
  if (fanout > size) fail("ncp wiring: {} {} must be <= {} {} (the neurons it reaches)", key, fanout, layer, size);
}

void check_sizes(const char* kind, std::int64_t inputs, std::int64_t units, std::int64_t motor) {
  if (inputs < 1 || units < 1 || motor < 1 || motor > units)
    fail("{} wiring: need inputs >= 1, units >= 1 and 1 <= motor <= units; got inputs {}, units {}, motor {}", kind,
         inputs, units, motor);
}

}  // namespace

std::int64_t Wiring::synapses() const {
  std::int64_t n = 0;
  for (double v : adjacency.to_vector()) n += v != 0;
  for (double v : sensory_adjacency.to_vector()) n += v != 0;
  return n;
}

void Wiring::validate() const {
  if (!adjacency.defined() || adjacency.shape() != Shape{units, units} || !sensory_adjacency.defined() ||
      sensory_adjacency.shape() != Shape{inputs, units})
    fail("{} wiring: adjacency must be [{}, {}] and sensory adjacency [{}, {}]", kind, units, units, inputs, units);
  if (motor < 1 || motor > units) fail("{} wiring: motor neurons {} not in 1..{}", kind, motor, units);
  for (const Tensor* t : {&adjacency, &sensory_adjacency})
    for (double v : t->to_vector())
      if (v != 0 && v != 1 && v != -1) fail("{} wiring: adjacency entries must be -1, 0 or +1, found {}", kind, v);
}

std::string Wiring::summary() const {
  return fmt::format("{}: {} inputs, {} units{}, {} motor, {} synapses", kind, inputs, units,
                     layout.empty() ? "" : " (" + layout + ")", motor, synapses());
}

Wiring fully_connected(std::int64_t inputs, std::int64_t units, std::int64_t motor, std::uint64_t seed) {
  check_sizes("full", inputs, units, motor);
  Draws draws(seed);
  Builder b(inputs, units);
  for (std::int64_t i = 0; i < units; ++i)
    for (std::int64_t j = 0; j < units; ++j) b.synapse(i, j, draws.polarity());
  for (std::int64_t i = 0; i < inputs; ++i)
    for (std::int64_t j = 0; j < units; ++j) b.sensory_synapse(i, j, draws.polarity());
  return b.finish("full", motor);
}

Wiring random_sparse(std::int64_t inputs, std::int64_t units, std::int64_t motor, double sparsity, std::uint64_t seed) {
  check_sizes("random", inputs, units, motor);
  if (!(sparsity >= 0 && sparsity < 1)) fail("random wiring: sparsity must be in [0, 1), got {}", sparsity);
  Draws draws(seed);
  Builder b(inputs, units);
  for (std::int64_t i = 0; i < units; ++i)
    for (std::int64_t j = 0; j < units; ++j) {
      const double p = draws.polarity();
      if (draws.uniform() >= sparsity) b.synapse(i, j, p);
    }
  for (std::int64_t i = 0; i < inputs; ++i)
    for (std::int64_t j = 0; j < units; ++j) {
      const double p = draws.polarity();
      if (draws.uniform() >= sparsity) b.sensory_synapse(i, j, p);
    }
  for (std::int64_t j = 0; j < units; ++j)
    if (!b.has_input(j)) {
      // named draws in a fixed order (as GCC evaluated the arguments: right to left), so that a
      // seed gives the same wiring whatever the compiler
      const double polarity = draws.polarity();
      b.sensory_synapse(draws.below(inputs), j, polarity);
    }
  return b.finish("random", motor);
}

namespace {
// Each motor neuron receives `fanin` command neurons; a command neuron left reaching none gets
// synapses to the mean fan-out of motor neurons (at least 1), as the reference library does.
void command_to_motor(Builder& b, Draws& draws, const std::vector<std::int64_t>& command, const std::vector<std::int64_t>& motor,
                      std::int64_t fanin) {
  std::vector<std::int64_t> reached;
  for (std::int64_t post : motor)
    for (std::int64_t pre : draws.choose(command, fanin)) {
      b.synapse(pre, post, draws.polarity());
      reached.push_back(pre);
    }
  const auto n_command = static_cast<std::int64_t>(command.size()), n_motor = static_cast<std::int64_t>(motor.size());
  const std::int64_t mean_fanout = std::clamp<std::int64_t>(n_motor * fanin / n_command, 1, n_motor);
  for (std::int64_t pre : command)
    if (std::find(reached.begin(), reached.end(), pre) == reached.end())
      for (std::int64_t post : draws.choose(motor, mean_fanout)) b.synapse(pre, post, draws.polarity());
}
}  // namespace

Wiring ncp(std::int64_t inputs, const NcpSizes& s, std::uint64_t seed) {
  if (s.inter < 1 || s.command < 1 || s.motor < 1 || s.sensory_fanout < 1 || s.inter_fanout < 1 ||
      s.recurrent_command < 0 || s.motor_fanin < 1)
    fail("ncp wiring: layer sizes and fan-outs must be >= 1 (recurrent_command >= 0)");
  check_fanout("sensory_fanout", s.sensory_fanout, "inter", s.inter);
  check_fanout("inter_fanout", s.inter_fanout, "command", s.command);
  check_fanout("motor_fanin", s.motor_fanin, "command", s.command);
  const std::int64_t units = s.motor + s.command + s.inter;
  check_sizes("ncp", inputs, units, s.motor);
  // Neuron order: motor first (the outputs), then command, then inter.
  std::vector<std::int64_t> motor(s.motor), command(s.command), inter(s.inter);
  std::iota(motor.begin(), motor.end(), 0);
  std::iota(command.begin(), command.end(), s.motor);
  std::iota(inter.begin(), inter.end(), s.motor + s.command);
  Draws draws(seed);
  Builder b(inputs, units);
  for (std::int64_t in = 0; in < inputs; ++in)  // sensory -> inter
    for (std::int64_t post : draws.choose(inter, s.sensory_fanout)) b.sensory_synapse(in, post, draws.polarity());
  for (std::int64_t pre : inter)  // inter -> command
    for (std::int64_t post : draws.choose(command, s.inter_fanout)) b.synapse(pre, post, draws.polarity());
  // Each draw into a named local, in the order GCC evaluated them as one call's arguments (right to
  // left): the same seed gives the same wiring whatever the compiler, and the wirings built so far.
  for (std::int64_t k = 0; k < s.recurrent_command; ++k) {  // command -> command
    const double polarity = draws.polarity();
    const std::int64_t post = command[draws.below(s.command)];
    const std::int64_t pre = command[draws.below(s.command)];
    b.synapse(pre, post, polarity);
  }
  command_to_motor(b, draws, command, motor, s.motor_fanin);
  // Every inter and command neuron receives something. ncps gives every command neuron the inter
  // layer missed an inter synapse; here one fed only by a recurrent synapse (its own, or another
  // command neuron's) keeps it: rare at the default sizes (about 1 seed in 1,000), common with sparse
  // fan-outs and many recurrent synapses. Changing it would rewire runs already trained from their
  // recorded seeds; it waits for a wiring version in the model's spec.
  for (std::int64_t post : inter)
    if (!b.has_input(post)) {
      const double polarity = draws.polarity();
      b.sensory_synapse(draws.below(inputs), post, polarity);
    }
  for (std::int64_t post : command)
    if (!b.has_input(post)) {
      const double polarity = draws.polarity();
      b.synapse(inter[draws.below(s.inter)], post, polarity);
    }
  Wiring w = b.finish("ncp", s.motor);
  w.layout = fmt::format("{} inter, {} command, {} motor", s.inter, s.command, s.motor);
  return w;
}

}  // namespace tide::models
