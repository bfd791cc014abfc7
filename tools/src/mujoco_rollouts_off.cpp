// Stand-in for mujoco_rollouts.cpp in builds without MuJoCo: says so, and how to get it.
#include "mujoco_rollouts.hpp"
#include "tide/core/error.hpp"

namespace tide::cli {

bool mujoco_available() { return false; }

RolloutStats write_mujoco_rollouts(const RolloutSpec&, const std::string& out_csv) {
  fail("cannot write '{}': tide was built without MuJoCo (install libmujoco-dev and rebuild)", out_csv);
}

}  // namespace tide::cli
