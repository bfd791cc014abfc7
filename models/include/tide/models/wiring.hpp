// Wirings of an LTC network: which neurons connect, with which polarity. An adjacency entry is +1
// (excitatory: reversal potential +1), -1 (inhibitory: -1) or 0 (no synapse); rows are the
// presynaptic neuron (or input), columns the postsynaptic neuron. The first `motor` neurons are
// the outputs, as in the LTC authors' later library.
//
// Polarities: every kind here draws each synapse's polarity 2/3 excitatory (-1 with probability
// 1/3). ncps (the reference library) does so for FullyConnected and Random (a choice of [-1, 1, 1])
// but draws its NCP's synapses 50/50; tide keeps 2/3 for NCP too, so that the NCP models built so
// far keep their wirings. Wirings are a function of the seed alone, the same with any compiler.
#pragma once
#include "tide/core/random.hpp"
#include "tide/core/tensor.hpp"
#include <string>

namespace tide::models {

struct Wiring {
  std::string kind;          // "full", "random", "ncp"
  std::int64_t inputs = 0, units = 0, motor = 0;
  Tensor adjacency;          // f64 [units, units], entries -1, 0, +1
  Tensor sensory_adjacency;  // f64 [inputs, units]

  std::int64_t synapses() const;          // nonzero entries of both matrices
  void validate() const;                  // shapes and entries; throws naming the wiring
  std::string summary() const;            // "ncp: 4 inputs, 19 units (8 inter, 6 command, 5 motor), 151 synapses"
  std::string layout;                     // ncp: "8 inter, 6 command, 5 motor"
};

// Every neuron to every neuron (self-connections included) and every input to every neuron;
// random polarity (2/3 excitatory, as the reference library draws them).
Wiring fully_connected(std::int64_t inputs, std::int64_t units, std::int64_t motor, std::uint64_t seed);
// Each synapse of the fully connected wiring kept with probability 1 - sparsity (at least one
// incoming synapse per neuron).
Wiring random_sparse(std::int64_t inputs, std::int64_t units, std::int64_t motor, double sparsity,
                     std::uint64_t seed);
// The neural circuit policy (Lechner et al. 2020): four layers sensory -> inter -> command ->
// motor. Every input reaches `sensory_fanout` inter neurons, every inter neuron `inter_fanout`
// command neurons, commands have `recurrent_command` recurrent synapses among themselves, every
// motor neuron receives `motor_fanin` command neurons. An inter neuron left without an input gets
// one from a random input, a command neuron left without an input one from a random inter neuron
// (ncps gives either the layer's mean fan-in instead of one, and also gives one to a command
// neuron fed only by recurrent synapses: not here, see wiring.cpp), and a command neuron that reaches no motor neuron gets synapses to the mean
// number (motor x motor_fanin / command, at least 1) of them: else its state could never reach the
// outputs.
struct NcpSizes {
  std::int64_t inter = 8, command = 6, motor = 2;
  std::int64_t sensory_fanout = 4, inter_fanout = 4, recurrent_command = 4, motor_fanin = 4;
};
Wiring ncp(std::int64_t inputs, const NcpSizes& sizes, std::uint64_t seed);

}  // namespace tide::models
