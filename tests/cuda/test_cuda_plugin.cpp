// The CUDA backend plugin (libtide_cuda.so) as the core loads it: in a CUDA build, whatever keeps
// the device away (no CUDA runtime, no GPU), it is never that the plugin cannot bind to the
// program's tide symbols or belongs to another build. The missing-plugin error is checked by ctest
// in its own process (cuda_plugin_missing): the plugin is loaded once per process.
#include "cuda_test_util.hpp"

using namespace tide;

TEST_CASE("cuda: the plugin binds to the program's tide symbols") {
  if (!cuda::built()) return;
  const std::string reason = cuda::unavailable_reason();
  if (!reason.empty()) MESSAGE("CUDA unavailable: " << reason);
  CHECK(reason.find("undefined symbol") == std::string::npos);
  CHECK(reason.find("not a CUDA plugin of this build") == std::string::npos);
}
