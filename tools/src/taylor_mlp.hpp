// The dynamics of `tide bench taylor` (and of its --peers form): z' = f(z, t), `layers` tanh layers
// of width h, time entering the first one (as a concatenated input would: t * w_t), a linear
// read-out to d. Weights ~ U(+-1/sqrt(fan_in)), f64.
#pragma once
#include "bench_taylor.hpp"
#include "tide/tide.hpp"
#include <fmt/format.h>
#include <cmath>
#include <cstdint>
#include <vector>

namespace tide::cli {

struct MlpDynamics {
  Var w_in, w_t, b_in, w_out, b_out;
  std::vector<Var> w_hidden, b_hidden;
  // `parameters`: the weights require gradients (for R_K's gradient).
  MlpDynamics(const TaylorSize& s, std::uint64_t seed, bool parameters = false) {
    Generator g(seed);
    auto u = [&](Shape shape, double fan_in) {
      Tensor v = g.uniform(shape, -1 / std::sqrt(fan_in), 1 / std::sqrt(fan_in), DType::f64);
      return parameters ? Var::parameter(v) : Var(v);
    };
    w_in = u(Shape{s.d, s.h}, s.d + 1);
    w_t = u(Shape{s.h}, s.d + 1);
    b_in = u(Shape{s.h}, s.d + 1);
    for (int i = 1; i < s.layers; ++i) {
      w_hidden.push_back(u(Shape{s.h, s.h}, s.h));
      b_hidden.push_back(u(Shape{s.h}, s.h));
    }
    w_out = u(Shape{s.h, s.d}, s.h);
    b_out = u(Shape{s.d}, s.h);
  }
  // Written once for Var (plain evaluation) and Jet (every Taylor form).
  template <class T> T operator()(const T& z, const T& t) const {
    T a = tanh(matmul(z, T(w_in)) + t * T(w_t) + T(b_in));
    for (std::size_t i = 0; i < w_hidden.size(); ++i) a = tanh(matmul(a, T(w_hidden[i])) + T(b_hidden[i]));
    return matmul(a, T(w_out)) + T(b_out);
  }
  // Every weight by the names bench/peers/taylor_peers.py reads.
  std::vector<std::pair<std::string, Var>> named() const {
    std::vector<std::pair<std::string, Var>> out{{"w_in", w_in}, {"w_t", w_t}, {"b_in", b_in}};
    for (std::size_t i = 0; i < w_hidden.size(); ++i) {
      out.emplace_back(fmt::format("w_hidden.{}", i), w_hidden[i]);
      out.emplace_back(fmt::format("b_hidden.{}", i), b_hidden[i]);
    }
    out.emplace_back("w_out", w_out);
    out.emplace_back("b_out", b_out);
    return out;
  }
};

}  // namespace tide::cli
