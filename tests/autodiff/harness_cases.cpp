// The cases of the all-ops harness. Shapes are small (every element is perturbed) and chosen to
// exercise broadcasting; linear ops are wrapped in a square so that grad of grad runs through their
// backward rule's own backward.
#include "harness.hpp"

namespace tide::testing {

Tensor any(Generator& g, const Shape& s, double lo, double hi) { return g.uniform(s, lo, hi, DType::f64); }
Tensor positive(Generator& g, const Shape& s, double lo, double hi) { return g.uniform(s, lo, hi, DType::f64); }
Tensor away_from_zero(Generator& g, const Shape& s, double lo, double hi) {
  return mul(g.uniform(s, lo, hi, DType::f64), g.rademacher(s, DType::f64));
}

namespace {
using Inputs = std::function<std::vector<Tensor>(Generator&)>;
using Fn = CaseFn;

Inputs one(std::function<Tensor(Generator&, const Shape&)> maker, Shape s) {
  return [=](Generator& g) { return std::vector<Tensor>{maker(g, s)}; };
}
auto any_in = [](Generator& g, const Shape& s) { return any(g, s); };
auto pos_in = [](Generator& g, const Shape& s) { return positive(g, s); };
auto away_in = [](Generator& g, const Shape& s) { return away_from_zero(g, s); };

OpCase unary_case(Op op, std::function<Tensor(Generator&, const Shape&)> maker, Fn fn) {
  return {op, std::string(op_name(op)), one(maker, Shape{3, 4}), {}, std::move(fn)};
}
Tensor idx(std::vector<std::int64_t> v, Shape s) { return Tensor::from_indices(v, s); }
}  // namespace

const std::vector<OpCase>& op_cases() {
  static const std::vector<OpCase> cases = [] {
    std::vector<OpCase> c;
    auto u = [&](Op op, auto maker, Fn fn) { c.push_back(unary_case(op, maker, std::move(fn))); };
    // ---- unary ----------------------------------------------------------------------------------
    u(Op::neg, any_in, [](auto& x) { return neg(x[0]) * x[0]; });
    u(Op::abs, away_in, [](auto& x) { return abs(x[0]) * x[0]; });
    u(Op::exp, any_in, [](auto& x) { return exp(x[0]); });
    u(Op::expm1, any_in, [](auto& x) { return expm1(x[0]); });
    u(Op::log, pos_in, [](auto& x) { return log(x[0]); });
    u(Op::log1p, [](Generator& g, const Shape& s) { return any(g, s, -0.6, 2.0); }, [](auto& x) { return log1p(x[0]); });
    u(Op::sqrt, pos_in, [](auto& x) { return sqrt(x[0]); });
    u(Op::rsqrt, pos_in, [](auto& x) { return rsqrt(x[0]); });
    u(Op::square, any_in, [](auto& x) { return square(x[0]); });
    u(Op::reciprocal, away_in, [](auto& x) { return reciprocal(x[0]); });
    u(Op::tanh, any_in, [](auto& x) { return tanh(x[0]); });
    u(Op::sigmoid, any_in, [](auto& x) { return sigmoid(x[0]); });
    u(Op::softplus, any_in, [](auto& x) { return softplus(x[0]); });
    u(Op::relu, away_in, [](auto& x) { return relu(x[0]) * x[0]; });
    u(Op::leaky_relu, away_in, [](auto& x) { return leaky_relu(x[0], 0.1) * x[0]; });
    u(Op::elu, away_in, [](auto& x) { return elu(x[0], 1.3); });
    u(Op::silu, any_in, [](auto& x) { return silu(x[0]); });
    u(Op::gelu, any_in, [](auto& x) { return gelu(x[0]); });
    u(Op::erf, any_in, [](auto& x) { return erf(x[0]); });
    u(Op::sin, any_in, [](auto& x) { return sin(x[0]); });
    u(Op::cos, any_in, [](auto& x) { return cos(x[0]); });
    u(Op::pow_scalar, pos_in, [](auto& x) { return pow(x[0], 2.5); });
    c.push_back({Op::pow_scalar, "pow_scalar integer power, any sign", one(any_in, Shape{3, 4}), {}, [](auto& x) { return pow(x[0], 3.0); }});
    u(Op::add_scalar, any_in, [](auto& x) { return square(x[0] + 0.7); });
    u(Op::mul_scalar, any_in, [](auto& x) { return square(x[0] * -1.3); });
    c.push_back({Op::clamp, "clamp", [](Generator& g) {
                   // values away from both bounds (-0.5 and 0.7)
                   Tensor t = any(g, Shape{3, 4}, -1.0, 1.0);
                   auto v = t.to_vector();
                   for (double& e : v) if (std::abs(e + 0.5) < 0.05 || std::abs(e - 0.7) < 0.05) e += 0.12;
                   return std::vector<Tensor>{Tensor::from_vector(v, Shape{3, 4}, DType::f64)};
                 }, {}, [](auto& x) { return clamp(x[0], -0.5, 0.7) * x[0]; }});
    c.push_back({Op::sign, "sign (zero gradient)", one(away_in, Shape{3, 4}), {}, [](auto& x) { return sign(x[0]); }, false});

    // ---- binary with broadcasting: [3,1,4] with [2,4] --------------------------------------------
    auto pair = [](auto ma, auto mb) {
      return [=](Generator& g) { return std::vector<Tensor>{ma(g, Shape{3, 1, 4}), mb(g, Shape{2, 4})}; };
    };
    c.push_back({Op::add, "add [3,1,4] + [2,4]", pair(any_in, any_in), {}, [](auto& x) { return square(x[0] + x[1]); }});
    c.push_back({Op::sub, "sub [3,1,4] - [2,4]", pair(any_in, any_in), {}, [](auto& x) { return square(x[0] - x[1]); }});
    c.push_back({Op::mul, "mul [3,1,4] * [2,4]", pair(any_in, any_in), {}, [](auto& x) { return x[0] * x[1]; }});
    c.push_back({Op::mul, "mul by a 0-d tensor", [](Generator& g) { return std::vector<Tensor>{any(g, Shape{3, 2}), any(g, Shape{})}; }, {}, [](auto& x) { return x[0] * x[1] * x[0]; }});
    c.push_back({Op::div, "div [3,1,4] / [2,4]", pair(any_in, away_in), {}, [](auto& x) { return x[0] / x[1]; }});
    auto no_ties = [](Generator& g) {
      Tensor a = any(g, Shape{3, 1, 4});
      Tensor b = add(a.slice(0, 0, 2).reshape(Shape{2, 4}), away_from_zero(g, Shape{2, 4}, 0.1, 1.0));
      return std::vector<Tensor>{a, b};
    };
    c.push_back({Op::maximum, "maximum [3,1,4] with [2,4]", no_ties, {}, [](auto& x) { return maximum(x[0], x[1]) * x[0]; }});
    c.push_back({Op::minimum, "minimum [3,1,4] with [2,4]", no_ties, {}, [](auto& x) { return minimum(x[0], x[1]) * x[1]; }});
    for (Op op : {Op::eq, Op::ne, Op::lt, Op::le, Op::gt, Op::ge})
      c.push_back({op, std::string(op_name(op)) + " (mask, no gradient)", pair(any_in, any_in), {},
                   [op](auto& x) { return binary(op, x[0], x[1]); }, false});
    c.push_back({Op::where, "where [3,1] ? [3,4] : [4]", [](Generator& g) {
                   Tensor cond = gt(any(g, Shape{3, 1}), Tensor::scalar(0.0, DType::f64));
                   return std::vector<Tensor>{cond, any(g, Shape{3, 4}), any(g, Shape{4})};
                 }, {false, true, true}, [](auto& x) { return square(where(x[0], x[1], x[2])); }});

    // ---- reductions ------------------------------------------------------------------------------
    c.push_back({Op::sum, "sum over axis 1 of [2,3,4]", one(any_in, Shape{2, 3, 4}), {}, [](auto& x) { return square(sum(x[0], {1})); }});
    c.push_back({Op::sum, "sum over all axes, keepdim", one(any_in, Shape{2, 3}), {}, [](auto& x) { return square(sum(x[0], {}, true)); }});
    c.push_back({Op::max, "max over axes 0,2 of [3,2,4]", one(any_in, Shape{3, 2, 4}), {}, [](auto& x) { return square(max(x[0], {0, 2})); }});
    c.push_back({Op::min, "min over axis -1, keepdim", one(any_in, Shape{3, 4}), {}, [](auto& x) { return square(min(x[0], {-1}, true)); }});

    // ---- matmul ----------------------------------------------------------------------------------
    c.push_back({Op::matmul, "matmul [2,3,4] @ [4,5] (shared weight)", [](Generator& g) { return std::vector<Tensor>{any(g, Shape{2, 3, 4}), any(g, Shape{4, 5})}; }, {}, [](auto& x) { return tanh(matmul(x[0], x[1])); }});
    c.push_back({Op::matmul, "matmul [2,1,3,4] @ [3,4,2] (broadcast batch)", [](Generator& g) { return std::vector<Tensor>{any(g, Shape{2, 1, 3, 4}), any(g, Shape{3, 4, 2})}; }, {}, [](auto& x) { return tanh(matmul(x[0], x[1])); }});
    c.push_back({Op::matmul, "matmul with transposed view and vector", [](Generator& g) { return std::vector<Tensor>{any(g, Shape{4, 3}), any(g, Shape{4})}; }, {}, [](auto& x) { return tanh(matmul(transpose(x[0]), x[1])); }});

    // ---- shape and data movement -----------------------------------------------------------------
    c.push_back({Op::reshape, "reshape [2,3,4] -> [4,6]", one(any_in, Shape{2, 3, 4}), {}, [](auto& x) { return square(reshape(x[0], Shape{4, 6})) * Var(Tensor::arange(6, DType::f64)); }});
    c.push_back({Op::permute, "permute (2,0,1)", one(any_in, Shape{2, 3, 4}), {}, [](auto& x) { return square(permute(x[0], Shape{2, 0, 1})) * Var(Tensor::arange(3, DType::f64)); }});
    c.push_back({Op::slice, "slice rows 1:5:2 of [5,4]", one(any_in, Shape{5, 4}), {}, [](auto& x) { return square(slice(x[0], 0, 1, 5, 2)); }});
    c.push_back({Op::slice_scatter, "slice_scatter [2,4] into rows 1:5:2 of [5,4]", one(any_in, Shape{2, 4}), {}, [](auto& x) { return square(slice_scatter(x[0], Shape{5, 4}, 0, 1, 5, 2)); }});
    c.push_back({Op::broadcast_to, "broadcast [3,1] -> [2,3,4]", one(any_in, Shape{3, 1}), {}, [](auto& x) { return square(broadcast_to(x[0], Shape{2, 3, 4})) * Var(Tensor::arange(4, DType::f64)); }});
    c.push_back({Op::concat, "concat [2,3] and [2,2] on axis 1", [](Generator& g) { return std::vector<Tensor>{any(g, Shape{2, 3}), any(g, Shape{2, 2})}; }, {}, [](auto& x) { return square(concat({x[0], x[1]}, 1)) * Var(Tensor::arange(5, DType::f64)); }});
    c.push_back({Op::index_select, "index_select rows {2,0,2,1} of [4,3]", one(any_in, Shape{4, 3}), {}, [](auto& x) { return square(index_select(x[0], 0, idx({2, 0, 2, 1}, Shape{4}))); }});
    c.push_back({Op::index_add, "index_add [4,3] into 3 rows", one(any_in, Shape{4, 3}), {}, [](auto& x) { return square(index_add(x[0], 0, idx({2, 0, 2, 1}, Shape{4}), 3)); }});
    c.push_back({Op::gather, "gather axis 1 of [3,4]", one(any_in, Shape{3, 4}), {}, [](auto& x) { return square(gather(x[0], 1, idx({3, 0, 1, 1, 2, 3}, Shape{3, 2}))); }});
    c.push_back({Op::scatter_add, "scatter_add [3,2] into [3,4]", one(any_in, Shape{3, 2}), {}, [](auto& x) { return square(scatter_add(x[0], 1, idx({3, 0, 1, 1, 2, 3}, Shape{3, 2}), Shape{3, 4})); }});
    OpCase cast_case{Op::cast, "cast f64 -> f32 -> f64", one(any_in, Shape{3, 4}), {}, [](auto& x) { return cast(square(cast(x[0], DType::f32)), DType::f64); }};
    cast_case.step = 1e-2;  // the f32 leg rounds at 1e-7 relative
    cast_case.tolerance = 1e-4;
    c.push_back(cast_case);
    return c;
  }();
  return cases;
}

const std::vector<OpCase>& composite_cases() {
  static const std::vector<OpCase> cases = [] {
    std::vector<OpCase> c;
    auto add_case = [&](std::string label, Inputs in, Fn fn) { c.push_back({Op::neg, std::move(label), std::move(in), {}, std::move(fn)}); };
    add_case("mean over axis 0", one(any_in, Shape{3, 4}), [](auto& x) { return square(mean(x[0], {0})); });
    add_case("logsumexp over axis 1", one(any_in, Shape{3, 4}), [](auto& x) { return logsumexp(x[0], {1}); });
    add_case("softmax", one(any_in, Shape{3, 4}), [](auto& x) { return softmax(x[0], -1); });
    add_case("log_softmax", one(any_in, Shape{3, 4}), [](auto& x) { return log_softmax(x[0], 0); });
    add_case("stack and select", [](Generator& g) { return std::vector<Tensor>{any(g, Shape{2, 3}), any(g, Shape{2, 3})}; },
             [](auto& x) { return square(select(stack({x[0], x[1]}, 1), 2, 1)); });
    add_case("split", one(any_in, Shape{5, 2}), [](auto& x) { auto p = split(x[0], {2, 3}, 0); return sum(square(p[0])) * sum(p[1]); });
    add_case("mse_loss", [](Generator& g) { return std::vector<Tensor>{any(g, Shape{3, 4}), any(g, Shape{3, 4})}; }, [](auto& x) { return mse_loss(tanh(x[0]), x[1]); });
    add_case("cross_entropy", one(any_in, Shape{4, 3}), [](auto& x) { return cross_entropy(x[0], Tensor::from_indices({0, 2, 1, 2}, Shape{4})); });
    add_case("MLP-like chain", [](Generator& g) { return std::vector<Tensor>{any(g, Shape{5, 3}), any(g, Shape{3, 4}), any(g, Shape{4})}; },
             [](auto& x) { return tanh(matmul(softplus(matmul(x[0], x[1]) + x[2]), transpose(x[1]))); });
    return c;
  }();
  return cases;
}

}  // namespace tide::testing
