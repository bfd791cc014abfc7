// How a strided matrix view is handed to a BLAS GEMM without copying: row-major with a leading
// dimension, or transposed. Shared by the CPU (CBLAS) and CUDA (cuBLAS) backends.
#pragma once
#include <algorithm>
#include <cstdint>

namespace tide::detail {

struct GemmOperand {
  bool usable;  // false: the layout needs a contiguous copy first
  bool trans;   // read as the transpose of a row-major matrix
  std::int64_t ld;
};

// A rows x cols matrix with strides (rs, cs); extent-1 axes may have any stride.
inline GemmOperand gemm_layout(std::int64_t rows, std::int64_t cols, std::int64_t rs, std::int64_t cs) {
  if (cols == 1) cs = 1;                                 // a single column: its stride is irrelevant
  if (rows == 1) rs = std::max<std::int64_t>(cols, 1);  // a single row: likewise
  if (cs == 1 && rs >= std::max<std::int64_t>(cols, 1)) return {true, false, rs};
  if (rs == 1 && cs >= std::max<std::int64_t>(rows, 1)) return {true, true, cs};
  return {false, false, 0};
}

}  // namespace tide::detail
