// What the tensor layer asks of the recorder (record.cpp) while a trace runs: the checks it cannot
// make through Tensor::backend() alone.
#pragma once
#include "tide/core/tensor.hpp"

namespace tide::detail {

// Tensor::to(Device) while tracing: refuses (UntraceableError) a transfer a replay could not
// repeat: anything but uploading a value made on the host during the trace to the traced device.
void check_traced_transfer(const Tensor& src, Device to);

}  // namespace tide::detail
