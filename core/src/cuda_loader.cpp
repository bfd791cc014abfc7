// Finds and loads the CUDA backend plugin (libtide_cuda.so) the first time a CUDA device is asked
// for, so a program that never asks does not map the CUDA runtime and starts on machines without
// one. Where it looks, in order (docs/design.md):
//   1. $TIDE_CUDA_PLUGIN, alone, when it is set and not empty;
//   2. <directory of the program>/../<libdir>/tide/: the build tree and an installed tide;
//   3. <install prefix>/<libdir>/tide/: programs elsewhere that link an installed tide.
#include "cuda_plugin.hpp"
#include "tide/core/error.hpp"
#include <dlfcn.h>
#include <cstdlib>
#include <filesystem>
#include <vector>

namespace tide::detail {
namespace {

constexpr const char* plugin_file = "libtide_cuda.so";

std::vector<std::string> plugin_paths() {
  if (const char* path = std::getenv("TIDE_CUDA_PLUGIN"); path && *path) return {path};
  std::vector<std::string> paths;
  std::error_code error;
  const std::filesystem::path program = std::filesystem::read_symlink("/proc/self/exe", error);
  if (!error)
    paths.push_back((program.parent_path() / ".." / TIDE_CUDA_PLUGIN_LIBDIR / plugin_file).lexically_normal().string());
  const std::string installed = std::string(TIDE_CUDA_PLUGIN_INSTALL_DIR) + "/" + plugin_file;
  if (paths.empty() || paths.front() != installed) paths.push_back(installed);
  return paths;
}

// The plugin's table from one path, or nullptr with `error` saying why not.
const CudaPlugin* open_plugin(const std::string& path, std::string& error) {
  // RTLD_NOW: a missing library or symbol shows here, with its name, not at the first kernel.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    error = dlerror();
    return nullptr;
  }
  using Entry = const CudaPlugin* (*)();
  const auto entry = reinterpret_cast<Entry>(dlsym(handle, TIDE_CUDA_PLUGIN_ENTRY));
  const CudaPlugin* plugin = entry ? entry() : nullptr;
  if (!plugin || plugin->abi != cuda_plugin_abi || plugin->size != sizeof(CudaPlugin)) {
    error = fmt::format("{} is not a CUDA plugin of this build of tide", path);
    dlclose(handle);
    return nullptr;
  }
  return plugin;  // never closed: tensors and graphs hold code and memory of the plugin to the end
}

std::string load_failure(const std::vector<std::string>& tried) {
  std::string message = "the CUDA backend plugin could not be loaded: tried ";
  for (std::size_t i = 0; i < tried.size(); ++i) message += (i ? "; " : "") + tried[i];
  message += ". If a CUDA library is missing (libcudart, libcublas, libcublasLt), install the CUDA runtime"
             " where the dynamic linker finds it (ldconfig or LD_LIBRARY_PATH); if the plugin is elsewhere,"
             " set TIDE_CUDA_PLUGIN to the path of libtide_cuda.so";
  if (message.find("undefined symbol") != std::string::npos)
    message += "; an undefined tide symbol means the program does not export tide's symbols: link it"
               " through the tide::tide CMake target (or with -Wl,--export-dynamic)";
  return message;
}

struct Loaded {
  const CudaPlugin* plugin = nullptr;
  std::string reason;
};

// The first plugin file found is the one: when it fails (a missing CUDA library), a plugin further
// down the list would be another build's, so its error is the answer.
Loaded load() {
  std::vector<std::string> tried;
  for (const std::string& path : plugin_paths()) {
    std::string error;
    if (const CudaPlugin* plugin = open_plugin(path, error)) return {plugin, ""};
    tried.push_back(path + " (" + error + ")");
    std::error_code ignored;
    if (std::filesystem::exists(path, ignored)) break;
  }
  return {nullptr, load_failure(tried)};
}

}  // namespace

bool cuda_plugin_built() { return TIDE_CUDA_BUILT; }

const CudaPlugin* cuda_plugin(std::string& reason) {
  if (!cuda_plugin_built()) {
    reason = "this build of tide has no CUDA backend (configure with -DTIDE_CUDA=ON on a machine with the CUDA toolkit)";
    return nullptr;
  }
  static const Loaded loaded = load();
  reason = loaded.reason;
  return loaded.plugin;
}

}  // namespace tide::detail
