// The CPU's fused elementwise chains (Backend::elementwise): the chain runs block by block over the
// flat output, each step through the vectorised run kernels of elementwise.cpp, so a value made
// and consumed inside the chain lives in a small scratch block and never goes to memory.
#include "cpu_backend.hpp"
#include "elementwise.hpp"
#include "tensor_access.hpp"
#include <algorithm>
#include <vector>

namespace tide::cpu {
namespace {

constexpr std::int64_t block = 512;
constexpr std::int64_t max_period = 4096;

// How an input reaches a block: `full` inputs at their own offset, `periodic` ones (a contiguous
// trailing block broadcast over the leading axes, scalars included) from a copy repeated to the
// block's length.
struct Operand {
  const void* data = nullptr;
  bool periodic = false;
  Tensor keep;  // the contiguous copy or the repeated block
};

// The period of a view of shape s whose leading axes are broadcast and whose trailing axes are
// contiguous: their element count, or -1 if the view is not of that form.
std::int64_t period_of(const Tensor& x) {
  const Shape& s = x.shape();
  const Shape& st = x.strides();
  int k = s.rank();
  std::int64_t expect = 1;
  while (k > 0 && (s[k - 1] == 1 || st[k - 1] == expect)) {
    expect *= s[k - 1];
    --k;
  }
  for (int i = 0; i < k; ++i)
    if (s[i] != 1 && st[i] != 0) return -1;
  return expect;
}

template <class T>
Operand prepare(const Tensor& x, std::int64_t length, std::int64_t n) {
  Operand op;
  const std::int64_t period = period_of(x);
  if (period == n) {
    op.data = x.data<T>();
    return op;
  }
  if (period > 0 && period <= max_period && length % period == 0) {
    op.periodic = true;
    op.keep = Tensor::empty(Shape{length}, x.dtype(), Device::cpu());
    const T* src = x.data<T>();
    T* dst = op.keep.data<T>();
    for (std::int64_t i = 0; i < length; i += period) std::copy(src, src + period, dst + i);
    op.data = dst;
    return op;
  }
  op.keep = x.contiguous();
  op.data = op.keep.data<T>();
  return op;
}

// The block length: a multiple of every periodic input's period when they allow one near `block`.
std::int64_t block_length(const std::vector<Tensor>& inputs, std::int64_t n) {
  std::int64_t length = block;
  for (const Tensor& x : inputs) {
    const std::int64_t p = period_of(x);
    if (p <= 0 || p == n || p > max_period) continue;
    const std::int64_t candidate = std::max<std::int64_t>(1, length / p) * p;
    if (candidate % p == 0 && length % p != 0) length = candidate;
  }
  return std::min(length, std::max<std::int64_t>(n, 1));
}

template <class T>
void run_chain(const ElementwiseProgram& prog, const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs) {
  const std::int64_t n = outputs[0].numel();
  const std::int64_t length = block_length(inputs, n);
  std::vector<Operand> ops;
  ops.reserve(inputs.size());
  for (const Tensor& x : inputs) ops.push_back(prepare<T>(x, length, n));
  const std::size_t steps = prog.steps.size();
  std::vector<int> out_of(steps, -1);  // the output a step's value goes to (the first, if several)
  for (std::size_t j = 0; j < prog.outputs.size(); ++j) {
    const int s = prog.outputs[j] - prog.n_inputs;
    if (s >= 0 && out_of[static_cast<std::size_t>(s)] < 0) out_of[static_cast<std::size_t>(s)] = static_cast<int>(j);
  }
  std::vector<T> scratch(static_cast<std::size_t>(length) * steps);
  std::vector<T*> value(inputs.size() + steps);
  for (std::int64_t start = 0; start < n; start += length) {
    const std::int64_t len = std::min(length, n - start);
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      const T* p = static_cast<const T*>(ops[i].data);
      value[i] = const_cast<T*>(ops[i].periodic ? p : p + start);
    }
    for (std::size_t k = 0; k < steps; ++k) {
      const ElementwiseStep& s = prog.steps[k];
      T* y = out_of[k] >= 0 ? detail::output_data<T>(outputs[static_cast<std::size_t>(out_of[k])]) + start
                            : scratch.data() + static_cast<std::ptrdiff_t>(k) * length;
      value[inputs.size() + k] = y;
      const T* a = s.in[0] >= 0 ? value[static_cast<std::size_t>(s.in[0])] : nullptr;
      const T* b = s.in[1] >= 0 ? value[static_cast<std::size_t>(s.in[1])] : nullptr;
      switch (op_info(s.op).kind) {
        case OpKind::unary: unary_run(s.op, a, y, len, s.p0, s.p1); break;
        case OpKind::binary: case OpKind::compare: binary_run(s.op, a, 1, b, 1, y, 1, len); break;
        case OpKind::other: {
          const T* c = value[static_cast<std::size_t>(s.in[2])];
          for (std::int64_t i = 0; i < len; ++i) y[i] = a[i] != T(0) ? b[i] : c[i];
          break;
        }
        case OpKind::reduce: case OpKind::shape: fail("elementwise: {} is not an elementwise op", op_name(s.op));
      }
    }
    for (std::size_t j = 0; j < prog.outputs.size(); ++j) {  // outputs that are inputs, or repeat a value
      const int v = prog.outputs[j];
      const int s = v - prog.n_inputs;
      if (s >= 0 && out_of[static_cast<std::size_t>(s)] == static_cast<int>(j)) continue;
      const T* src = value[static_cast<std::size_t>(v)];
      std::copy(src, src + len, detail::output_data<T>(outputs[j]) + start);
    }
  }
}

}  // namespace

void CpuBackend::elementwise(const ElementwiseProgram& program, const std::vector<Tensor>& inputs,
                             const std::vector<Tensor>& outputs) {
  if (outputs.empty() || outputs[0].numel() == 0) return;
  if (outputs[0].dtype() == DType::f32) run_chain<float>(program, inputs, outputs);
  else if (outputs[0].dtype() == DType::f64) run_chain<double>(program, inputs, outputs);
  else fail("elementwise: floating outputs expected, got {}", outputs[0].str());
}

}  // namespace tide::cpu
