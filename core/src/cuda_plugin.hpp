// The contract between tide_core and the CUDA backend plugin (libtide_cuda.so, built from
// core/src/cuda/). The core loads the plugin with dlopen when a CUDA device is first asked for
// (cuda_loader.cpp) and calls its one exported function for this table; the cuda.hpp API
// (cuda_api.cpp) forwards to it. Both sides come from the same build, which `abi` checks.
#pragma once
#include "tide/core/backend.hpp"
#include "tide/core/cuda.hpp"
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace tide::detail {

// Raise when the table or any type crossing it (Backend, Tensor, DeviceInfo) changes shape.
inline constexpr int cuda_plugin_abi = 4;  // 2: Backend::fuses_matmul_add and matmul_add; 3: Tensor's contiguity flag;
                                            // 4: Tensor's device kind

struct CudaPlugin {
  int abi = cuda_plugin_abi;
  std::size_t size = sizeof(CudaPlugin);
  // The backend, or nullptr with `reason` saying why there is no usable device.
  Backend* (*backend)(std::string& reason) = nullptr;
  cuda::DeviceInfo (*device_info)() = nullptr;
  cuda::MemoryCounters (*memory_counters)() = nullptr;
  void (*empty_cache)() = nullptr;
  // A CUDA Graph of what `fn` queues, with its memory pool; opaque to the core.
  void* (*graph_capture)(const std::function<void()>& fn) = nullptr;
  void (*graph_replay)(void* graph) = nullptr;
  std::int64_t (*graph_nodes)(const void* graph) = nullptr;
  void (*graph_destroy)(void* graph) = nullptr;
};

// The loaded plugin, or nullptr with `reason` naming the paths tried and what failed.
const CudaPlugin* cuda_plugin(std::string& reason);
bool cuda_plugin_built();  // this build made a plugin (TIDE_CUDA was on)

}  // namespace tide::detail

// The plugin's one exported symbol.
#define TIDE_CUDA_PLUGIN_ENTRY "tide_cuda_plugin"
