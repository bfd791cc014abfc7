// Physics rollouts simulated with MuJoCo, written as a CSV for next-state prediction (the LTC /
// mmRNN "Half-Cheetah / Walker2d kinematics" setting): one row per kept frame, `episode,time,` then
// the model's state (qpos without the root's x,y, then qvel). 10% of frames are dropped, so the
// elapsed times are irregular. Built only with MuJoCo; mujoco_rollouts_off.cpp stands in without it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace tide::cli {

// The humanoid shipped by Debian's libmujoco-samples (27 dofs, 21 motors): Debian ships no
// half-cheetah or walker, so this is the locomotion model we use by default.
inline constexpr const char* default_mujoco_model = "/usr/share/mujoco/model/humanoid/humanoid.xml";

struct RolloutSpec {
  std::string model_path = default_mujoco_model;
  std::int64_t episodes = 100, steps = 200;  // steps: recorded frames per episode before dropping
  int frame_skip = 5;                        // physics steps per frame (the control is held)
  double random_action_fraction = 0.01;      // share of actions overwritten by uniform random ones
  double drop_fraction = 0.10;               // share of frames dropped (never the first) -> irregular times
  std::string controller = "sine";           // "sine": open-loop sinusoidal gait with per-episode random
                                             // frequency, phases and amplitudes; "random": uniform actions;
                                             // "none": no control (the passive system from its initial state)
  double init_noise = 0.02;                  // uniform +-init_noise added to joint qpos and all qvel at reset
  std::uint64_t seed = 1;
};

struct RolloutStats {
  std::int64_t rows = 0, episodes = 0, features = 0;
  double mean_dt = 0;                   // mean time between consecutive rows of an episode (seconds)
  double frame_period = 0;              // frame_skip * the model's timestep (seconds)
  std::int64_t dropped_frames = 0;      // frames recorded but not written
  std::int64_t restarts = 0;            // episodes restarted after the simulation went non-finite
  std::int64_t random_actions = 0;      // actions replaced by uniform random ones
  std::vector<std::string> feature_names;  // the CSV columns after episode,time
};

// Simulates spec.episodes episodes and writes them to out_csv atomically (temporary file, then
// rename). The same spec gives a byte-identical file. Throws tide::Error naming the model (missing
// or failing to load, with MuJoCo's message), the output path (unwritable) or the bad spec field.
RolloutStats write_mujoco_rollouts(const RolloutSpec& spec, const std::string& out_csv);

// Whether this build has MuJoCo (otherwise write_mujoco_rollouts throws saying how to get it).
bool mujoco_available();

}  // namespace tide::cli
