// CUDA and cuBLAS status checks: a failing call becomes a tide::Error naming the call, the file and
// the line, with the runtime's own description of the error.
#pragma once
#include "tide/core/error.hpp"
#include <cublas_v2.h>
#include <cuda_runtime.h>

namespace tide::cuda {

[[noreturn]] inline void cuda_failure(cudaError_t status, const char* call, const char* file, int line) {
  fail("cuda: {} failed at {}:{}: {} ({})", call, file, line, cudaGetErrorString(status), cudaGetErrorName(status));
}
[[noreturn]] inline void cublas_failure(cublasStatus_t status, const char* call, const char* file, int line) {
  fail("cublas: {} failed at {}:{}: {} ({})", call, file, line, cublasGetStatusString(status), cublasGetStatusName(status));
}

}  // namespace tide::cuda

#define TIDE_CUDA_CHECK(call)                                                                  \
  do {                                                                                         \
    const cudaError_t tide_status_ = (call);                                                   \
    if (tide_status_ != cudaSuccess) ::tide::cuda::cuda_failure(tide_status_, #call, __FILE__, __LINE__); \
  } while (0)

#define TIDE_CUBLAS_CHECK(call)                                                                \
  do {                                                                                         \
    const cublasStatus_t tide_status_ = (call);                                                \
    if (tide_status_ != CUBLAS_STATUS_SUCCESS) ::tide::cuda::cublas_failure(tide_status_, #call, __FILE__, __LINE__); \
  } while (0)

// After a kernel launch: the launch's own error (bad configuration, no kernel image for the device).
#define TIDE_CUDA_LAUNCHED(what) TIDE_CUDA_CHECK(cudaGetLastError())
