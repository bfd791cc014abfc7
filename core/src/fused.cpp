// The fused kernels' validation and their default implementations from primitives.
#include "tide/core/fused.hpp"
#include "tide/core/backend.hpp"
#include "tide/core/ops.hpp"
#include "tensor_access.hpp"
#include <cmath>

namespace tide {
namespace {
std::int64_t rows_of(const Tensor& x) { return x.rank() == 0 ? 1 : x.shape()[0]; }
void check_operand(const Tensor& first, const Tensor& x, const char* op, const char* what) {
  check_floating(x, op);
  check_same_device(first, x, op);
  check_same_dtype(first, x, op);
  if (!(x.shape() == first.shape())) fail("{}: {} has shape {}, expected {}", op, what, x.shape().str(), first.shape().str());
}
// The terms' count against the coefficients', and each coefficient finite.
void check_coefficients(const std::vector<Tensor>& xs, const std::vector<double>& coeff, const char* op) {
  if (xs.empty()) fail("{}: no terms given", op);
  if (xs.size() != coeff.size()) fail("{}: {} terms but {} coefficients", op, xs.size(), coeff.size());
  for (double c : coeff) check_finite_scalar(c, op, "a coefficient");
}
// row_scale ([n] or undefined) checked, as given when it has `like`'s dtype and is contiguous (no
// handle copied: the solver's step sizes every call), else converted into `held`.
const Tensor& checked_row_scale(const Tensor& row_scale, const Tensor& like, std::int64_t n, const char* op, Tensor& held) {
  if (!row_scale.defined()) return row_scale;
  check_floating(row_scale, op);
  check_same_device(like, row_scale, op);
  if (row_scale.rank() != 1 || row_scale.shape()[0] != n)
    fail("{}: row_scale has shape {}, expected [{}]", op, row_scale.shape().str(), n);
  if (row_scale.dtype() == like.dtype() && row_scale.is_contiguous()) return row_scale;
  return held = row_scale.to(like.dtype()).contiguous();
}
void check_vector(const Tensor& v, std::int64_t n, const Tensor& like, const char* op, const char* what) {
  if (!v.defined() || v.dtype() != DType::f64 || v.rank() != 1 || v.shape()[0] != n)
    fail("{}: {} must be f64[{}], got {}", op, what, n, v.defined() ? v.str() : std::string("undefined"));
  check_same_device(like, v, op);
}
}  // namespace

Tensor linear_combination(const Tensor& base, const std::vector<Tensor>& xs, const std::vector<double>& coeff,
                          const Tensor& row_scale) {
  const char* op = "linear_combination";
  check_coefficients(xs, coeff, op);
  const Tensor& first = xs[0];
  bool contiguous = true;
  for (const Tensor& x : xs) {
    check_operand(first, x, op, "a term");
    contiguous = contiguous && x.is_contiguous();
  }
  if (base.defined()) check_operand(first, base, op, "the base");
  Tensor held_scale, held_base;
  const Tensor& scale = checked_row_scale(row_scale, first, rows_of(first), op, held_scale);
  Tensor out = Tensor::empty(first.shape(), first.dtype(), first.device());
  const Tensor& packed_base = !base.defined() || base.is_contiguous() ? base : (held_base = base.contiguous());
  if (contiguous) {  // the terms as given: no copies of their handles
    first.backend().lincomb(out, packed_base, xs, coeff, scale);
    return out;
  }
  std::vector<Tensor> terms;
  for (const Tensor& x : xs) terms.push_back(x.contiguous());
  first.backend().lincomb(out, packed_base, terms, coeff, scale);
  return out;
}

Tensor scaled_row_norms(const Tensor& err, const Tensor& a, const Tensor& b, const Tensor& atol,
                        const Tensor& rtol, const Tensor& mask) {
  const char* op = "scaled_row_norms";
  check_floating(err, op);
  if (err.rank() < 1) fail("{}: err must have a row axis, got {}", op, err.str());
  check_operand(err, a, op, "a");
  check_operand(err, b, op, "b");
  const std::int64_t n = err.shape()[0], d = err.numel() / std::max<std::int64_t>(n, 1);
  check_vector(atol, d, err, op, "atol");
  check_vector(rtol, d, err, op, "rtol");
  check_vector(mask, d, err, op, "mask");
  Tensor out = Tensor::empty(Shape{n, 2}, DType::f64, err.device());
  err.backend().scaled_row_norms(err.contiguous(), a.contiguous(), b.contiguous(), atol.contiguous(),
                                 rtol.contiguous(), mask.contiguous(), out);
  return out;
}

namespace {
// x as [n, d] with unit stride along d: a view where its layout allows, else a contiguous copy
Tensor as_rows(const Tensor& x, std::int64_t n, std::int64_t d) {
  if (x.rank() == 2 && (x.strides()[1] == 1 || d == 1)) return x;
  return x.contiguous().reshape(Shape{n, d});
}
}  // namespace

Tensor combination_row_norms(const std::vector<Tensor>& xs, const std::vector<double>& coeff, const Tensor& row_scale,
                             const Tensor& a, const Tensor& b, const Tensor& atol, const Tensor& rtol, const Tensor& mask) {
  const char* op = "combination_row_norms";
  check_floating(a, op);
  if (a.rank() < 1) fail("{}: a must have a row axis, got {}", op, a.str());
  check_coefficients(xs, coeff, op);
  const std::int64_t n = a.shape()[0], d = a.numel() / std::max<std::int64_t>(n, 1);
  std::vector<Tensor> terms;
  for (const Tensor& x : xs) {
    check_operand(a, x, op, "a term");
    terms.push_back(as_rows(x, n, d));
  }
  check_operand(a, b, op, "b");
  check_vector(atol, d, a, op, "atol");
  check_vector(rtol, d, a, op, "rtol");
  check_vector(mask, d, a, op, "mask");
  Tensor held_scale;
  const Tensor& scale = checked_row_scale(row_scale, a, n, op, held_scale);
  Tensor out = Tensor::empty(Shape{n, 2}, DType::f64, a.device());
  a.backend().combination_row_norms(terms, coeff, scale, as_rows(a, n, d), as_rows(b, n, d), atol.contiguous(),
                                    rtol.contiguous(), mask.contiguous(), out);
  return out;
}

namespace {
// dense's checks for layer `layer` of a stack (0: the one that reads x) whose input has `k`
// features (`x` names the dtype and device).
void check_dense(const Tensor& x, std::int64_t k, std::size_t layer, const Tensor& w, const Tensor& b,
                 std::optional<Op> act, double p0, const char* op) {
  check_floating(w, op);
  check_same_device(x, w, op);
  check_same_dtype(x, w, op);
  if (w.rank() != 2) fail("{}: weight must be [K, N], got {}", op, w.shape().str());
  if (k != w.shape()[0]) {
    if (layer == 0) fail("{}: input {} does not end in the weight's {} rows", op, x.shape().str(), w.shape()[0]);
    fail("{}: layer {}'s input of {} features does not end in the weight's {} rows", op, layer, k, w.shape()[0]);
  }
  if (b.defined()) {
    check_same_device(x, b, op);
    check_same_dtype(x, b, op);
    if (b.rank() != 1 || b.shape()[0] != w.shape()[1]) fail("{}: bias {} does not match the weight's {} columns", op, b.shape().str(), w.shape()[1]);
  }
  if (act && op_info(*act).kind != OpKind::unary) fail("{}: activation {} is not a unary op", op, op_name(*act));
  if (act && *act == Op::clamp) fail("{}: clamp takes two bounds and a dense layer passes one parameter", op);
  if (act) check_unary_parameters(*act, p0, 0.0);
}

Tensor with_last_axis(const Tensor& x, std::int64_t n) {
  Shape shape = x.shape();
  shape[shape.rank() - 1] = n;
  return Tensor::empty(shape, x.dtype(), x.device());
}

// Rows per block of dense_stack on the CPU: the widest layer output of a block takes about 64 KB
// (in L2 with its input, next to the weights), and at least 16 rows.
std::int64_t block_rows(std::int64_t widest, std::size_t item) {
  return std::max<std::int64_t>(16, static_cast<std::int64_t>((64 << 10) / item) / std::max<std::int64_t>(widest, 1));
}

// dense after its checks (dense_stack's layers, checked as a stack, come here directly).
Tensor dense_checked(const Tensor& x, const Tensor& w, const Tensor& b, std::optional<Op> act, double p0) {
  const std::int64_t k = w.shape()[0], n = w.shape()[1];
  std::int64_t m = 1;  // rows: the leading extents' product (numel / k is undefined for k = 0)
  for (int i = 0; i + 1 < x.rank(); ++i) m *= x.shape()[i];
  Tensor out = with_last_axis(x, n);
  if (out.numel() == 0) return out;
  // Operands already in the layout the kernel takes go as they are (the common call: a contiguous
  // batch of rows, no handle copied); the others as contiguous [rows, cols] views or copies, held here.
  Tensor held[4];
  const auto as_matrix = [&held](const Tensor& t, std::int64_t r, std::int64_t c, int i) -> const Tensor& {
    return t.rank() == 2 && t.is_contiguous() ? t : (held[i] = t.contiguous().reshape(Shape{r, c}));
  };
  const Tensor& bias = !b.defined() || b.is_contiguous() ? b : (held[2] = b.contiguous());
  x.backend().dense(as_matrix(x, m, k, 0), as_matrix(w, k, n, 1), bias, act, p0, as_matrix(out, m, n, 3));
  return out;
}
}  // namespace

Tensor dense(const Tensor& x, const Tensor& w, const Tensor& b, std::optional<Op> act, double p0) {
  const char* op = "dense";
  check_floating(x, op);
  if (x.rank() < 1) fail("{}: input must have a feature axis, got a scalar", op);
  check_dense(x, x.shape().back(), 0, w, b, act, p0, op);
  return dense_checked(x, w, b, act, p0);
}

namespace {
// The layers over row blocks of `block` rows: a block's intermediate activations live in two
// scratch buffers of block * widest elements, the last layer writes the output's rows.
void dense_blocks(const Tensor& rows_in, const std::vector<DenseLayer>& layers, std::int64_t block, std::int64_t widest,
                  const Tensor& rows_out) {
  const std::int64_t m = rows_in.shape()[0];
  Tensor scratch[2] = {Tensor::empty(Shape{block * widest}, rows_in.dtype(), rows_in.device()),
                       Tensor::empty(Shape{block * widest}, rows_in.dtype(), rows_in.device())};
  std::vector<Tensor> ws, bs;
  for (const DenseLayer& l : layers) {
    ws.push_back(l.w.contiguous());
    bs.push_back(l.b.defined() ? l.b.contiguous() : Tensor());
  }
  for (std::int64_t r0 = 0; r0 < m; r0 += block) {
    const std::int64_t rows = std::min(block, m - r0);
    Tensor h = rows_in.slice(0, r0, r0 + rows);
    for (std::size_t i = 0; i < layers.size(); ++i) {
      const std::int64_t n = ws[i].shape()[1];
      const Tensor dst = i + 1 == layers.size() ? rows_out.slice(0, r0, r0 + rows)
                                                 : scratch[i % 2].slice(0, 0, rows * n).reshape(Shape{rows, n});
      rows_in.backend().dense(h, ws[i], bs[i], layers[i].act, layers[i].p0, dst);
      h = dst;
    }
  }
}
}  // namespace

Tensor dense_stack(const Tensor& x, const std::vector<DenseLayer>& layers) {
  const char* op = "dense_stack";
  check_floating(x, op);
  if (x.rank() < 1) fail("{}: input must have a feature axis, got a scalar", op);
  if (layers.empty()) fail("{}: no layers", op);
  std::int64_t k = x.shape().back(), widest = 0;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    check_dense(x, k, i, layers[i].w, layers[i].b, layers[i].act, layers[i].p0, op);
    k = layers[i].w.shape()[1];
    if (i + 1 < layers.size()) widest = std::max(widest, k);
  }
  const std::int64_t m = x.numel() / std::max<std::int64_t>(x.shape().back(), 1);
  const std::int64_t block = block_rows(widest, dtype_size(x.dtype()));
  // On other devices, under a trace (a plan fuses on its own), or for a batch of one block: the
  // layers one after the other.
  if (x.device().kind != DeviceKind::cpu || m <= 2 * block || detail::backend_hook) {
    Tensor h = x;
    for (const DenseLayer& l : layers) h = dense_checked(h, l.w, l.b, l.act, l.p0);
    return h;
  }
  Tensor out = with_last_axis(x, k);
  dense_blocks(x.contiguous().reshape(Shape{m, x.shape().back()}), layers, block, widest, out.reshape(Shape{m, k}));
  return out;
}

SynapseSums synapse_sums(const Tensor& pre, const Tensor& w, const Tensor& sigma, const Tensor& mu,
                         const Tensor& erev, const Tensor& num0, const Tensor& den0) {
  const char* op = "synapse_sums";
  check_floating(pre, op);
  if (pre.rank() != 2) fail("{}: pre must be [B, P], got {}", op, pre.shape().str());
  if (w.rank() != 2 || w.shape()[0] != pre.shape()[1])
    fail("{}: w must be [{}, N] for pre {}, got {}", op, pre.shape()[1], pre.shape().str(), w.shape().str());
  for (const auto& [t, what] : {std::pair{&w, "w"}, {&sigma, "sigma"}, {&mu, "mu"}, {&erev, "erev"}}) {
    check_same_device(pre, *t, op);
    check_same_dtype(pre, *t, op);
    if (!(t->shape() == w.shape())) fail("{}: {} has shape {}, expected {}", op, what, t->shape().str(), w.shape().str());
  }
  const Shape out_shape{pre.shape()[0], w.shape()[1]};
  auto start = [&](const Tensor& init, const char* what) {
    if (!init.defined()) return Tensor();
    check_same_device(pre, init, op);
    check_same_dtype(pre, init, op);
    if (!(init.shape() == out_shape)) fail("{}: {} has shape {}, expected {}", op, what, init.shape().str(), out_shape.str());
    return init.contiguous();
  };
  const Tensor n0 = start(num0, "num0"), d0 = start(den0, "den0");
  if (pre.numel() == 0 || w.numel() == 0) {
    auto or_zero = [&](const Tensor& t) { return t.defined() ? t.clone() : Tensor::zeros(out_shape, pre.dtype(), pre.device()); };
    return {or_zero(n0), or_zero(d0)};
  }
  SynapseSums out{Tensor::empty(out_shape, pre.dtype(), pre.device()), Tensor::empty(out_shape, pre.dtype(), pre.device())};
  pre.backend().synapse_sums(pre.contiguous(), w.contiguous(), sigma.contiguous(), mu.contiguous(), erev.contiguous(),
                             n0, d0, out.num, out.den);
  return out;
}

// ---- defaults from primitives -------------------------------------------------------------------

void Backend::lincomb(const Tensor& out, const Tensor& base, std::span<const Tensor> xs,
                      const std::vector<double>& coeff, const Tensor& row_scale) {
  Tensor acc;
  for (std::size_t j = 0; j < xs.size(); ++j) {
    if (coeff[j] == 0.0) continue;
    const Tensor term = coeff[j] == 1.0 ? xs[j] : mul_scalar(xs[j], coeff[j]);
    acc = acc.defined() ? add(acc, term) : term;
  }
  if (!acc.defined()) acc = Tensor::zeros(out.shape(), out.dtype(), out.device());
  if (row_scale.defined()) {
    Shape column{row_scale.numel()};
    for (int i = 1; i < out.rank(); ++i) column.push_back(1);
    acc = mul(acc, row_scale.reshape(column));
  }
  if (base.defined()) acc = add(base, acc);
  copy(acc, out);
}

void Backend::combination_row_norms(std::span<const Tensor> xs, const std::vector<double>& coeff, const Tensor& row_scale,
                                    const Tensor& a, const Tensor& b, const Tensor& atol, const Tensor& rtol,
                                    const Tensor& mask, const Tensor& out) {
  const std::vector<Tensor> terms(xs.begin(), xs.end());
  copy(tide::scaled_row_norms(linear_combination(Tensor(), terms, coeff, row_scale), a.contiguous(), b.contiguous(), atol,
                              rtol, mask),
       out);
}

void Backend::scaled_row_norms(const Tensor& err, const Tensor& a, const Tensor& b, const Tensor& atol,
                               const Tensor& rtol, const Tensor& mask, const Tensor& out) {
  const std::int64_t n = err.shape()[0], d = err.numel() / std::max<std::int64_t>(n, 1);
  const Tensor e = err.reshape(Shape{n, d}).to(DType::f64), x = a.reshape(Shape{n, d}).to(DType::f64),
               y = b.reshape(Shape{n, d}).to(DType::f64);
  const Tensor scale = add(atol, mul(rtol, maximum(abs(x), abs(y))));
  const Tensor zero = Tensor::zeros(Shape{}, DType::f64, err.device());
  // a zero error counts 0 against a zero scale too (the kernels' rule; 0 / 0 would flag the row); a
  // masked one counts e * 0: 0, or NaN (flagging the row) where the error is not finite
  const Tensor q = tide::where(mask, tide::where(eq(e, zero), zero, div(e, scale)), mul_scalar(e, 0.0));
  Tensor sumsq = sum(mul(q, q), {1}, true), largest = max(abs(q), {1}, true);
  // x * 0 is NaN exactly where x is not finite; a row sum of those flags the row.
  const Tensor bad = maximum(ne(sum(mul_scalar(y, 0.0), {1}, true), zero), ne(mul_scalar(sumsq, 0.0), zero));
  const Tensor inf = Tensor::full(Shape{}, INFINITY, DType::f64, err.device());
  sumsq = tide::where(bad, inf, sumsq);
  largest = tide::where(bad, inf, largest);
  copy(concat({sumsq, largest}, 1), out);
}

void Backend::matmul_add(const Tensor& a, const Tensor& b, const Tensor& out) {
  const Tensor product = Tensor::empty(out.shape(), out.dtype(), out.device());
  matmul(a, b, product);
  binary(Op::add, out, product, out);
}

void Backend::dense(const Tensor& x, const Tensor& w, const Tensor& b, std::optional<Op> act, double p0, const Tensor& out) {
  Tensor y = tide::matmul(x, w);
  if (b.defined()) y = add(y, b);
  if (act) y = tide::unary(*act, y, p0, 0.0);
  copy(y, out);
}

SynapseGrads synapse_sums_backward(const Tensor& pre, const Tensor& w, const Tensor& sigma, const Tensor& mu,
                                   const Tensor& erev, const Tensor& gnum, const Tensor& gden) {
  const char* op = "synapse_sums_backward";
  check_floating(pre, op);
  if (pre.rank() != 2 || w.rank() != 2 || w.shape()[0] != pre.shape()[1])
    fail("{}: pre must be [B, P] and w [P, N], got {} and {}", op, pre.shape().str(), w.shape().str());
  const Shape out_shape{pre.shape()[0], w.shape()[1]};
  for (const auto& [t, what] : {std::pair{&w, "w"}, {&sigma, "sigma"}, {&mu, "mu"}, {&erev, "erev"}, {&gnum, "gnum"}, {&gden, "gden"}}) {
    check_same_device(pre, *t, op);
    check_same_dtype(pre, *t, op);
    const Shape& want = t == &gnum || t == &gden ? out_shape : w.shape();
    if (!(t->shape() == want)) fail("{}: {} has shape {}, expected {}", op, what, t->shape().str(), want.str());
  }
  SynapseGrads g{Tensor::empty(pre.shape(), pre.dtype(), pre.device()), Tensor::empty(w.shape(), pre.dtype(), pre.device()),
                 Tensor::empty(w.shape(), pre.dtype(), pre.device()), Tensor::empty(w.shape(), pre.dtype(), pre.device()),
                 Tensor::empty(w.shape(), pre.dtype(), pre.device())};
  if (pre.numel() == 0 || w.numel() == 0) {
    for (Tensor* t : {&g.pre, &g.w, &g.sigma, &g.mu, &g.erev}) t->zero_();
    return g;
  }
  pre.backend().synapse_sums_backward(pre.contiguous(), w.contiguous(), sigma.contiguous(), mu.contiguous(), erev.contiguous(),
                                      gnum.contiguous(), gden.contiguous(), g.pre, g.w, g.sigma, g.mu, g.erev);
  return g;
}

void Backend::synapse_sums(const Tensor& pre, const Tensor& w, const Tensor& sigma, const Tensor& mu,
                           const Tensor& erev, const Tensor& num0, const Tensor& den0, const Tensor& num,
                           const Tensor& den) {
  const std::int64_t b = pre.shape()[0], p = pre.shape()[1];
  const Tensor x = pre.reshape(Shape{b, p, 1});
  const Tensor a = mul(w, tide::sigmoid(mul(sigma, sub(x, mu))));  // [B, P, N]
  const Tensor n = sum(mul(a, erev), {1}), d = sum(a, {1});
  copy(num0.defined() ? add(num0, n) : n, num);
  copy(den0.defined() ? add(den0, d) : d, den);
}

void Backend::synapse_sums_backward(const Tensor& pre, const Tensor& w, const Tensor& sigma, const Tensor& mu,
                                    const Tensor& erev, const Tensor& gnum, const Tensor& gden, const Tensor& gpre,
                                    const Tensor& gw, const Tensor& gsigma, const Tensor& gmu, const Tensor& gerev) {
  const std::int64_t b = pre.shape()[0], p = pre.shape()[1], n = w.shape()[1];
  const Tensor d = sub(pre.reshape(Shape{b, p, 1}), mu);  // [B, P, N]
  const Tensor s = tide::sigmoid(mul(sigma, d));
  const Tensor gn = gnum.reshape(Shape{b, 1, n});
  const Tensor q = add(mul(gn, erev), gden.reshape(Shape{b, 1, n}));
  const Tensor dz = mul(mul(q, mul(w, s)), tide::add_scalar(neg(s), 1.0));
  copy(sum(mul(gn, mul(w, s)), {0}), gerev);
  copy(sum(mul(q, s), {0}), gw);
  copy(sum(mul(dz, d), {0}), gsigma);
  copy(neg(sum(mul(dz, sigma), {0})), gmu);
  copy(sum(mul(dz, sigma), {2}), gpre);
}

void Backend::elementwise(const ElementwiseProgram& program, std::span<const Tensor> inputs,
                          std::span<const Tensor> outputs) {
  if (outputs.empty()) fail("elementwise: no outputs");
  const Tensor& like = outputs[0];
  std::vector<Tensor> values(inputs.begin(), inputs.end());
  values.reserve(inputs.size() + program.steps.size());
  for (std::size_t k = 0; k < program.steps.size(); ++k) {
    const int id = program.n_inputs + static_cast<int>(k);
    Tensor out;
    for (std::size_t j = 0; j < program.outputs.size() && !out.defined(); ++j)
      if (program.outputs[j] == id) out = outputs[j];
    if (!out.defined()) out = Tensor::empty(like.shape(), like.dtype(), like.device());
    const ElementwiseStep& s = program.steps[k];
    auto in = [&](int i) -> const Tensor& { return values.at(static_cast<std::size_t>(s.in[i])); };
    switch (op_info(s.op).kind) {
      case OpKind::unary: unary(s.op, in(0), out, s.p0, s.p1); break;
      case OpKind::binary: case OpKind::compare: binary(s.op, in(0), in(1), out); break;
      case OpKind::other: where(in(0), in(1), in(2), out); break;
      case OpKind::reduce: case OpKind::shape: fail("elementwise: {} is not an elementwise op", op_name(s.op));
    }
    values.push_back(out);
  }
  // an output that is an input (or a value written to two outputs) is copied
  for (std::size_t j = 0; j < program.outputs.size(); ++j) {
    const Tensor& v = values.at(static_cast<std::size_t>(program.outputs[j]));
    if (!v.shares_storage_with(outputs[j])) copy(v, outputs[j]);
  }
}

}  // namespace tide
