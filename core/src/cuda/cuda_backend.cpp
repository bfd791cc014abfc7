// The CUDA backend's host side: layouts, launches, cuBLAS GEMMs (split by gemm_chunks.hpp), transfers
// and the kernels' deferred reports (bad indices, floats with no i64 value). Kernels live in the .cu
// files beside this one.
#include "cuda_backend.hpp"
#include "gemm_chunks.hpp"
#include "gemm_layout.hpp"
#include "check.hpp"
#include "tensor_access.hpp"
#include "tide/core/ops.hpp"
#include <algorithm>
#include <type_traits>

namespace tide::cuda {
namespace {

Code code_of(DType t) { return static_cast<Code>(t); }

// A layout over `shape` for the given operands, with extent-1 axes dropped and adjacent axes merged
// wherever every operand allows it (fewer axes: less index arithmetic in the kernels).
Layout make_layout(const Shape& shape, std::initializer_list<const Tensor*> operands) {
  Layout l;
  l.operands = static_cast<int>(operands.size());
  int k = 0;
  for (const Tensor* t : operands) l.offset[k++] = t->offset();
  for (int d = 0; d < shape.rank(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = l.rank > 0;
    k = 0;
    for (const Tensor* t : operands) {
      merge = merge && l.stride[k][l.rank - 1] == t->strides()[d] * shape[d];
      ++k;
    }
    if (merge) {
      l.shape[l.rank - 1] *= shape[d];
      k = 0;
      for (const Tensor* t : operands) l.stride[k++][l.rank - 1] = t->strides()[d];
      continue;
    }
    l.shape[l.rank] = shape[d];
    k = 0;
    for (const Tensor* t : operands) l.stride[k++][l.rank] = t->strides()[d];
    ++l.rank;
  }
  if (shape.numel() == 0) { l.rank = 1; l.shape[0] = 0; }
  return l;
}

template <class T> T* base(const Tensor& t) { return detail::TensorAccess::base<T>(t); }
const void* base_void(const Tensor& t) { return detail::TensorAccess::base(t); }
void* base_void_mut(const Tensor& t) { return detail::TensorAccess::base(t); }

void split_axis(const Shape& s, int axis, std::int64_t& outer, std::int64_t& inner) {
  outer = 1;
  inner = 1;
  for (int i = 0; i < axis; ++i) outer *= s[i];
  for (int i = axis + 1; i < s.rank(); ++i) inner *= s[i];
}

using detail::GemmOperand;
using detail::gemm_layout;
using detail::output_data;

// The batch axes of t (all but the last two) as one (count, stride), if they collapse to one.
bool batch_stride(const Tensor& t, std::int64_t& stride) {
  const int r = t.rank();
  stride = 0;
  bool first = true;
  std::int64_t expect = 0;
  for (int i = r - 3; i >= 0; --i) {
    if (t.shape()[i] == 1) continue;
    if (first) {
      stride = t.strides()[i];
      expect = stride * t.shape()[i];
      first = false;
    } else {
      if (t.strides()[i] != expect) return false;
      expect *= t.shape()[i];
    }
  }
  return true;
}

// cuBLAS takes sizes and leading dimensions as int: gemm_chunks.hpp splits the product into calls
// within that range, except for a leading dimension, which is refused here.
[[noreturn]] void fail_unaddressable(char operand, const GemmProblem& p, const Tensor& a, const Tensor& b) {
  const std::int64_t ld = operand == 'a' ? p.a.ld : operand == 'b' ? p.b.ld : p.n;
  const char* what = operand == 'a' ? "the left operand's leading dimension" : operand == 'b' ? "the right operand's leading dimension"
                                                                                              : "the output's row length";
  fail("matmul {} @ {} on cuda:0: {} is {}, above the {} that cuBLAS takes (sizes and strides are int); split the product",
       a.str(), b.str(), what, ld, cublas_int_max);
}

// One chunk of a product (gemm_chunks.hpp): beta = 1 adds a later chunk of k into C.
template <class T> void run_gemm(cublasHandle_t blas, const CublasGemm& g, const T* a, const T* b, T* c) {
  const T one = 1, beta = g.accumulate ? 1 : 0;
  const cublasOperation_t opb = g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, opa = g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  if constexpr (std::is_same_v<T, double>)
    TIDE_CUBLAS_CHECK(cublasDgemmStridedBatched(blas, opb, opa, g.m, g.n, g.k, &one, b + g.offset_b, g.ld_b, g.stride_b, a + g.offset_a,
                                                g.ld_a, g.stride_a, &beta, c + g.offset_c, g.ld_c, g.stride_c, g.batch));
  else
    TIDE_CUBLAS_CHECK(cublasSgemmStridedBatched(blas, opb, opa, g.m, g.n, g.k, &one, b + g.offset_b, g.ld_b, g.stride_b, a + g.offset_a,
                                                g.ld_a, g.stride_a, &beta, c + g.offset_c, g.ld_c, g.stride_c, g.batch));
}

}  // namespace

CudaBackend::CudaBackend() {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    cudaGetLastError();
    fail("no usable CUDA device: cudaGetDeviceCount reports {} ({})", cudaGetErrorString(status), cudaGetErrorName(status));
  }
  if (count == 0) fail("no usable CUDA device: the driver sees no GPU");
  TIDE_CUDA_CHECK(cudaSetDevice(0));
  TIDE_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  TIDE_CUBLAS_CHECK(cublasCreate(&blas_));
  TIDE_CUBLAS_CHECK(cublasSetStream(blas_, stream_));
  // A fixed workspace, so cuBLAS never allocates inside a graph capture.
  constexpr std::size_t workspace = std::size_t(32) << 20;
  TIDE_CUDA_CHECK(cudaMalloc(&blas_workspace_, workspace));
  TIDE_CUBLAS_CHECK(cublasSetWorkspace(blas_, blas_workspace_, workspace));
  TIDE_CUDA_CHECK(cudaHostAlloc(reinterpret_cast<void**>(&report_), sizeof(DeviceReport), cudaHostAllocMapped));
  *report_ = DeviceReport{};
  TIDE_CUDA_CHECK(cudaHostGetDevicePointer(reinterpret_cast<void**>(&report_device_), report_, 0));
}

CudaBackend::~CudaBackend() {
  if (blas_) cublasDestroy(blas_);
  if (stream_) cudaStreamDestroy(stream_);
  if (blas_workspace_) cudaFree(blas_workspace_);
  if (report_) cudaFreeHost(report_);
}

bool CudaBackend::capturing() const {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  TIDE_CUDA_CHECK(cudaStreamIsCapturing(stream_, &status));
  return status != cudaStreamCaptureStatusNone;
}

void* CudaBackend::allocate(std::size_t bytes) { return allocator_.allocate(bytes); }
void CudaBackend::deallocate(void* ptr, std::size_t bytes) noexcept { allocator_.deallocate(ptr, bytes); }

void CudaBackend::copy_to_host(const void* src, void* dst, std::size_t bytes) {
  if (capturing()) fail("cuda: device data read on the host (item, to_vector, to(cpu)) while a CUDA graph is being captured; read results after capture() returns");
  if (bytes) TIDE_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_));
  synchronize();
}
void CudaBackend::copy_from_host(const void* src, void* dst, std::size_t bytes) {
  if (capturing()) fail("cuda: host data sent to the device (from_vector, to(cuda)) while a CUDA graph is being captured; create such tensors before capture");
  // From pageable memory the call returns once the source has been staged, so the caller may
  // free it at once.
  if (bytes) TIDE_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_));
}

void CudaBackend::synchronize() {
  TIDE_CUDA_CHECK(cudaStreamSynchronize(stream_));
  check_reports();
}

namespace {
bool fits_i64(double v) { return v >= -0x1p63 && v < 0x1p63; }
[[noreturn]] void fail_i64(const char* op, const Tensor& t, double v) {
  fail("{} {}: {} has no i64 value (NaN, infinite or outside the int64 range; others truncate toward zero)", op, t.str(), v);
}
// The same refusal for a copy's kernel (elementwise.cu), which reports the first element it met.
[[noreturn]] void fail_conversion(const DeviceReport& r) {
  Shape shape;
  for (int d = 0; d < r.rank; ++d) shape.push_back(r.shape[d]);
  fail("converting {}{}: {} (element {}) has no i64 value (NaN, infinite or outside the int64 range; others truncate toward "
       "zero; found on the device by a kernel queued earlier, reported at this synchronisation)",
       dtype_name(static_cast<DType>(r.op)), shape.str(), r.real, r.position);
}
}  // namespace

void CudaBackend::check_reports() {
  if (report_->flag == report_none) return;
  const DeviceReport r = *report_;
  *report_ = DeviceReport{};
  if (r.flag == report_conversion) fail_conversion(r);
  fail("{}: index {} at position {} is out of range [0, {}) (found on the device by a kernel queued earlier; reported at this synchronisation)",
       op_name(static_cast<Op>(r.op)), r.value, r.position, r.extent);
}

// A float -> i64 copy is checked by its kernel, which reports a value with no i64 value at the next
// synchronisation (check_reports): reading the source here would sync the stream at every call and
// could not be traced into a plan or captured into a graph.
void CudaBackend::copy(const Tensor& src, const Tensor& dst) {
  if (dst.numel() == 0) return;
  if (src.dtype() == dst.dtype() && src.is_contiguous() && dst.is_contiguous()) {
    TIDE_CUDA_CHECK(cudaMemcpyAsync(output_data(dst), src.raw_data(), static_cast<std::size_t>(dst.numel()) * dtype_size(dst.dtype()),
                                    cudaMemcpyDeviceToDevice, stream_));
    return;
  }
  ConversionCheck check;
  check.report = report_device_;
  check.rank = src.rank();
  for (int d = 0; d < src.rank(); ++d) check.shape[d] = src.shape()[d];
  launch_copy(make_layout(dst.shape(), {&src, &dst}), code_of(src.dtype()), base_void(src), code_of(dst.dtype()), base_void_mut(dst),
              check, stream_);
  TIDE_CUDA_LAUNCHED("copy");
}

void CudaBackend::fill(const Tensor& dst, double value) {
  if (dst.dtype() == DType::i64 && !fits_i64(value)) fail_i64("filling", dst, value);
  launch_fill(code_of(dst.dtype()), output_data(dst), dst.numel(), value, stream_);
  TIDE_CUDA_LAUNCHED("fill");
}

void CudaBackend::unary(Op op, const Tensor& x, const Tensor& out, double p0, double p1) {
  if (x.is_contiguous()) launch_unary(op, code_of(x.dtype()), x.raw_data(), output_data(out), out.numel(), p0, p1, stream_);
  else launch_unary_strided(op, code_of(x.dtype()), make_layout(out.shape(), {&x, &out}), base_void(x), base_void_mut(out), p0, p1, stream_);
  TIDE_CUDA_LAUNCHED("unary");
}

void CudaBackend::binary(Op op, const Tensor& a, const Tensor& b, const Tensor& out) {
  const bool dense = a.is_contiguous() && b.is_contiguous() && out.is_contiguous() && a.shape() == out.shape() && b.shape() == out.shape();
  if (dense) {
    Layout l;
    l.rank = 1;
    l.shape[0] = out.numel();
    launch_binary(op, code_of(out.dtype()), l, true, a.raw_data(), b.raw_data(), output_data(out), stream_);
  } else {
    launch_binary(op, code_of(out.dtype()), make_layout(out.shape(), {&a, &b, &out}), false, base_void(a), base_void(b), base_void_mut(out), stream_);
  }
  TIDE_CUDA_LAUNCHED("binary");
}

void CudaBackend::where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  launch_where(code_of(out.dtype()), make_layout(out.shape(), {&cond, &a, &b, &out}), base_void(cond), base_void(a), base_void(b),
               base_void_mut(out), stream_);
  TIDE_CUDA_LAUNCHED("where");
}

void CudaBackend::reduce(Op op, const Tensor& x, std::uint32_t axes, const Tensor& out) {
  if (out.numel() == 0) return;  // an empty kept axis: nothing to write (as the CPU)
  Shape kept, reduced;
  Shape kept_strides, reduced_strides;
  for (int i = 0; i < x.rank(); ++i) {
    if (axes & (1u << i)) { reduced.push_back(x.shape()[i]); reduced_strides.push_back(x.strides()[i]); }
    else { kept.push_back(x.shape()[i]); kept_strides.push_back(x.strides()[i]); }
  }
  const Tensor outer_view = detail::TensorAccess::as_strided(x, kept, kept_strides, x.offset());
  const Tensor inner_view = detail::TensorAccess::as_strided(x, reduced, reduced_strides, 0);
  const Layout outer = make_layout(kept, {&outer_view}), inner = make_layout(reduced, {&inner_view});
  const std::int64_t outputs = kept.numel(), count = reduced.numel();
  const int chunks = reduce_chunks(outputs, count);
  Tensor scratch;
  if (chunks > 1) scratch = Tensor::empty(Shape{outputs * chunks}, x.dtype(), device());
  launch_reduce(op, code_of(x.dtype()), outer, inner, base_void(x), output_data(out), chunks > 1 ? scratch.raw_data() : nullptr, chunks, stream_);
  TIDE_CUDA_LAUNCHED("reduce");
}

void CudaBackend::matmul(const Tensor& a_in, const Tensor& b_in, const Tensor& out) {
  const int r = out.rank();
  const std::int64_t m = out.shape()[r - 2], n = out.shape()[r - 1], k = a_in.shape()[r - 1];
  if (out.numel() == 0) return;
  if (k == 0) { fill(out, 0.0); return; }
  Tensor a = a_in, b = b_in;
  GemmOperand la = gemm_layout(m, k, a.strides()[r - 2], a.strides()[r - 1]);
  GemmOperand lb = gemm_layout(k, n, b.strides()[r - 2], b.strides()[r - 1]);
  std::int64_t sa = 0, sb = 0;
  if (!la.usable || !batch_stride(a, sa)) {
    a = a.contiguous();
    la = gemm_layout(m, k, a.strides()[r - 2], a.strides()[r - 1]);
    batch_stride(a, sa);
  }
  if (!lb.usable || !batch_stride(b, sb)) {
    b = b.contiguous();
    lb = gemm_layout(k, n, b.strides()[r - 2], b.strides()[r - 1]);
    batch_stride(b, sb);
  }
  std::int64_t batch = out.numel() / (m * n), rows = m;
  // A shared right operand and a left operand whose batches continue its rows: one GEMM.
  if (batch > 1 && sb == 0 && !la.trans && sa == m * la.ld) {
    rows = m * batch;
    batch = 1;
  }
  const GemmProblem p{rows, n, k, batch, la, lb, sa, sb};
  if (const char operand = unaddressable_operand(p, cublas_int_max)) fail_unaddressable(operand, p, a_in, b_in);
  for_each_cublas_gemm(p, cublas_int_max, [&](const CublasGemm& g) {
    if (out.dtype() == DType::f64) run_gemm<double>(blas_, g, a.data<double>(), b.data<double>(), output_data<double>(out));
    else run_gemm<float>(blas_, g, a.data<float>(), b.data<float>(), output_data<float>(out));
  });
}

namespace {
// The kernels check each index as they use it; with no element to move (an empty slab around the
// axis) they never run, so the indices are checked here, on the host, as the CPU does.
void check_indices_of_empty_slab(const char* op, const Tensor& index, std::int64_t outer, std::int64_t inner, std::int64_t extent,
                                 int axis, const Shape& shape) {
  if (outer * inner != 0 || index.numel() == 0) return;
  const std::vector<std::int64_t> values = index.to(Device::cpu()).to_indices();
  for (std::size_t i = 0; i < values.size(); ++i)
    if (values[i] < 0 || values[i] >= extent)
      fail("{}: index {} at position {} is out of range [0, {}) for axis {} of {}", op, values[i], i, extent, axis, shape.str());
}
}  // namespace

void CudaBackend::index_select(const Tensor& x_in, int axis, const Tensor& index, const Tensor& out) {
  const Tensor x = x_in.contiguous();
  std::int64_t outer, inner;
  split_axis(x.shape(), axis, outer, inner);
  check_indices_of_empty_slab("index_select", index, outer, inner, x.shape()[axis], axis, x.shape());
  launch_index_select(code_of(x.dtype()), x.raw_data(), index.data<std::int64_t>(), output_data(out), outer, x.shape()[axis],
                      index.numel(), inner, report_device_, stream_);
  TIDE_CUDA_LAUNCHED("index_select");
}
void CudaBackend::index_add(const Tensor& src_in, int axis, const Tensor& index, const Tensor& out) {
  const Tensor src = src_in.contiguous();
  std::int64_t outer, inner;
  split_axis(src.shape(), axis, outer, inner);
  check_indices_of_empty_slab("index_add", index, outer, inner, out.shape()[axis], axis, out.shape());
  launch_index_add(code_of(src.dtype()), src.raw_data(), index.data<std::int64_t>(), output_data(out), outer, src.shape()[axis],
                   out.shape()[axis], inner, report_device_, stream_);
  TIDE_CUDA_LAUNCHED("index_add");
}
void CudaBackend::gather(const Tensor& x_in, int axis, const Tensor& index, const Tensor& out) {
  const Tensor x = x_in.contiguous();
  std::int64_t outer, inner;
  split_axis(index.shape(), axis, outer, inner);
  launch_gather(code_of(x.dtype()), x.raw_data(), index.data<std::int64_t>(), output_data(out), outer, x.shape()[axis],
                index.shape()[axis], inner, report_device_, stream_);
  TIDE_CUDA_LAUNCHED("gather");
}
void CudaBackend::scatter_add(const Tensor& src_in, int axis, const Tensor& index, const Tensor& out) {
  const Tensor src = src_in.contiguous();
  std::int64_t outer, inner;
  split_axis(index.shape(), axis, outer, inner);
  launch_scatter_add(code_of(src.dtype()), src.raw_data(), index.data<std::int64_t>(), output_data(out), outer, out.shape()[axis],
                     index.shape()[axis], inner, report_device_, stream_);
  TIDE_CUDA_LAUNCHED("scatter_add");
}

void CudaBackend::random(RandomKind kind, std::uint64_t seed, std::uint64_t stream, double a, double b, const Tensor& out) {
  launch_random(static_cast<int>(kind), code_of(out.dtype()), output_data(out), out.numel(), seed, stream, a, b, stream_);
  TIDE_CUDA_LAUNCHED("random");
}

void CudaBackend::lincomb(const Tensor& out, const Tensor& base_t, std::span<const Tensor> xs, const std::vector<double>& coeff,
                          const Tensor& row_scale) {
  LincombArgs args;
  for (std::size_t j = 0; j < xs.size(); ++j) {
    if (coeff[j] == 0.0) continue;
    if (args.terms == lincomb_max_terms) { Backend::lincomb(out, base_t, xs, coeff, row_scale); return; }
    args.x[args.terms] = xs[j].raw_data();
    args.coeff[args.terms] = coeff[j];
    ++args.terms;
  }
  args.base = base_t.defined() ? base_t.raw_data() : nullptr;
  args.scale = row_scale.defined() ? row_scale.raw_data() : nullptr;
  args.out = output_data(out);
  args.n = out.rank() == 0 ? 1 : out.shape()[0];
  args.d = out.numel() / std::max<std::int64_t>(args.n, 1);
  launch_lincomb(code_of(out.dtype()), args, stream_);
  TIDE_CUDA_LAUNCHED("lincomb");
}

void CudaBackend::scaled_row_norms(const Tensor& err, const Tensor& a, const Tensor& b, const Tensor& atol, const Tensor& rtol,
                                   const Tensor& mask, const Tensor& out) {
  const std::int64_t n = err.shape()[0], d = err.numel() / std::max<std::int64_t>(n, 1);
  launch_row_norms(code_of(err.dtype()), err.raw_data(), a.raw_data(), b.raw_data(), atol.data<double>(), rtol.data<double>(),
                   mask.data<double>(), output_data<double>(out), n, d, stream_);
  TIDE_CUDA_LAUNCHED("scaled_row_norms");
}

void CudaBackend::dense(const Tensor& x, const Tensor& w, const Tensor& b, std::optional<Op> act, double p0, const Tensor& out) {
  const std::int64_t m = x.shape()[0], k = x.shape()[1], n = w.shape()[1];
  auto aligned = [](const Tensor& t) { return !t.defined() || reinterpret_cast<std::uintptr_t>(t.raw_data()) % 16 == 0; };
  if (x.dtype() != DType::f32 || !dense_fits(k, n) || !aligned(x) || !aligned(w) || !aligned(b) || !aligned(out)) {
    Backend::dense(x, w, b, act, p0, out);
    return;
  }
  launch_dense(x.data<float>(), w.data<float>(), b.defined() ? b.data<float>() : nullptr, output_data<float>(out), m, static_cast<int>(k),
               static_cast<int>(n), act.has_value(), act.value_or(Op::neg), static_cast<float>(p0), stream_);
  TIDE_CUDA_LAUNCHED("dense");
}

}  // namespace tide::cuda
