// Compiled plans' split into an early and a late part, and the passes that rewrite a trace (plan.hpp):
// updates in place joining fused chains, dead calls dropped, copies into parts written in place or
// elided, fills dropped, products' adds folded into their GEMMs, values computed twice kept once.
// Each replays equal to eager.
#include "tide/core/plan.hpp"
#include "tide/tide.hpp"
#include "plan_test_util.hpp"
#include <doctest/doctest.h>
#include <cmath>
#include <string>

using namespace tide;
using test::check_equal;
using test::seq;

TEST_CASE("split: the early part returns residuals, the late part finishes with the late inputs") {
  const Tensor w = seq(Shape{6, 6}, 0.4, 0.5, DType::f64);
  // y = tanh(x w); the late input g gives dx = (g * (1 - y^2)) w^T
  TensorFunction fn = [&](const std::vector<Tensor>& in) {
    const Tensor y = tanh(matmul(in[0], w));
    const Tensor dx = matmul(in[1] * add_scalar(neg(y * y), 1.0), w.transpose());
    return std::vector<Tensor>{y, dx};
  };
  const Tensor x = seq(Shape{3, 6}, 1.0, 0.0, DType::f64), g = seq(Shape{3, 6}, 1.0, 0.7, DType::f64);
  const Trace::Split parts = Trace::record(fn, {x, g}).split(1, 1);
  CHECK(parts.residuals >= 1);
  CHECK(parts.early.inputs() == 1);
  CHECK(parts.late.inputs() == parts.residuals + 1);
  const Plan early(parts.early), late(parts.late);
  const Tensor x2 = seq(Shape{3, 6}, 0.8, 1.0, DType::f64), g2 = seq(Shape{3, 6}, 1.5, 0.1, DType::f64);
  auto out = early.run({x2});
  const auto want = fn({x2, g2});
  check_equal(out[0], want[0], 1e-15);
  std::vector<Tensor> late_in(out.begin() + 1, out.end());
  late_in.push_back(g2);
  check_equal(late.run(late_in)[0], want[1], 1e-14);
}

TEST_CASE("split: zeros made early and added into late are filled again by the late part, not carried as a residual") {
  // grad's sweep makes a slice's gradient this way: zeros before the cotangent, the slice added in later
  TensorFunction fn = [](const std::vector<Tensor>& in) {
    const Tensor y = tanh(in[0]);
    Tensor acc = Tensor::zeros(Shape{3, 8}, DType::f64);
    acc.slice(1, 2, 6).add_(in[1] * y);
    return std::vector<Tensor>{y, acc};
  };
  const Tensor x = seq(Shape{3, 4}, 1.0, 0.0, DType::f64), g = seq(Shape{3, 4}, 1.0, 0.7, DType::f64);
  const Trace::Split parts = Trace::record(fn, {x, g}).split(1, 1);
  CHECK(parts.residuals == 1);  // y alone
  const Plan early(parts.early), late(parts.late);
  const auto want = fn({x, g});
  auto out = early.run({x});
  REQUIRE(out.size() == 2);
  check_equal(out[0], want[0], 0.0);
  for (int run = 0; run < 2; ++run) {  // each run starts from zeros
    CAPTURE(run);
    check_equal(late.run({out[1], g})[0], want[1], 0.0);
  }
}

TEST_CASE("split: a write into a late input from early values runs in the late part") {
  // the write needs the late input's buffer, which the early part does not have; a whole write and
  // one into some columns, the late input's other columns still read
  for (const bool whole : {true, false}) {
    CAPTURE(whole);
    TensorFunction fn = [whole](const std::vector<Tensor>& in) {
      const Tensor y = tanh(in[0]);
      Tensor late = in[1];
      (whole ? late : late.slice(1, 1, 3)).copy_(whole ? y : y.slice(1, 0, 2));
      return std::vector<Tensor>{y, late * 2.0};
    };
    const Tensor x = seq(Shape{3, 4}, 1.0, 0.0, DType::f64), g = seq(Shape{3, 4}, 1.0, 0.7, DType::f64);
    const Trace::Split parts = Trace::record(fn, {x, g}).split(1, 1);
    const Plan early(parts.early), late(parts.late);
    const Tensor x2 = seq(Shape{3, 4}, 0.8, 1.0, DType::f64), g2 = seq(Shape{3, 4}, 1.5, 0.1, DType::f64);
    const auto want = fn({x2, g2.clone()});
    auto out = early.run({x2});
    check_equal(out[0], want[0], 0.0);
    std::vector<Tensor> late_in(out.begin() + 1, out.end());
    late_in.push_back(g2);
    check_equal(late.run(late_in)[0], want[1], 0.0);
  }
}

TEST_CASE("split: an early output written after a late call read it is refused, naming the output") {
  // the write must follow the late read, so it runs late, and the early part cannot return its value
  TensorFunction fn = [](const std::vector<Tensor>& in) {
    Tensor t = in[0] * 2.0;
    const Tensor y = t * in[1];  // late, reads t
    t.mul_(3.0);                 // early values only, but after the late read
    return std::vector<Tensor>{t, y};
  };
  const Tensor x = seq(Shape{2, 3}, 1.0, 0.0, DType::f64), g = seq(Shape{2, 3}, 1.0, 0.7, DType::f64);
  const Trace trace = Trace::record(fn, {x, g});
  CHECK_THROWS_WITH_AS(trace.split(1, 1), doctest::Contains("early output 0"), Error);
  CHECK_NOTHROW(trace.split(1, 0));  // both outputs late: nothing to refuse
}

TEST_CASE("updates in place join a fused chain only where every member reads the buffer in one layout") {
  for (std::int64_t n : {3, 700}) {  // one block, and several blocks of the CPU's 512
    CAPTURE(n);
    // a gradient accumulated twice, then read: one chain
    TensorFunction accumulate = [](const std::vector<Tensor>& in) {
      Tensor acc = exp(in[0]);
      const Tensor t = tanh(in[1]);
      acc.add_(t * 2.0);
      acc.add_(square(t));
      return std::vector<Tensor>{acc * in[1]};
    };
    const Tensor x = seq(Shape{n, 1024}, 1.0, 0.0, DType::f64), y = seq(Shape{n, 1024}, 0.8, 0.4, DType::f64);
    const Plan plan(Trace::record(accumulate, {x, y}));
    CHECK(plan.stats().calls == 1);
    check_equal(plan.run({y, x})[0], accumulate({y, x})[0], 1e-15);
    // row 0 read broadcast (a period of 1024, read in place) before the update: fused, later blocks
    // would read row 0 already updated
    TensorFunction broadcast_first = [](const std::vector<Tensor>& in) {
      Tensor acc = exp(in[0]);
      const Tensor u = tanh(in[1]) * acc.slice(0, 0, 1);
      acc.add_(u);
      return std::vector<Tensor>{acc * 1.5};
    };
    const Plan guarded(Trace::record(broadcast_first, {x, y}));
    for (int run = 0; run < 2; ++run) check_equal(guarded.run({y, x})[0], broadcast_first({y, x})[0], 1e-15);
  }
}

TEST_CASE("a plan drops calls whose writes nothing later reads or returns, chains of them included") {
  TensorFunction fn = [](const std::vector<Tensor>& in) {
    const Tensor unused = Tensor::zeros(Shape{3, 4}, DType::f64);  // made, never read
    const Tensor dead = exp(in[0]) * 2.0;                          // read only by a dead call
    const Tensor dead2 = dead + 1.0;
    Tensor kept = Tensor::zeros(Shape{3, 4}, DType::f64);
    kept.slice(1, 0, 2).add_(tanh(in[0]).slice(1, 0, 2));  // a partial write keeps the zeros before it
    return std::vector<Tensor>{kept};
  };
  const Tensor x = seq(Shape{3, 4}, 1.0, 0.0, DType::f64);
  const Plan plan(Trace::record(fn, {x}));
  CHECK(plan.stats().dead_calls == 4);  // the unused fill, exp, the scaling, the + 1
  const Tensor x2 = seq(Shape{3, 4}, 0.7, 0.3, DType::f64);
  for (int run = 0; run < 2; ++run) check_equal(plan.run({x2})[0], fn({x2})[0], 0.0);
}

TEST_CASE("copies into parts of a result are written in place; a result written whole in parts needs no starting value") {
  TensorFunction fn = [](const std::vector<Tensor>& in) {
    const Tensor a = tanh(in[0]), b = exp(in[0]) * 2.0;
    return std::vector<Tensor>{concat(std::vector<Tensor>{a, b}, 0) + 1.0};  // both pieces computed straight into the result
  };
  const Tensor x = seq(Shape{3, 4}, 1.0, 0.0, DType::f64), x2 = seq(Shape{3, 4}, 0.6, 0.4, DType::f64);
  const Plan plan(Trace::record(fn, {x}));
  CHECK(plan.stats().elided_copies == 2);
  CHECK(plan.stats().initialised == 0);  // concat's result is empty until its pieces are written
  for (int run = 0; run < 2; ++run) check_equal(plan.run({x2})[0], fn({x2})[0], 0.0);
}

TEST_CASE("a result returned as its parts were written needs no starting value; one written in part keeps it") {
  // a packed Runge-Kutta step's shape: side-by-side pieces (row-strided parts), the last piece's
  // copy the traced function's last call, its result returned as it is
  TensorFunction whole = [](const std::vector<Tensor>& in) {
    return std::vector<Tensor>{concat(std::vector<Tensor>{tanh(in[0]), exp(in[0]) * 2.0, in[0] * 3.0}, 1)};
  };
  TensorFunction part = [](const std::vector<Tensor>& in) {
    Tensor r = Tensor::from_vector(std::vector<double>(24, 0.5), Shape{3, 8}, DType::f64);  // made on the host
    r.slice(1, 0, 4).copy_(tanh(in[0]));  // the rest keeps its 0.5
    return std::vector<Tensor>{r};
  };
  const Tensor x = seq(Shape{3, 4}, 1.0, 0.0, DType::f64), x2 = seq(Shape{3, 4}, 0.6, 0.4, DType::f64);
  const Plan plan(Trace::record(whole, {x}));
  CHECK(plan.stats().initialised == 0);
  for (int run = 0; run < 2; ++run) check_equal(plan.run({x2})[0], whole({x2})[0], 0.0);
  const Plan kept(Trace::record(part, {x}));
  CHECK(kept.stats().initialised == 1);
  for (int run = 0; run < 2; ++run) check_equal(kept.run({x2})[0], part({x2})[0], 0.0);
  // the same made inside: an arena buffer, given its starting value at each run (rank 2, rank 3)
  for (const Shape& s : {Shape{3, 8}, Shape{3, 2, 4}}) {
    CAPTURE(s.str());
    TensorFunction inside = [s](const std::vector<Tensor>& in) {
      std::vector<double> start(24);
      for (std::size_t i = 0; i < start.size(); ++i) start[i] = 0.25 * static_cast<double>(i);
      Tensor r = Tensor::from_vector(start, Shape{3, 8}, DType::f64);
      r.slice(1, 0, 4).copy_(tanh(in[0]));
      return std::vector<Tensor>{exp(r.reshape(s)) * 2.0};
    };
    const Plan arena(Trace::record(inside, {x}));
    CHECK(arena.stats().initialised == 1);
    for (int run = 0; run < 2; ++run) check_equal(arena.run({x2})[0], inside({x2})[0], 0.0);
  }
}

TEST_CASE("an input sharing storage with a tensor the function reads by reference is still an input of its own") {
  const Tensor p = seq(Shape{4, 3}, 1.0, 0.3, DType::f64);  // a parameter the function holds
  TensorFunction same = [&p](const std::vector<Tensor>& in) { return std::vector<Tensor>{in[0] + p}; };
  TensorFunction part = [&p](const std::vector<Tensor>& in) { return std::vector<Tensor>{sum(in[0]) + sum(p)}; };
  const Plan a(Trace::record(same, {p}));                 // traced with the parameter itself
  const Plan b(Trace::record(part, {p.slice(0, 2, 4)}));  // and with a view into it
  const Tensor x2 = seq(Shape{4, 3}, 0.6, 0.4, DType::f64), y2 = seq(Shape{2, 3}, 0.6, 0.9, DType::f64);
  check_equal(a.run({x2})[0], same({x2})[0], 0.0);
  check_equal(b.run({y2})[0], part({y2})[0], 1e-15);
  // a function that writes into its input while traced leaves the caller's tensor alone, as a replay does
  const Tensor kept = p.clone();
  TensorFunction writes = [](const std::vector<Tensor>& in) {
    Tensor x = in[0];
    x.mul_(2.0);
    return std::vector<Tensor>{x + 1.0};
  };
  const Plan c(Trace::record(writes, {kept}));
  check_equal(kept, p, 0.0);
  check_equal(c.run({x2})[0], x2 * 2.0 + 1.0, 0.0);
}

TEST_CASE("a fill that later writes cover before any read goes; one partly covered, or read first, stays") {
  // a split's gradient: zeros, then each part's gradient copied into its columns; read afterwards
  // (not returned), so its buffer is an arena one that other values have used
  struct Case {
    std::int64_t second_from, second_width;
    bool read_first, dropped;
  };
  const Case cases[] = {{4, 4, false, true},    // columns 0-3 and 4-7
                        {4, 3, false, false},   // column 7 never written
                        {3, 4, false, false},   // 0-3 and 3-6: as many writes as elements, column 7 missed
                        {4, 4, true, false}};   // read before the parts are written
  const Tensor x = seq(Shape{3, 4}, 1.0, 0.0, DType::f64), x2 = seq(Shape{3, 4}, 0.6, 0.4, DType::f64);
  for (const Case& k : cases) {
    INFO("second part at " << k.second_from << " width " << k.second_width << ", read first " << k.read_first);
    TensorFunction fn = [&](const std::vector<Tensor>& in) {
      Tensor g = Tensor::zeros(Shape{3, 8}, DType::f64);
      const Tensor early = k.read_first ? g * 2.0 : Tensor();
      g.slice(1, 0, 4).copy_(tanh(in[0]));
      g.slice(1, k.second_from, k.second_from + k.second_width).copy_((in[0] * 3.0).slice(1, 0, k.second_width));
      std::vector<Tensor> out{g * 1.5, exp(in[0]) * 2.0};  // exp: another arena value
      if (k.read_first) out.push_back(early);
      return out;
    };
    const Plan plan(Trace::record(fn, {x}));
    CHECK((plan.listing().find("fill") == std::string::npos) == k.dropped);
    for (int run = 0; run < 2; ++run) {
      const std::vector<Tensor> got = plan.run({x2}), want = fn({x2});
      for (std::size_t i = 0; i < got.size(); ++i) check_equal(got[i], want[i], 0.0);
    }
  }
}

TEST_CASE("a product added in place into an accumulator folds into one matmul_add, unless its operands change before the add") {
  // a weight's gradient summed over its uses, as grad's sweep records it: acc += x_i^T g
  TensorFunction fn = [](const std::vector<Tensor>& in) {
    Tensor acc = matmul(in[0], in[1]);
    for (int i = 0; i < 3; ++i) acc.add_(matmul(in[0] * static_cast<double>(i + 2), in[1]));  // three folds
    Tensor other = matmul(in[1].transpose(), in[0].transpose());
    other.add_(matmul(in[1].transpose(), in[0].transpose()));  // a fold, of transposed operands
    Tensor square = matmul(in[0].transpose(), in[0]);
    square.add_(matmul(square, square));  // the operands lie in the accumulator: stays
    const Tensor kept = matmul(in[0], in[1]);
    acc.add_(kept);  // kept is read again below: stays a matmul and an add
    Tensor x = in[0] * 1.5;
    const Tensor later = matmul(x, in[1]);
    x.mul_(2.0);  // the operand changes between the product and its add: stays
    acc.add_(later);
    return std::vector<Tensor>{acc, kept * 2.0, other, x, square};
  };
  for (DType dtype : {DType::f64, DType::f32}) {
    const Tensor x = seq(Shape{5, 4}, 0.3, 0.1, dtype), w = seq(Shape{4, 3}, -0.2, 0.05, dtype);
    const Plan plan(Trace::record(fn, {x, w}));
    CHECK(plan.stats().folded_adds == 4);
    CHECK(plan.listing().find("matmul_add") != std::string::npos);
    const Tensor x2 = seq(Shape{5, 4}, -0.4, 0.07, dtype), w2 = seq(Shape{4, 3}, 0.6, -0.03, dtype);
    const double tol = dtype == DType::f64 ? 1e-13 : 1e-5;  // a GEMM with beta = 1 adds in its own order
    for (int run = 0; run < 2; ++run) {
      const std::vector<Tensor> got = plan.run({x2, w2}), want = fn({x2, w2});
      for (std::size_t i = 0; i < got.size(); ++i) check_equal(got[i], want[i], tol);
    }
  }
}

TEST_CASE("a copy of a block of a product goes: the product computes the block alone, unless the rest is read") {
  // a concat's gradient cut into its parts (x's and the state's), only one of which is wanted
  TensorFunction fn = [](const std::vector<Tensor>& in) {
    const Tensor cols = matmul(in[0], in[1]).slice(1, 2, 6, 1).contiguous();         // narrowed: columns 2..5
    const Tensor block = matmul(in[0] * 2.0, in[1]).slice(0, 1, 4, 1).slice(1, 1, 3, 1).contiguous();  // narrowed: a block
    const Tensor whole = matmul(in[0], in[1] * 3.0);
    const Tensor part = whole.slice(1, 0, 2, 1).contiguous();                         // stays: whole is read again
    return std::vector<Tensor>{cols * 1.5, block - 1.0, part + whole.slice(1, 4, 6, 1)};
  };
  for (DType dtype : {DType::f64, DType::f32}) {
    const Tensor x = seq(Shape{5, 4}, 0.3, 0.1, dtype), w = seq(Shape{4, 7}, -0.2, 0.05, dtype);
    const Plan plan(Trace::record(fn, {x, w}));
    CHECK(plan.stats().narrowed_products == 2);
    const Tensor x2 = seq(Shape{5, 4}, -0.4, 0.07, dtype), w2 = seq(Shape{4, 7}, 0.6, -0.03, dtype);
    const double tol = dtype == DType::f64 ? 1e-14 : 1e-6;
    for (int run = 0; run < 2; ++run) {
      const std::vector<Tensor> got = plan.run({x2, w2}), want = fn({x2, w2});
      for (std::size_t i = 0; i < got.size(); ++i) check_equal(got[i], want[i], tol);
    }
  }
}

TEST_CASE("a trace's outputs added into accumulators passed in: a product's add goes into its GEMM, the caller's tensors written in place") {
  // a step's weight and bias gradients, as a compiled backward returns them, and its input's
  TensorFunction fn = [](const std::vector<Tensor>& in) {
    const Tensor h = tanh(matmul(in[0], in[1]));
    return std::vector<Tensor>{h * 2.0, matmul(in[0].transpose(), h), sum(h, {0})};
  };
  for (DType dtype : {DType::f64, DType::f32}) {
    const Tensor x = seq(Shape{5, 4}, 0.3, 0.1, dtype), w = seq(Shape{4, 3}, -0.2, 0.05, dtype);
    const Trace adding = Trace::record(fn, {x, w}).adding_outputs(1);
    CHECK(adding.inputs() == 4);
    CHECK(adding.outputs() == 1);
    PlanOptions in_place;
    in_place.in_place_inputs_from = 2;
    const Plan plan(adding, in_place);
    CHECK(plan.stats().folded_adds == 1);  // the product's; the column sums are added by an add
    const double tol = dtype == DType::f64 ? 1e-13 : 1e-5;
    const Tensor acc_w = seq(Shape{4, 3}, 0.5, -0.02, dtype), acc_b = seq(Shape{3}, -0.1, 0.3, dtype);
    const Tensor start_w = acc_w.clone(), start_b = acc_b.clone();
    const std::vector<Tensor> want = fn({x, w});
    for (int run = 1; run <= 2; ++run) {  // each run adds once more
      const std::vector<Tensor> got = plan.run({x, w}, std::vector<Tensor>{acc_w, acc_b});
      REQUIRE(got.size() == 1);
      check_equal(got[0], want[0], tol);
      check_equal(acc_w, start_w + want[1] * static_cast<double>(run), tol);
      check_equal(acc_b, start_b + want[2] * static_cast<double>(run), tol);
    }
    // without in_place_inputs_from the run adds into its own copies: the caller's stay as they were
    const Plan copying(adding);
    const Tensor before = acc_w.clone();
    copying.run({x, w, acc_w, acc_b});
    check_equal(acc_w, before, 0.0);
    // an accumulator written in place must be contiguous
    const Tensor strided = seq(Shape{3, 4}, 0.1, 0.1, dtype).transpose();
    CHECK_THROWS_WITH_AS(plan.run({x, w}, std::vector<Tensor>{strided, acc_b}),
                         doctest::Contains("input 2 is written in place and must be contiguous"), Error);
    // and must not share storage with another input
    const Tensor w_too = w.clone();
    CHECK_THROWS_WITH_AS(plan.run({x, w_too}, std::vector<Tensor>{w_too, acc_b}),
                         doctest::Contains("input 2 is written in place and shares storage with input 1"), Error);
  }
  CHECK_THROWS_WITH_AS(Trace::record(fn, {seq(Shape{5, 4}, 0.3, 0.1, DType::f64), seq(Shape{4, 3}, 0.3, 0.1, DType::f64)}).adding_outputs(4),
                       doctest::Contains("output 4 outside the trace's 3 outputs"), Error);
}

TEST_CASE("an add into a result of its own folds too, where one addend is a temporary the add reads last") {
  // a gradient's two contributions summed into a new tensor: r = a + x w, with a dead after the add
  TensorFunction fn = [](const std::vector<Tensor>& in) {
    const Tensor a = matmul(in[0], in[1]);
    const Tensor r = a + matmul(in[0] * 1.5, in[1]);  // folds: the product is added into a's buffer
    const Tensor t = sin(matmul(in[0] * 0.75, in[1]));
    const Tensor r2 = matmul(in[0] * 3.0, in[1]) + t;  // the product first: folds into t's buffer
    const Tensor u = matmul(in[0] * 2.5, in[1]);
    const Tensor r3 = u + matmul(in[0] * 0.25, in[1]);  // u is read again below: not written in place
    const Tensor b = sin(matmul(in[0] * 0.5, in[1]));
    const Tensor kept = matmul(in[0] * 2.0, in[1]) + b;  // b is read again below: stays an add
    return std::vector<Tensor>{matmul(r, in[1].transpose()), kept, b, r2 * 1.0, r3, cos(u)};
  };
  for (DType dtype : {DType::f64, DType::f32}) {
    const Tensor x = seq(Shape{5, 4}, 0.3, 0.1, dtype), w = seq(Shape{4, 3}, -0.2, 0.05, dtype);
    const Plan plan(Trace::record(fn, {x, w}));
    CHECK(plan.stats().folded_adds == 2);
    const Tensor x2 = seq(Shape{5, 4}, -0.4, 0.07, dtype), w2 = seq(Shape{4, 3}, 0.6, -0.03, dtype);
    const double tol = dtype == DType::f64 ? 1e-13 : 1e-5;
    for (int run = 0; run < 2; ++run) {
      const std::vector<Tensor> got = plan.run({x2, w2}), want = fn({x2, w2});
      for (std::size_t i = 0; i < got.size(); ++i) check_equal(got[i], want[i], tol);
    }
  }
}

TEST_CASE("a value computed twice is kept once where one of the two is kept anyway; never two returned tensors in one") {
  TensorFunction fn = [](const std::vector<Tensor>& in) {
    const Tensor y = tanh(matmul(in[0], in[1]));
    const Tensor s = -square(y) + 1.0;                  // kept: a matmul reads it
    const Tensor h = matmul(s, in[1].transpose());
    const Tensor s_again = -square(y) + 1.0;            // the same value: read from s instead
    const Tensor g = matmul(h, in[1]) * s_again;
    const Tensor c1 = sum(g, {0}), c2 = sum(g, {0});     // column sums taken twice: one goes
    const Tensor e1 = exp(in[0]) * 2.0;                  // exp(x) twice inside fused passes: computed twice
    const Tensor e2 = matmul(e1, in[1]) * exp(in[0]).slice(1, 0, 3);
    // never merged: other axes, other parameters, a value that changes between its two reads
    const Tensor r0 = sum(g, {0}), r1 = sum(g, {1});
    const Tensor p2 = matmul(pow(y, 2.0), in[1].transpose()), p3 = matmul(pow(y, 3.0), in[1].transpose());
    Tensor t = exp(y);
    const Tensor t1 = sum(t, {0});
    t.add_(Tensor::ones(t.shape(), t.dtype()));
    const Tensor t2 = sum(t, {0});
    return std::vector<Tensor>{g + 1.0, c1 * c2, e2, cos(y), cos(y), s_again, r0, r1, p2 - p3, t1 - t2};
  };
  for (DType dtype : {DType::f64, DType::f32}) {
    const Tensor x = seq(Shape{5, 4}, 0.3, 0.1, dtype), w = seq(Shape{4, 3}, -0.2, 0.05, dtype);
    const Tensor x2 = seq(Shape{5, 4}, -0.4, 0.07, dtype), w2 = seq(Shape{4, 3}, 0.6, -0.03, dtype);
    for (int shared_from : {-1, 3}) {
      PlanOptions options;
      options.shared_outputs_from = shared_from;
      const Plan plan(Trace::record(fn, {x, w}), options);
      // 1 - y^2 (its last op: the two before it are read by fused ops alone), the column sums c2 and
      // r0 into c1; the two cos(y) only as residuals (both from index 3)
      CHECK(plan.stats().merged_values == (shared_from < 0 ? 3 : 4));
      for (int run = 0; run < 2; ++run) {
        const std::vector<Tensor> got = plan.run({x2, w2}), want = fn({x2, w2});
        for (std::size_t i = 0; i < got.size(); ++i) check_equal(got[i], want[i], 0.0);  // the same kernels: bit for bit
        if (shared_from < 0) {  // returned tensors of their own: writing one leaves the other
          Tensor first = got[3];
          first.mul_(0.0);
          check_equal(got[4], want[4], 0.0);
        }
      }
    }
  }
}

TEST_CASE("a chain of copies (a clone then concat) is elided link by link, into the final part") {
  TensorFunction fn = [](const std::vector<Tensor>& in) {
    const Tensor a = index_select(in[0], 0, in[1]);
    const Tensor b = a.clone();  // copied again by concat: both copies go, index_select writes the part
    return std::vector<Tensor>{concat(std::vector<Tensor>{in[0] * 2.0, b}, 0) + 1.0};
  };
  const Tensor x = seq(Shape{3, 4}, 1.0, 0.0, DType::f64), x2 = seq(Shape{3, 4}, 0.6, 0.4, DType::f64);
  const Tensor idx = Tensor::from_indices({2, 0, 1}, Shape{3}), idx2 = Tensor::from_indices({1, 1, 0}, Shape{3});
  const Plan plan(Trace::record(fn, {x, idx}));
  CHECK(plan.stats().elided_copies == 3);
  for (int run = 0; run < 2; ++run) check_equal(plan.run({x2, idx2})[0], fn({x2, idx2})[0], 0.0);
}

TEST_CASE("a copy stays where its destination is read, or written over, between the source's write and the copy") {
  TensorFunction read_between = [](const std::vector<Tensor>& in) {
    const Tensor t = sin(in[0]);
    Tensor u = Tensor::ones(Shape{2, 3, 4}, DType::f64);
    const Tensor before = sum(u, {0}) * 1.0;  // reads the part t goes to, while it still holds ones
    u.select(0, 1).copy_(t);
    return std::vector<Tensor>{before, u * 1.0};
  };
  TensorFunction written_between = [](const std::vector<Tensor>& in) {
    const Tensor t = sin(in[0]);
    Tensor u = Tensor::empty(Shape{2, 3, 4}, DType::f64);
    u.select(0, 1).fill_(5.0);  // written over by the copy below
    u.select(0, 0).copy_(cos(in[0]));
    u.select(0, 1).copy_(t);
    return std::vector<Tensor>{u * 1.0};
  };
  const Tensor x = seq(Shape{3, 4}, 1.0, 0.0, DType::f64), x2 = seq(Shape{3, 4}, 0.6, 0.4, DType::f64);
  for (const TensorFunction& fn : {read_between, written_between}) {
    const Plan plan(Trace::record(fn, {x}));
    const std::vector<Tensor> want = fn({x2});
    for (int run = 0; run < 2; ++run) {
      const std::vector<Tensor> got = plan.run({x2});
      for (std::size_t k = 0; k < want.size(); ++k) check_equal(got[k], want[k], 0.0);
    }
  }
}
