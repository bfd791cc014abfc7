// The plan's product-add folding pass (accumulate.cpp).
#pragma once
#include "program.hpp"

namespace tide::detail {

// Folds a product that only an add into an accumulator reads (matmul -> P, then A = A + P in place)
// into one call that adds the product into A (Backend::matmul_add, GEMM's beta = 1): a weight's
// gradient summed over its uses (a Runge-Kutta step's stages, an LTC cell's unfolds) costs a
// product per use instead of a product and an add. Returns how many adds went.
int fold_product_adds(Program& program);

}  // namespace tide::detail
