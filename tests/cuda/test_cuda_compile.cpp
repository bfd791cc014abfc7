// Compiled functions on the GPU: every case of the all-ops harness traced and replayed there equals
// the eager GPU run (values and gradients, f64, new values on the second round). Skipped, with the
// reason, where no GPU can be used.
#include "../autodiff/compile_check.hpp"
#include "cuda_test_util.hpp"

namespace tide::testing {

TEST_CASE("cuda: compiled functions equal the eager ones on every case of the all-ops harness") {
  if (tide::test::no_gpu()) return;
  for (const OpCase& c : op_cases()) {
    SUBCASE(c.label.c_str()) { check_compiled_case(c, Device::cuda(), 1e-12); }
  }
  for (const OpCase& c : composite_cases()) {
    SUBCASE(c.label.c_str()) { check_compiled_case(c, Device::cuda(), 1e-12); }
  }
}

}  // namespace tide::testing
