// The CUDA backend plugin (libtide_cuda.so) as the core loads it: in a CUDA build, whatever keeps
// the device away (no CUDA runtime, no GPU), it is never that the plugin is not found beside the
// program, cannot bind to the program's tide symbols or belongs to another build. The error for a
// missing plugin is checked by ctest in processes of its own (cli_cuda_plugin_missing,
// install_consumer): the plugin is looked for once per process.
#include "cuda_test_util.hpp"
#include <cstdlib>

using namespace tide;

TEST_CASE("cuda: the plugin binds to the program's tide symbols") {
  if (!cuda::built()) return;
  const std::string reason = cuda::unavailable_reason();
  if (!reason.empty()) MESSAGE("CUDA unavailable: " << reason);
  // Found beside the test executable (build/lib/tide), whether or not the CUDA runtime is there.
  if (!std::getenv("TIDE_CUDA_PLUGIN")) CHECK(reason.find("libtide_cuda.so: cannot open shared object file") == std::string::npos);
  CHECK(reason.find("undefined symbol") == std::string::npos);
  CHECK(reason.find("not a CUDA plugin of this build") == std::string::npos);
}
