// Product-add folding (accumulate.hpp). An add C: A = A + P (or P + A), writing A in place, goes
// with the matmul M that writes P when:
//  - P is a temporary, written whole and contiguously by M, read by C alone, and not returned;
//  - A is a contiguous view of P's shape and dtype, and neither of M's operands lies in A's buffer;
//  - no call between M and C writes either operand's buffer.
// M then runs in C's place as out += its product, into A: its operands hold the values M read, A
// holds what C would have read, and the value C would have written is what M now writes.
#include "accumulate.hpp"
#include <vector>

namespace tide::detail {
namespace {

bool same_view(const Arg& a, const Arg& b) {
  return a.buffer == b.buffer && a.offset == b.offset && a.shape == b.shape && a.strides == b.strides && a.dtype == b.dtype;
}

// The argument of add C that is its accumulator (the one C writes in place), or -1.
int accumulator_of(const Call& c) {
  if (c.kind != CallKind::binary || c.op != Op::add || c.args.size() != 3) return -1;
  for (int k = 0; k < 2; ++k)
    if (same_view(c.args[static_cast<std::size_t>(k)], c.args[2])) return k;
  return -1;
}

// The last call before `at`, not dropped, touching buffer b (at itself when none).
std::size_t last_toucher(const Program& p, std::size_t at, int b, const std::vector<bool>& drop) {
  for (std::size_t w = at; w-- > 0;) {
    if (drop[w]) continue;
    for (const Arg& a : p.calls[w].args)
      if (a.buffer == b) return w;
  }
  return at;
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

}  // namespace

int fold_product_adds(Program& p) {
  const std::vector<int> uses = use_counts(p);
  std::vector<bool> drop(p.calls.size(), false);
  for (std::size_t c = 0; c < p.calls.size(); ++c) {
    const int k = accumulator_of(p.calls[c]);
    if (k < 0) continue;
    const Arg acc = p.calls[c].args[static_cast<std::size_t>(k)];
    const Arg product = p.calls[c].args[static_cast<std::size_t>(1 - k)];
    if (!temp(p, product.buffer) || product.buffer == acc.buffer || uses[static_cast<std::size_t>(product.buffer)] != 2 ||
        product.offset != 0 || numel_of(product) != p.buffers[static_cast<std::size_t>(product.buffer)].numel ||
        !contiguous_arg(product) || !contiguous_arg(acc) || !(acc.shape == product.shape) || acc.dtype != product.dtype)
      continue;
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
