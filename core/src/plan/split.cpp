// Trace::split: the calls that can run before the late inputs arrive, and the rest.
//
// A call is late when it reads a late value (a late input, or a buffer a late call wrote), writes
// into a late input (the early part has no such buffer), or writes a buffer a late call already
// touched (moving it earlier would change what that late call saw). Every early call can then run before every late one, in trace order within each part.
// The residuals are the buffers the late part reads, or returns, whose value the early part made
// (or that are early inputs), except those the early part only filled (refill_late); constants
// are captured by both parts.
#include "program.hpp"

namespace tide {

namespace {
using namespace detail;

struct Parts {
  std::vector<bool> late_call, late_buffer;
  std::vector<bool> read_early;  // read by a late call while its value was still the early part's
};

bool covers(const Program& p, const Arg& a) {
  return a.offset == 0 && a.strides == contiguous_strides(a.shape) && a.shape.numel() == p.buffers[static_cast<std::size_t>(a.buffer)].numel;
}

// Whether call c is late: it touches a late buffer (reading a late value, or writing into a late
// input, which only the late part has), or writes a buffer a late call touched.
bool is_late(const Call& c, const Parts& parts, const std::vector<bool>& touched_late) {
  for (std::size_t a = 0; a < c.args.size(); ++a) {
    const int b = c.args[a].buffer;
    if (b < 0) continue;
    if (parts.late_buffer[static_cast<std::size_t>(b)]) return true;  // read or written: late either way
    if (c.writes[a] && touched_late[static_cast<std::size_t>(b)]) return true;
  }
  return false;
}

// What late call c does to the buffers: those whose early value it reads, those it touches and
// those it makes late.
void note_late_call(const Program& p, const Call& c, Parts& parts, std::vector<bool>& touched_late) {
  for (std::size_t a = 0; a < c.args.size(); ++a) {
    const int b = c.args[a].buffer;
    if (b < 0 || parts.late_buffer[static_cast<std::size_t>(b)]) continue;
    // a write that leaves part of the buffer keeps the early part's values there: a read of them
    if (reads_arg(c, a) || !covers(p, c.args[a])) parts.read_early[static_cast<std::size_t>(b)] = true;
  }
  for (std::size_t a = 0; a < c.args.size(); ++a) {
    const int b = c.args[a].buffer;
    if (b < 0) continue;
    touched_late[static_cast<std::size_t>(b)] = true;
    if (c.writes[a]) parts.late_buffer[static_cast<std::size_t>(b)] = true;
  }
}

Parts classify(const Program& p, int first_late_input) {
  Parts parts{std::vector<bool>(p.calls.size(), false), std::vector<bool>(p.buffers.size(), false),
              std::vector<bool>(p.buffers.size(), false)};
  std::vector<bool> touched_late(p.buffers.size(), false);
  for (std::size_t b = 0; b < p.buffers.size(); ++b)
    if (p.buffers[b].kind == BufferKind::input && p.buffers[b].input >= first_late_input) parts.late_buffer[b] = true;
  for (std::size_t i = 0; i < p.calls.size(); ++i) {
    parts.late_call[i] = is_late(p.calls[i], parts, touched_late);
    if (parts.late_call[i]) note_late_call(p, p.calls[i], parts, touched_late);
  }
  return parts;
}

// The view of a whole buffer, as an output of the early part.
Arg whole(const Program& p, int b) {
  const Buffer& buf = p.buffers[static_cast<std::size_t>(b)];
  Arg a;
  a.buffer = b;
  a.shape = buf.shape;
  a.strides = contiguous_strides(buf.shape);
  a.dtype = buf.dtype;
  return a;
}

// A buffer the late part reads or returns whose whole early value is one covering fill, touched by
// no other early call and not returned early (the zeros grad's sweep makes before the cotangent
// arrives, for slices' gradients to be added into; an unused input's zero gradient), is filled by
// the late part instead of being carried: as a residual it would cost the early part an output and
// the late part a copy per run (a plan copies an input its calls write), and a returned one would
// be the same tensor for every backward of that forward.
// Per buffer: the early call touching it if exactly one does, else -1.
std::vector<int> only_early_toucher(const Program& p, const Parts& parts) {
  std::vector<int> only(p.buffers.size(), -1), count(p.buffers.size(), 0);
  for (std::size_t i = 0; i < p.calls.size(); ++i) {
    if (parts.late_call[i]) continue;
    for (const Arg& a : p.calls[i].args)
      if (a.buffer >= 0 && ++count[static_cast<std::size_t>(a.buffer)] == 1) only[static_cast<std::size_t>(a.buffer)] = static_cast<int>(i);
  }
  for (std::size_t b = 0; b < only.size(); ++b)
    if (count[b] != 1) only[b] = -1;
  return only;
}

void refill_late(const Program& p, Parts& parts, int first_late_output) {
  const std::vector<int> toucher = only_early_toucher(p, parts);
  std::vector<bool> early_output(p.buffers.size(), false), late_output(p.buffers.size(), false);
  for (int o = 0; o < first_late_output; ++o) early_output[static_cast<std::size_t>(p.outputs[static_cast<std::size_t>(o)].buffer)] = true;
  for (std::size_t o = static_cast<std::size_t>(first_late_output); o < p.outputs.size(); ++o)
    late_output[static_cast<std::size_t>(p.outputs[o].buffer)] = true;
  for (std::size_t b = 0; b < p.buffers.size(); ++b) {
    // read late, or returned late (an unused input's zero gradient: made per backward, not carried)
    if (!(parts.read_early[b] || late_output[b]) || p.buffers[b].kind != BufferKind::temp || early_output[b] || toucher[b] < 0) continue;
    const auto i = static_cast<std::size_t>(toucher[b]);
    const Call& c = p.calls[i];
    if (c.kind != CallKind::fill || !covers(p, c.args[0])) continue;
    parts.late_call[i] = true;
    parts.late_buffer[b] = true;
    parts.read_early[b] = false;
  }
}

}  // namespace

namespace {

struct Residuals {
  std::vector<int> buffers;  // in the order the late part takes them
  std::vector<int> of;       // per buffer: its residual number, or -1
};

// The buffers the late calls read, or the late outputs view, whose value is the early part's.
Residuals find_residuals(const Program& p, const Parts& parts, int first_late_output) {
  Residuals r{{}, std::vector<int>(p.buffers.size(), -1)};
  auto need = [&](int b) {
    if (b < 0 || p.buffers[static_cast<std::size_t>(b)].kind == BufferKind::constant || r.of[static_cast<std::size_t>(b)] >= 0) return;
    r.of[static_cast<std::size_t>(b)] = static_cast<int>(r.buffers.size());
    r.buffers.push_back(b);
  };
  for (std::size_t b = 0; b < p.buffers.size(); ++b)
    if (parts.read_early[b]) need(static_cast<int>(b));
  for (std::size_t o = static_cast<std::size_t>(first_late_output); o < p.outputs.size(); ++o)
    if (!parts.late_buffer[static_cast<std::size_t>(p.outputs[o].buffer)]) need(p.outputs[o].buffer);
  return r;
}

// The parts' input numbering: the early part keeps the early inputs; the late part takes the
// residuals, then the late inputs renumbered after them. Inputs a part never reads become unused temps.
void renumber_inputs(Program& early, Program& late, const Residuals& r, int first_late_input) {
  const int n_res = static_cast<int>(r.buffers.size());
  for (std::size_t b = 0; b < late.buffers.size(); ++b) {
    Buffer& lb = late.buffers[b];
    if (r.of[b] >= 0) {
      lb.kind = BufferKind::input;
      lb.input = r.of[b];
      lb.constant = Tensor();
    } else if (lb.kind == BufferKind::input) {
      lb.input = lb.input >= first_late_input ? lb.input - first_late_input + n_res : -1;
      if (lb.input < 0) lb.kind = BufferKind::temp;
    }
    Buffer& eb = early.buffers[b];
    if (eb.kind == BufferKind::input && eb.input >= first_late_input) eb.kind = BufferKind::temp;
  }
}

}  // namespace

Trace::Split Trace::split(int first_late_input, int first_late_output) const {
  const Program& p = *program_;
  if (first_late_input < 0 || first_late_input > p.n_inputs || first_late_output < 0 ||
      first_late_output > static_cast<int>(p.outputs.size()))
    fail("Trace::split: split points ({}, {}) outside the trace's {} inputs and {} outputs", first_late_input,
         first_late_output, p.n_inputs, p.outputs.size());
  Parts parts = classify(p, first_late_input);
  refill_late(p, parts, first_late_output);
  for (int o = 0; o < first_late_output; ++o)
    if (parts.late_buffer[static_cast<std::size_t>(p.outputs[static_cast<std::size_t>(o)].buffer)])
      fail("Trace::split: early output {} is written after a late call reads it (or from a late value), so only the "
           "late part can make it; return it late (first_late_output <= {})", o, o);
  const Residuals res = find_residuals(p, parts, first_late_output);
  auto early = std::make_shared<Program>();
  auto late = std::make_shared<Program>();
  early->buffers = late->buffers = p.buffers;
  early->chains = late->chains = p.chains;
  early->device = late->device = p.device;
  early->n_inputs = first_late_input;
  late->n_inputs = static_cast<int>(res.buffers.size()) + (p.n_inputs - first_late_input);
  for (std::size_t i = 0; i < p.calls.size(); ++i) (parts.late_call[i] ? late : early)->calls.push_back(p.calls[i]);
  early->outputs.assign(p.outputs.begin(), p.outputs.begin() + first_late_output);
  for (int b : res.buffers) early->outputs.push_back(whole(p, b));
  late->outputs.assign(p.outputs.begin() + first_late_output, p.outputs.end());
  renumber_inputs(*early, *late, res, first_late_input);
  return {Trace(early), Trace(late), static_cast<int>(res.buffers.size())};
}

}  // namespace tide
