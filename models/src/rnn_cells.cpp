#include "tide/models/rnn_cells.hpp"
#include "tide/autodiff/pointwise.hpp"
#include <cmath>

namespace tide::models {
// ---- LSTM ---------------------------------------------------------------------------------------

namespace {

// The LSTM's pointwise update as two fused ops (autodiff/pointwise.hpp), written with the
// composite's operations in its order: one pass and one node each instead of nine eager ops.
// The memory: inputs the gate pre-activations i, f, g [B, H], the memory c [B, H] and the forget
// bias (a scalar): c' = c sigmoid(f + forget_bias) + sigmoid(i) tanh(g).
template <class T> T memory_of(const std::vector<T>& v) { return v[3] * sigmoid(v[1] + v[4]) + sigmoid(v[0]) * tanh(v[2]); }

std::vector<Sym> memory_vjp(const std::vector<Sym>& v, Sym d) {
  const Sym sf = sigmoid(v[1] + v[4]), si = sigmoid(v[0]), tg = tanh(v[2]);
  return {d * tg * (si * (1.0 - si)), d * v[3] * (sf * (1.0 - sf)), d * si * (1.0 - square(tg)), d * sf, Sym{}};
}

// The output: inputs c' [B, H] and the output gate's pre-activation o [B, H]: h' = tanh(c') sigmoid(o).
template <class T> T hidden_of(const std::vector<T>& v) { return tanh(v[0]) * sigmoid(v[1]); }

std::vector<Sym> hidden_vjp(const std::vector<Sym>& v, Sym d) {
  const Sym tc = tanh(v[0]), so = sigmoid(v[1]);
  return {d * so * (1.0 - square(tc)), d * tc * (so * (1.0 - so))};
}

const std::shared_ptr<const PointwiseOp>& memory_op() {
  static const auto op = make_pointwise("lstm memory", 5, [](const auto& v) { return memory_of(v); }, memory_vjp);
  return op;
}

const std::shared_ptr<const PointwiseOp>& hidden_op() {
  static const auto op = make_pointwise("lstm output", 2, [](const auto& v) { return hidden_of(v); }, hidden_vjp);
  return op;
}

}  // namespace

LSTMCell::LSTMCell(std::int64_t input, std::int64_t hidden, Generator& gen, CellOptions options, bool time_input)
    : WidthCell(input, hidden, options.dtype), options_(options), time_input_(time_input),
      gates_(input + (time_input ? 1 : 0) + hidden, 4 * hidden, gen, linear_options(options.dtype)) {}

std::pair<Var, Var> LSTMCell::update(const Var& x, const Var& h, const Var& c) const {
  const std::vector<Var> g = split(gates_(concat({x, h}, 1)), {hidden_, hidden_, hidden_, hidden_}, 1);
  const Var forget_bias(Tensor::scalar(options_.forget_bias, c.dtype(), c.device()));
  const Var c_new = pointwise(memory_op(), {g[0], g[1], g[2], c, forget_bias});
  return {pointwise(hidden_op(), {c_new, g[3]}), c_new};
}

Var LSTMCell::advance(const Var& x, const Var& state, const Var& dt, OdeRegulariser* /*regulariser*/) const {
  check_step(x, state, dt);
  const Var in = time_input_ ? concat({x, dt}, 1) : x;
  auto [h, c] = update(in, slice(state, 1, 0, hidden_), slice(state, 1, hidden_, 2 * hidden_));
  return concat({h, c}, 1);
}

std::vector<std::pair<std::string, Var>> LSTMCell::named_parameters() const {
  std::vector<std::pair<std::string, Var>> out;
  append_parameters(out, "gates", gates_);
  return out;
}

// ---- GRU ----------------------------------------------------------------------------------------

GRUCell::GRUCell(std::int64_t input, std::int64_t hidden, Generator& gen, CellOptions options)
    : WidthCell(input, hidden, options.dtype),
      input_gates_(input, 3 * hidden, gen, linear_options(options.dtype)),
      hidden_gates_(hidden, 3 * hidden, gen, linear_options(options.dtype)) {}

Var GRUCell::update(const Var& x, const Var& h) const {
  const std::vector<Var> gx = split(input_gates_(x), {hidden_, hidden_, hidden_}, 1);
  const std::vector<Var> gh = split(hidden_gates_(h), {hidden_, hidden_, hidden_}, 1);
  const Var r = sigmoid(gx[0] + gh[0]), z = sigmoid(gx[1] + gh[1]);
  const Var n = tanh(gx[2] + r * gh[2]);
  return n + z * (h - n);  // (1 - z) n + z h
}

Var GRUCell::advance(const Var& x, const Var& state, const Var& dt, OdeRegulariser* /*regulariser*/) const {
  check_step(x, state, dt);
  return update(x, state);
}

std::vector<std::pair<std::string, Var>> GRUCell::named_parameters() const {
  std::vector<std::pair<std::string, Var>> out;
  append_parameters(out, "input_gates", input_gates_);
  append_parameters(out, "hidden_gates", hidden_gates_);
  return out;
}

// ---- GRU-D --------------------------------------------------------------------------------------

GRUDCell::GRUDCell(std::int64_t input, std::int64_t hidden, Generator& gen, CellOptions options)
    : gru_(input, hidden, gen, options) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(hidden));
  decay_w_ = Var::parameter(gen.uniform(Shape{hidden}, -bound, bound, options.dtype));
  decay_b_ = Var::parameter(gen.uniform(Shape{hidden}, -bound, bound, options.dtype));
}

Var GRUDCell::advance(const Var& x, const Var& state, const Var& dt, OdeRegulariser* /*regulariser*/) const {
  check_step(x, state, dt);
  const Var gamma = exp(-relu(dt * decay_w_ + decay_b_));  // [B, H]
  return gru_.update(x, state * gamma);
}

std::vector<std::pair<std::string, Var>> GRUDCell::named_parameters() const {
  std::vector<std::pair<std::string, Var>> out;
  append_parameters(out, "gru", gru_);
  out.emplace_back("decay_w", decay_w_);
  out.emplace_back("decay_b", decay_b_);
  return out;
}

// ---- vanilla RNN --------------------------------------------------------------------------------

VanillaRNNCell::VanillaRNNCell(std::int64_t input, std::int64_t hidden, Generator& gen, CellOptions options)
    : WidthCell(input, hidden, options.dtype), layer_(input + hidden, hidden, gen, linear_options(options.dtype)) {}

Var VanillaRNNCell::advance(const Var& x, const Var& state, const Var& dt, OdeRegulariser* /*regulariser*/) const {
  check_step(x, state, dt);
  return tanh(layer_(concat({x, state}, 1)));
}

std::vector<std::pair<std::string, Var>> VanillaRNNCell::named_parameters() const {
  std::vector<std::pair<std::string, Var>> out;
  append_parameters(out, "layer", layer_);
  return out;
}

}  // namespace tide::models
