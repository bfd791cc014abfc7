// Product-add folding (accumulate.hpp). An add C: A = A + P (or P + A), writing A in place, goes
// with the matmul M that writes P when:
//  - P is a temporary, written whole and contiguously by M, read by C alone, and not returned;
//  - A is a contiguous view of P's shape and dtype, and neither of M's operands lies in A's buffer;
//  - no call between M and C writes either operand's buffer.
// M then runs in C's place as out += its product, into A: its operands hold the values M read, A
// holds what C would have read, and the value C would have written is what M now writes.
// An add C: R = A + P into a result R of its own is made in place first when A is a whole temporary
// that only its maker (the last call before C touching it, a writer) and C use, and R a whole
// temporary of the same size that nothing touches before C: R's readers from C on read A's buffer
// instead (the sums of a gradient's contributions, as grad's sweep records them when neither is
// an accumulator yet). Of two such addends, the one beside a lone product goes in place.
// Trace::adding_outputs, at the end, makes such adds of a trace's outputs into accumulators passed in.
#include "accumulate.hpp"
#include <vector>

namespace tide::detail {
namespace {

bool same_view(const Arg& a, const Arg& b) {
  return a.buffer == b.buffer && a.offset == b.offset && a.shape == b.shape && a.strides == b.strides && a.dtype == b.dtype;
}

bool is_add(const Call& c) { return c.kind == CallKind::binary && c.op == Op::add && c.args.size() == 3; }

// The argument of add C that is its accumulator (the one C writes in place), or -1.
int accumulator_of(const Call& c) {
  if (!is_add(c)) return -1;
  for (int k = 0; k < 2; ++k)
    if (same_view(c.args[static_cast<std::size_t>(k)], c.args[2])) return k;
  return -1;
}

bool writes_between(const Program& p, std::size_t from, std::size_t to, int b, const std::vector<bool>& drop) {
  for (std::size_t j = from + 1; j < to; ++j) {
    if (drop[j]) continue;
    const Call& c = p.calls[j];
    for (std::size_t k = 0; k < c.args.size(); ++k)
      if (c.writes[k] && c.args[k].buffer == b) return true;
  }
  return false;
}

// Whether matmul M (call m) writing product P can add into accumulator A at add call c instead.
bool foldable(const Program& p, std::size_t m, std::size_t c, const Arg& product, const Arg& acc, const std::vector<bool>& drop) {
  const Call& mm = p.calls[m];
  if (mm.kind != CallKind::matmul || mm.accumulate || mm.args.size() != 3 || !same_view(mm.args[2], product)) return false;
  for (std::size_t k = 0; k < 2; ++k) {
    const int b = mm.args[k].buffer;
    if (b == acc.buffer || b == product.buffer || (b >= 0 && writes_between(p, m, c, b, drop))) return false;
  }
  return true;
}

// Whether call w writes buffer b.
bool writes_buffer(const Call& w, int b) {
  for (std::size_t k = 0; k < w.args.size(); ++k)
    if (w.writes[k] && w.args[k].buffer == b) return true;
  return false;
}

// Whether add C (call c) may write its addend a in place of its result r: a is a whole temporary
// of r's shape and dtype, used twice, by the last call before C touching it (which writes it: its
// maker) and by C, and it is neither C's other addend nor a view of r.
bool can_take(const Program& p, std::size_t c, std::size_t k, const std::vector<int>& uses, const std::vector<bool>& drop) {
  const Call& add = p.calls[c];
  const Arg &a = add.args[k], &other = add.args[1 - k], &r = add.args[2];
  if (!whole_temp(p, a) || a.buffer == r.buffer || a.buffer == other.buffer || other.buffer == r.buffer ||
      uses[static_cast<std::size_t>(a.buffer)] != 2 || !(a.shape == r.shape) || a.dtype != r.dtype)
    return false;
  const std::size_t maker = last_toucher(p, c, a.buffer, drop);
  return maker != c && writes_buffer(p.calls[maker], a.buffer);
}

// Whether the addend is a product a matmul alone made for this add (then the other addend should
// be the one written in place, for the product to fold into it).
bool lone_product(const Program& p, std::size_t c, const Arg& x, const std::vector<int>& uses, const std::vector<bool>& drop) {
  if (!whole_temp(p, x) || uses[static_cast<std::size_t>(x.buffer)] != 2) return false;
  const std::size_t m = last_toucher(p, c, x.buffer, drop);
  return m != c && p.calls[m].kind == CallKind::matmul && !p.calls[m].accumulate;
}

// Makes add C (R = A + P) write A in place, as the header says, when it can; returns whether it did.
// The addend beside a lone product is tried first.
bool make_in_place(Program& p, std::size_t c, const std::vector<int>& uses, const std::vector<bool>& drop) {
  const Call& add = p.calls[c];
  const Arg& r = add.args[2];
  if (!whole_temp(p, r) || last_toucher(p, c, r.buffer, drop) != c) return false;
  const std::size_t first = lone_product(p, c, add.args[0], uses, drop) ? 1 : 0;
  for (std::size_t k : {first, 1 - first}) {
    if (!can_take(p, c, k, uses, drop)) continue;
    const int from = r.buffer, to = add.args[k].buffer;
    for (std::size_t j = c; j < p.calls.size(); ++j)
      for (Arg& x : p.calls[j].args)
        if (x.buffer == from) x.buffer = to;
    for (Arg& x : p.outputs)
      if (x.buffer == from) x.buffer = to;
    return true;
  }
  return false;
}

// Whether the product P an add reads is a whole temporary that only its maker and the add use,
// laid out as the accumulator A.
bool product_alone(const Program& p, const Arg& product, const Arg& acc, const std::vector<int>& uses) {
  return whole_temp(p, product) && product.buffer != acc.buffer && uses[static_cast<std::size_t>(product.buffer)] == 2 &&
         contiguous_arg(acc) && acc.shape == product.shape && acc.dtype == product.dtype;
}

}  // namespace

int fold_product_adds(Program& p) {
  std::vector<int> uses = use_counts(p);
  std::vector<bool> drop(p.calls.size(), false);
  for (std::size_t c = 0; c < p.calls.size(); ++c) {
    if (is_add(p.calls[c]) && accumulator_of(p.calls[c]) < 0 && make_in_place(p, c, uses, drop)) uses = use_counts(p);
    const int k = accumulator_of(p.calls[c]);
    if (k < 0) continue;
    const Arg acc = p.calls[c].args[static_cast<std::size_t>(k)];
    const Arg product = p.calls[c].args[static_cast<std::size_t>(1 - k)];
    if (!product_alone(p, product, acc, uses)) continue;
    const std::size_t m = last_toucher(p, c, product.buffer, drop);
    if (m == c || !foldable(p, m, c, product, acc, drop)) continue;
    Call fused = std::move(p.calls[m]);
    fused.accumulate = true;
    fused.args[2] = acc;  // product's shape: the same
    p.calls[c] = std::move(fused);
    drop[m] = true;
  }
  return drop_calls(p, drop);
}

}  // namespace tide::detail

namespace tide {

// Each output from first_output on becomes an add into a new input of its layout, appended after
// the calls (plan.hpp); the plan's folding pass then moves a product's add into its GEMM.
Trace Trace::adding_outputs(int first_output) const {
  using namespace detail;
  if (!program_) fail("Trace::adding_outputs: the trace is empty");
  const Program& p = *program_;
  if (first_output < 0 || first_output > static_cast<int>(p.outputs.size()))
    fail("Trace::adding_outputs: output {} outside the trace's {} outputs", first_output, p.outputs.size());
  auto q = std::make_shared<Program>(p);
  for (std::size_t o = static_cast<std::size_t>(first_output); o < p.outputs.size(); ++o) {
    const Arg& out = p.outputs[o];
    Buffer acc;
    acc.kind = BufferKind::input;
    acc.input = q->n_inputs++;
    acc.dtype = out.dtype;
    acc.device = p.buffers[static_cast<std::size_t>(out.buffer)].device;
    acc.numel = numel_of(out);
    acc.shape = out.shape;
    Arg whole;
    whole.buffer = static_cast<int>(q->buffers.size());
    whole.shape = out.shape;
    whole.strides = contiguous_strides(out.shape);
    whole.dtype = out.dtype;
    q->buffers.push_back(std::move(acc));
    Call add;
    add.kind = CallKind::binary;
    add.op = Op::add;
    add.args = {whole, out, whole};
    add.writes = {false, false, true};
    q->calls.push_back(std::move(add));
  }
  q->outputs.resize(static_cast<std::size_t>(first_output));
  return Trace(std::move(q));
}

}  // namespace tide
