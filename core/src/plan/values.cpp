// Equal-value merging (values.hpp), by value numbering. A buffer no call writes (an input, a
// constant) is a value of its own. A temporary written whole, by one pure call and no other, is the
// value of that call's key: its kind, op and parameters, and per argument the value read and the
// view it is read through (the written view, too). Two temporaries of one key hold the same
// elements: the kernels are deterministic. The later of the two (D) is merged into the first (R):
// the calls after D's writer, and the outputs, read R instead. Only where R or D is kept in memory
// anyway (returned, or read or written by a kernel that is not a fusable elementwise op), and never making a
// buffer that the caller may write two outputs at once (a returned value and a residual that its
// backward reads would then change together).
#include "values.hpp"
#include <bit>
#include <map>

namespace tide::detail {
namespace {

using Key = std::vector<std::int64_t>;

bool pure(const Call& c) {
  switch (c.kind) {
    case CallKind::fill: case CallKind::unary: case CallKind::binary: case CallKind::where: case CallKind::reduce: return true;
    case CallKind::matmul: return !c.accumulate;
    default: return false;
  }
}

void put_view(Key& key, std::int64_t value, const Arg& a) {
  key.push_back(value);
  key.push_back(static_cast<std::int64_t>(a.dtype));
  key.push_back(a.offset);
  key.push_back(static_cast<std::int64_t>(a.shape.size()));
  for (int d = 0; d < a.shape.size(); ++d) key.push_back(a.shape[d]), key.push_back(a.strides[d]);
}

struct Numbering {
  const Program& p;
  std::vector<int> writers;               // per buffer: the calls writing it
  std::vector<std::int64_t> value;        // per buffer: its value's number (-1: none known)
  std::vector<char> kept;                 // per buffer: returned, or read or written by a kernel other than a fusable op
  std::vector<std::vector<int>> returned; // per buffer: the outputs returning it
  std::int64_t next;

  explicit Numbering(const Program& prog)
      : p(prog), writers(prog.buffers.size(), 0), value(prog.buffers.size(), -1), kept(prog.buffers.size(), 0),
        returned(prog.buffers.size()), next(static_cast<std::int64_t>(prog.buffers.size())) {
    for (const Call& c : p.calls)
      for (std::size_t k = 0; k < c.args.size(); ++k) {
        const int b = c.args[k].buffer;
        if (b < 0) continue;
        if (c.writes[k]) ++writers[static_cast<std::size_t>(b)];
        if (!elementwise_kind(c.kind)) kept[static_cast<std::size_t>(b)] = 1;
      }
    for (std::size_t j = 0; j < p.outputs.size(); ++j) {
      const auto b = static_cast<std::size_t>(p.outputs[j].buffer);
      kept[b] = 1;
      returned[b].push_back(static_cast<int>(j));
    }
    for (std::size_t b = 0; b < p.buffers.size(); ++b)
      if (p.buffers[b].kind != BufferKind::temp && writers[b] == 0) value[b] = static_cast<std::int64_t>(b);
  }

  // The written argument of a call that makes a value of its own once and for all (a pure kernel
  // writing the whole of a temporary that nothing else writes), or -1.
  int numbered_output(const Call& c) const {
    if (!pure(c)) return -1;
    int out = -1;
    for (std::size_t k = 0; k < c.args.size(); ++k) {
      if (!c.writes[k]) continue;
      if (out >= 0) return -1;
      out = static_cast<int>(k);
    }
    if (out < 0) return -1;
    const Arg& a = c.args[static_cast<std::size_t>(out)];
    const Buffer* buf = a.buffer >= 0 ? &p.buffers[static_cast<std::size_t>(a.buffer)] : nullptr;
    const bool whole = buf && buf->kind == BufferKind::temp && !buf->constant.defined() && a.offset == 0 && contiguous_arg(a) &&
                       numel_of(a) == buf->numel && writers[static_cast<std::size_t>(a.buffer)] == 1;
    return whole ? out : -1;
  }

  // The key of a call making a numbered value (empty: a value read is not numbered).
  Key key_of(const Call& c) const {
    Key key{static_cast<std::int64_t>(c.kind), static_cast<std::int64_t>(c.op), std::bit_cast<std::int64_t>(c.p0),
            std::bit_cast<std::int64_t>(c.p1), static_cast<std::int64_t>(c.axes), c.axis};
    for (std::size_t k = 0; k < c.args.size(); ++k) {
      const Arg& a = c.args[k];
      if (c.writes[k]) { put_view(key, -1, a); continue; }
      if (a.buffer < 0 || value[static_cast<std::size_t>(a.buffer)] < 0) return {};
      put_view(key, value[static_cast<std::size_t>(a.buffer)], a);
    }
    return key;
  }

  // Whether D's readers may read R: one of them is kept anyway, and no buffer the caller may write
  // would be returned twice (both returned, all their outputs from shared_from on, or not both).
  bool mergeable(std::size_t r, std::size_t d, int shared_from) const {
    if (!kept[r] && !kept[d]) return false;
    if (returned[r].empty() || returned[d].empty()) return true;
    if (shared_from < 0) return false;
    for (const auto* outs : {&returned[r], &returned[d]})
      for (int j : *outs)
        if (j < shared_from) return false;
    return true;
  }
};

}  // namespace

int merge_equal_values(Program& p, int shared_outputs_from) {
  Numbering n(p);
  std::map<Key, int> first;          // a numbered key -> the buffer first holding it
  std::vector<int> merged_into(p.buffers.size(), -1);
  int merged = 0;
  for (Call& c : p.calls) {
    for (std::size_t k = 0; k < c.args.size(); ++k) {
      Arg& a = c.args[k];
      if (a.buffer >= 0 && merged_into[static_cast<std::size_t>(a.buffer)] >= 0 && !c.writes[k]) a.buffer = merged_into[static_cast<std::size_t>(a.buffer)];
    }
    const int w = n.numbered_output(c);
    if (w < 0) continue;
    const auto d = static_cast<std::size_t>(c.args[static_cast<std::size_t>(w)].buffer);
    Key key = n.key_of(c);
    if (key.empty()) {  // made from a value that changes (written more than once): a value of its own
      n.value[d] = n.next++;
      continue;
    }
    const auto [it, fresh] = first.emplace(std::move(key), static_cast<int>(d));
    if (fresh) {
      n.value[d] = n.next++;
      continue;
    }
    const auto r = static_cast<std::size_t>(it->second);
    n.value[d] = n.value[r];
    if (!n.mergeable(r, d, shared_outputs_from)) continue;
    merged_into[d] = static_cast<int>(r);
    n.kept[r] = 1;
    n.returned[r].insert(n.returned[r].end(), n.returned[d].begin(), n.returned[d].end());
    ++merged;
  }
  for (Arg& a : p.outputs)
    if (merged_into[static_cast<std::size_t>(a.buffer)] >= 0) a.buffer = merged_into[static_cast<std::size_t>(a.buffer)];
  return merged;
}

}  // namespace tide::detail
