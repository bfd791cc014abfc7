// The plan's fusion pass (core/src/plan/fuse.cpp): which calls form one chain, its inputs, steps
// and outputs, on programs of several shapes (a long chain, fan-out and fan-in, a reduction, values
// returned or read again from the middle of a chain, updates in place). The expected groups were
// recorded from the pass before its counts became incremental; replays equal eager runs.
#include "plan/fuse.hpp"
#include "tide/core/plan.hpp"
#include "tide/tide.hpp"
#include <doctest/doctest.h>
#include <cmath>
#include <string>

using namespace tide;

namespace {

Tensor wave(const Shape& s, double scale, double shift) {
  std::vector<double> v(static_cast<std::size_t>(s.numel()));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = scale * std::sin(0.7 * static_cast<double>(i) + shift);
  return Tensor::from_vector(v, s, DType::f64);
}

// The calls after fusion, one per line: a fused chain as its inputs, steps (op and the value ids
// it reads) and the value ids it writes out; any other call by name.
std::string fused_groups(const Trace& trace) {
  detail::Program p = trace.program();
  const detail::FuseCounts counts = detail::fuse_elementwise(p);
  std::string s = fmt::format("{} chains, {} ops\n", counts.chains, counts.ops);
  for (const detail::Call& c : p.calls) {
    if (c.kind != detail::CallKind::elementwise) {
      s += detail::call_name(c) + "\n";
      continue;
    }
    const ElementwiseProgram& chain = p.chains[static_cast<std::size_t>(c.program)];
    s += fmt::format("chain of {} inputs:", chain.n_inputs);
    for (const ElementwiseStep& st : chain.steps) {
      s += fmt::format(" {}(", op_name(st.op));
      for (int k : st.in)
        if (k >= 0) s += fmt::format("{}{}", s.back() == '(' ? "" : ",", k);
      s += ")";
    }
    s += " ->";
    for (int o : chain.outputs) s += fmt::format(" {}", o);
    s += "\n";
  }
  return s;
}

// The plan of fn equals fn eagerly on new inputs, and fusion groups its calls as `groups` says.
void check_plan(const TensorFunction& fn, const std::vector<Tensor>& inputs, const std::string& groups) {
  const Trace trace = Trace::record(fn, inputs);
  CHECK(fused_groups(trace) == groups);
  const Plan plan(trace);
  std::vector<Tensor> other;
  for (const Tensor& x : inputs) other.push_back(x * 0.75 + 0.1);
  for (int run = 0; run < 2; ++run) {
    const auto got = plan.run(other), want = fn(other);
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      CAPTURE(i);
      CHECK(got[i].to_vector() == want[i].to_vector());
    }
  }
}

}  // namespace

TEST_CASE("fusion groups a long elementwise chain into one pass, as before its counts were incremental") {
  const auto layers = [](int n) {
    return TensorFunction([n](const std::vector<Tensor>& in) {
      Tensor h = in[0];
      for (int k = 0; k < n; ++k) h = tanh(h) * 0.5 + h * 0.25;
      return std::vector<Tensor>{h};
    });
  };
  // 500 layers: the steps of the 6 below, repeated (layer k reads value 4k, the layer before's sum)
  std::string steps;
  for (int k = 0; k < 500; ++k)
    steps += fmt::format("{}mul_scalar({}) tanh({}) mul_scalar({}) add({},{})", k ? " " : "", 4 * k, 4 * k, 4 * k + 2, 4 * k + 3, 4 * k + 1);
  check_plan(layers(500), {wave(Shape{3, 5}, 1.0, 0.0)}, "1 chains, 2000 ops\nchain of 1 inputs: " + steps + " -> 2000\n");
  check_plan(layers(6), {wave(Shape{3, 5}, 1.0, 0.0)},
      "1 chains, 24 ops\n"
      "chain of 1 inputs: mul_scalar(0) tanh(0) mul_scalar(2) add(3,1) mul_scalar(4) tanh(4) mul_scalar(6) add(7,5)"
      " mul_scalar(8) tanh(8) mul_scalar(10) add(11,9) mul_scalar(12) tanh(12) mul_scalar(14) add(15,13)"
      " mul_scalar(16) tanh(16) mul_scalar(18) add(19,17) mul_scalar(20) tanh(20) mul_scalar(22) add(23,21) -> 24\n");
}

TEST_CASE("fusion groups branches that fan out and in, as before its counts were incremental") {
  const TensorFunction fn = [](const std::vector<Tensor>& in) {
    const Tensor a = exp(in[0] * 0.5);
    const Tensor b = a * 2.0, c = sin(a) + in[1];  // a read by two branches, and a row broadcast
    const Tensor d = b * c;
    return std::vector<Tensor>{where(gt(d, in[0]), d, -a) + a};
  };
  check_plan(fn, {wave(Shape{3, 5}, 1.0, 0.0), wave(Shape{5}, 0.8, 0.3)},
      "1 chains, 10 ops\n"
      "chain of 2 inputs: mul_scalar(0) exp(2) mul_scalar(3) sin(3) add(5,1) mul(4,6) neg(3) gt(7,0) where(9,7,8)"
      " add(10,3) -> 11\n");
}

TEST_CASE("fusion ends a chain at a reduction and starts another after it, as before its counts were incremental") {
  const TensorFunction fn = [](const std::vector<Tensor>& in) {
    const Tensor r = sum(tanh(in[0]) * 2.0 + 1.0, {1});
    return std::vector<Tensor>{exp(r * 0.1) + r};
  };
  check_plan(fn, {wave(Shape{3, 5}, 1.0, 0.0)},
      "2 chains, 6 ops\n"
      "chain of 1 inputs: tanh(0) mul_scalar(1) add_scalar(2) -> 3\n"
      "reduce sum\n"
      "chain of 1 inputs: mul_scalar(0) exp(1) add(2,0) -> 3\n");
}

TEST_CASE("fusion writes out the values returned or read again from the middle of a chain, as before") {
  const TensorFunction fn = [](const std::vector<Tensor>& in) {
    const Tensor h1 = tanh(in[0]) * 2.0;  // returned
    const Tensor h2 = h1 + in[0];         // read by the matmul after the chain
    const Tensor h3 = exp(h2 * 0.3) * h1;
    const Tensor m = matmul(h2, in[1]);
    return std::vector<Tensor>{h1, h3, m};
  };
  check_plan(fn, {wave(Shape{3, 5}, 1.0, 0.0), wave(Shape{5, 2}, 0.5, 0.2)},
      "1 chains, 6 ops\n"
      "chain of 1 inputs: tanh(0) mul_scalar(1) add(2,0) mul_scalar(3) exp(4) mul(5,2) -> 2 3 6\n"
      "matmul\n");
}

TEST_CASE("fusion joins updates in place read in one layout and stops at one read in another, as before") {
  const TensorFunction fn = [](const std::vector<Tensor>& in) {
    Tensor acc = exp(in[0]);
    const Tensor t = tanh(in[1]);
    acc.add_(t * 2.0);  // gradients accumulated: one chain
    acc.add_(square(t));
    Tensor second = acc * in[1];
    const Tensor u = tanh(in[1]) * second.slice(0, 0, 1);  // row 0 broadcast, then updated in place
    second.add_(u);
    return std::vector<Tensor>{second * 1.5};
  };
  check_plan(fn, {wave(Shape{3, 5}, 1.0, 0.0), wave(Shape{3, 5}, 0.8, 0.4)},
      "1 chains, 8 ops\n"
      "chain of 2 inputs: exp(0) tanh(1) mul_scalar(3) add(2,4) square(3) add(5,6) mul(7,1) tanh(1) -> 8 9\n"
      "binary mul\n"
      "binary add\n"
      "unary mul_scalar\n");
  // acc read whole, then row 0 broadcast: the update in place ends the chain (its first layout alone
  // matches the update's)
  const TensorFunction mixed = [](const std::vector<Tensor>& in) {
    Tensor acc = matmul(in[0], in[1]);
    const Tensor w = acc * 2.0;
    const Tensor t = tanh(w) * acc.slice(0, 0, 1);
    acc.add_(t);
    return std::vector<Tensor>{acc, w};
  };
  check_plan(mixed, {wave(Shape{3, 4}, 1.0, 0.0), wave(Shape{4, 5}, 0.8, 0.4)},
      "1 chains, 3 ops\n"
      "matmul\n"
      "chain of 2 inputs: mul_scalar(0) tanh(2) mul(3,1) -> 2 4\n"
      "binary add\n");
}
