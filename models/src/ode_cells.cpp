#include "tide/models/ode_cells.hpp"
#include <cmath>

namespace tide::models {
// ---- CT-RNN -------------------------------------------------------------------------------------

CTRNNCell::CTRNNCell(std::int64_t input, std::int64_t hidden, Generator& gen, OdeSpec ode, CellOptions options, double tau)
    : WidthCell(input, hidden, options.dtype), ode_(ode),
      layer_(input + hidden, hidden, gen, linear_options(options.dtype)) {
  if (!(tau > 0)) fail("ctrnn: tau must be positive, got {}", tau);
  log_tau_ = Var::parameter(Tensor::full(Shape{hidden}, std::log(tau), options.dtype));
}

template <class T> T CTRNNCell::derivative(const Var& x, const T& h) const {
  return apply(layer_, concat({lift<T>(x), h}, 1), Activation::tanh) - h * exp(-log_tau_);
}

template Var CTRNNCell::derivative(const Var&, const Var&) const;
template Jet CTRNNCell::derivative(const Var&, const Jet&) const;

Var CTRNNCell::advance(const Var& x, const Var& state, const Var& dt, OdeRegulariser* regulariser) const {
  check_step(x, state, dt);
  return integrate_interval([this, x](const auto& h, const Rows& rows) { return derivative(rows.gather(x), h); }, state, dt, ode_, regulariser);
}

std::vector<std::pair<std::string, Var>> CTRNNCell::named_parameters() const {
  std::vector<std::pair<std::string, Var>> out;
  append_parameters(out, "layer", layer_);
  out.emplace_back("log_tau", log_tau_);
  return out;
}

// ---- neural ODE RNN -----------------------------------------------------------------------------

NeuralODERNNCell::NeuralODERNNCell(std::int64_t input, std::int64_t hidden, Generator& gen, OdeSpec ode, CellOptions options)
    : WidthCell(input, hidden, options.dtype), ode_(ode),
      f_({input + hidden, hidden, hidden}, Activation::tanh, gen, linear_options(options.dtype)) {}

Var NeuralODERNNCell::advance(const Var& x, const Var& state, const Var& dt, OdeRegulariser* regulariser) const {
  check_step(x, state, dt);
  return integrate_interval(
      [this, x](const auto& h, const Rows& rows) {
        using T = std::decay_t<decltype(h)>;
        return apply(f_, concat({lift<T>(rows.gather(x)), h}, 1));
      },
      state, dt, ode_, regulariser);
}

std::vector<std::pair<std::string, Var>> NeuralODERNNCell::named_parameters() const {
  std::vector<std::pair<std::string, Var>> out;
  append_parameters(out, "f", f_);
  return out;
}

// ---- ODE-RNN ------------------------------------------------------------------------------------

ODERNNCell::ODERNNCell(std::int64_t input, std::int64_t hidden, Generator& gen, OdeSpec ode, CellOptions options)
    : ode_(ode), f_({hidden, hidden, hidden}, Activation::tanh, gen, linear_options(options.dtype)),
      gru_(input, hidden, gen, options) {}

Var ODERNNCell::advance(const Var& x, const Var& state, const Var& dt, OdeRegulariser* regulariser) const {
  check_step(x, state, dt);
  const Var evolved = integrate_interval([this](const auto& h, const Rows&) { return apply(f_, h); }, state, dt, ode_, regulariser);
  return gru_.update(x, evolved);
}

std::vector<std::pair<std::string, Var>> ODERNNCell::named_parameters() const {
  std::vector<std::pair<std::string, Var>> out;
  append_parameters(out, "f", f_);
  append_parameters(out, "gru", gru_);
  return out;
}

// ---- mmRNN / ODE-LSTM ---------------------------------------------------------------------------

std::string MMRNNVariant::str() const {
  return fmt::format("forget_bias {:g}, ode_input {}, {}", forget_bias, ode_input, ode.str());
}

MMRNNCell::MMRNNCell(std::int64_t input, std::int64_t hidden, Generator& gen, MMRNNVariant variant, DType dtype)
    : variant_(variant), lstm_(input, hidden, gen, CellOptions{dtype, variant.forget_bias}),
      f_(hidden + (variant.ode_input ? input : 0), hidden, gen, linear_options(dtype)) {}

Var MMRNNCell::advance(const Var& x, const Var& state, const Var& dt, OdeRegulariser* regulariser) const {
  check_step(x, state, dt);
  const std::int64_t H = output_size();
  auto [h, c] = lstm_.update(x, slice(state, 1, 0, H), slice(state, 1, H, 2 * H));  // memory cell update
  const Var evolved = integrate_interval(
      [this, x](const auto& z, const Rows& rows) {
        using T = std::decay_t<decltype(z)>;
        return apply(f_, variant_.ode_input ? concat({z, lift<T>(rows.gather(x))}, 1) : z, Activation::tanh);
      },
      h, dt, variant_.ode, regulariser);  // the continuous-time state
  return concat({evolved, c}, 1);
}

std::vector<std::pair<std::string, Var>> MMRNNCell::named_parameters() const {
  std::vector<std::pair<std::string, Var>> out;
  append_parameters(out, "lstm", lstm_);
  append_parameters(out, "f", f_);
  return out;
}

}  // namespace tide::models
