// MuJoCo rollouts (see mujoco_rollouts.hpp). One std::mt19937_64 seeded with spec.seed drives
// every random choice in a fixed order, so the same spec gives the same bytes.
#include "mujoco_rollouts.hpp"
#include "tide/core/atomic_file.hpp"
#include "tide/core/error.hpp"
#include <mujoco/mujoco.h>
#include <fmt/format.h>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <csetjmp>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <numbers>
#include <random>
#include <set>
#include <type_traits>

namespace tide::cli {
namespace {

// Uniform draws from raw 64-bit words (std::uniform_real_distribution may differ between
// standard libraries; this does not).
class Random {
public:
  explicit Random(std::uint64_t seed) : engine_(seed) {}
  double unit() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }  // [0, 1)
  double uniform(double lo, double hi) { return lo + (hi - lo) * unit(); }
  std::uint64_t below(std::uint64_t n) { return engine_() % n; }

private:
  std::mt19937_64 engine_;
};

struct ModelDeleter {
  void operator()(mjModel* m) const { mj_deleteModel(m); }
};
struct DataDeleter {
  void operator()(mjData* d) const { mj_deleteData(d); }
};

// MuJoCo's default warning handler prints and appends to MUJOCO_LOG.TXT in the working directory;
// we detect the warnings we care about from mjData instead, so silence it while we simulate.
void ignore_warning(const char*) {}
class QuietWarnings {
public:
  QuietWarnings() : previous_(mju_user_warning) { mju_user_warning = ignore_warning; }
  ~QuietWarnings() { mju_user_warning = previous_; }
  QuietWarnings(const QuietWarnings&) = delete;
  QuietWarnings& operator=(const QuietWarnings&) = delete;

private:
  void (*previous_)(const char*);
};

// MuJoCo's fatal errors (its stack too small for the contacts, memory it cannot allocate) call
// mju_user_error, which must not return: the default one prints, waits for Enter, then exits the
// process. Inside mujoco_call the handler jumps back with the message instead; between the setjmp
// and the longjmp lie only MuJoCo's C frames and the caller's trivially destructible lambda.
thread_local std::jmp_buf* fatal_exit = nullptr;
thread_local char fatal_message[512];
[[noreturn]] void jump_back(const char* message) {
  if (!fatal_exit) {  // MuJoCo called on another thread while this one rolls out (rollouts are single-threaded)
    std::fprintf(stderr, "MuJoCo fatal error outside a rollout call: %s\n", message);
    std::abort();
  }
  std::snprintf(fatal_message, sizeof fatal_message, "%s", message);
  std::longjmp(*fatal_exit, 1);
}

// Sends MuJoCo's fatal errors to jump_back(`here`) while it lives, and puts the previous handler
// (and an outer call's jump) back however the call ends.
class FatalErrorsJumpTo {
public:
  explicit FatalErrorsJumpTo(std::jmp_buf* here) : previous_(mju_user_error), outer_(fatal_exit) {
    fatal_exit = here, mju_user_error = jump_back;
  }
  ~FatalErrorsJumpTo() { mju_user_error = previous_, fatal_exit = outer_; }
  FatalErrorsJumpTo(const FatalErrorsJumpTo&) = delete;
  FatalErrorsJumpTo& operator=(const FatalErrorsJumpTo&) = delete;

private:
  void (*previous_)(const char*);
  std::jmp_buf* outer_;
};

// Runs call() (a MuJoCo function), throwing tide::Error naming what() and MuJoCo's message if it
// reports a fatal error. The guard lives in this frame, which the jump returns to, so it is not
// skipped.
template <class Call, class What> void mujoco_call(const Call& call, const What& what) {
  static_assert(std::is_trivially_destructible_v<Call>);
  std::jmp_buf here;
  {
    const FatalErrorsJumpTo guard(&here);
    if (setjmp(here) == 0) {
      call();
      return;
    }
  }
  fail("mujoco rollouts: {}: MuJoCo stopped with '{}'{}", what(), fatal_message,
       std::string_view(fatal_message).find("tack") != std::string_view::npos ? " (a larger <size nstack=...> in the model may help)" : "");
}

// Column names keep CSV-safe characters only.
std::string column_name(const std::string& name) {
  std::string out = name;
  for (char& c : out)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) c = '_';
  return out;
}

// The joints' names as columns, unique: names that become the same ("a.b" and "a_b" are both a_b,
// and an unnamed joint's joint<j> may be taken) get _2, _3, ... in joint order, as a CSV reader
// refuses a column named twice. Every column is qpos_/qvel_<joint>_<one digit>, so unique joint
// names give unique columns.
std::vector<std::string> joint_columns(const mjModel* m) {
  std::vector<std::string> names;
  std::set<std::string> taken;
  for (int j = 0; j < m->njnt; ++j) {
    const char* name = mj_id2name(m, mjOBJ_JOINT, j);
    const std::string base = column_name(name && *name ? name : fmt::format("joint{}", j));
    std::string unique = base;
    for (int k = 2; taken.contains(unique); ++k) unique = fmt::format("{}_{}", base, k);
    taken.insert(unique);
    names.push_back(unique);
  }
  return names;
}

// The state columns: qpos entries (less the root's x,y position) then every qvel entry.
struct StateLayout {
  std::vector<int> qpos_index;
  std::vector<std::string> names;
};

StateLayout state_layout(const mjModel* m) {
  StateLayout layout;
  const std::vector<std::string> joint = joint_columns(m);
  auto qpos_size = [](int type) { return type == mjJNT_FREE ? 7 : type == mjJNT_BALL ? 4 : 1; };
  auto dof_size = [](int type) { return type == mjJNT_FREE ? 6 : type == mjJNT_BALL ? 3 : 1; };
  for (int j = 0; j < m->njnt; ++j) {
    const int type = m->jnt_type[j];
    const bool on_root = m->body_parentid[m->jnt_bodyid[j]] == 0;
    const mjtNum* axis = m->jnt_axis + 3 * j;
    // A root slide along x or y (half-cheetah's rootx) is a horizontal position as well.
    const bool horizontal_slide = type == mjJNT_SLIDE && on_root && axis[2] == 0 && (axis[0] == 0 || axis[1] == 0);
    for (int i = 0; i < qpos_size(type); ++i) {
      if (on_root && ((type == mjJNT_FREE && i < 2) || horizontal_slide)) continue;
      layout.qpos_index.push_back(m->jnt_qposadr[j] + i);
      layout.names.push_back(fmt::format("qpos_{}_{}", joint[static_cast<std::size_t>(j)], i));
    }
  }
  for (int j = 0; j < m->njnt; ++j)
    for (int i = 0; i < dof_size(m->jnt_type[j]); ++i)
      layout.names.push_back(fmt::format("qvel_{}_{}", joint[static_cast<std::size_t>(j)], i));
  return layout;
}

void check_spec(const RolloutSpec& spec) {
  if (spec.episodes < 1) fail("mujoco rollouts: episodes must be at least 1 (got {})", spec.episodes);
  if (spec.steps < 1) fail("mujoco rollouts: steps must be at least 1 (got {})", spec.steps);
  if (spec.frame_skip < 1) fail("mujoco rollouts: frame_skip must be at least 1 (got {})", spec.frame_skip);
  if (!(spec.random_action_fraction >= 0 && spec.random_action_fraction <= 1))
    fail("mujoco rollouts: random_action_fraction must be in [0, 1] (got {})", spec.random_action_fraction);
  if (!(spec.drop_fraction >= 0 && spec.drop_fraction < 1))
    fail("mujoco rollouts: drop_fraction must be in [0, 1) (got {})", spec.drop_fraction);
  if (!(spec.init_noise >= 0 && std::isfinite(spec.init_noise)))
    fail("mujoco rollouts: init_noise must be finite and non-negative (got {})", spec.init_noise);
  if (spec.controller != "sine" && spec.controller != "random" && spec.controller != "none")
    fail("mujoco rollouts: unknown controller '{}' (available: sine, random, none)", spec.controller);
}

// One episode's simulation; frames[f] = {time, state...}. False when the state went non-finite.
class Simulator {
public:
  Simulator(const RolloutSpec& spec, const mjModel* m, mjData* d, const StateLayout& layout, Random& random)
      : spec_(spec), m_(m), d_(d), layout_(layout), random_(random) {
    for (int a = 0; a < m->nu; ++a) {
      const bool limited = m->actuator_ctrllimited[a];
      low_.push_back(limited ? m->actuator_ctrlrange[2 * a] : -1.0);
      high_.push_back(limited ? m->actuator_ctrlrange[2 * a + 1] : 1.0);
    }
  }

  bool run(std::vector<std::vector<double>>& frames, std::int64_t& random_actions) {
    reset();
    frames.clear();
    for (std::int64_t f = 0; f < spec_.steps; ++f) {
      if (f > 0) {
        random_actions += act();
        for (int s = 0; s < spec_.frame_skip; ++s) {
          mujoco_call([this] { mj_step(m_, d_); }, [&] { return where(f); });
          if (went_bad()) return false;
        }
      }
      frames.push_back(record());
      for (double v : frames.back())
        if (!std::isfinite(v)) return false;
    }
    return true;
  }

private:
  void reset() {
    mj_resetData(m_, d_);
    for (auto& w : d_->warning) w.number = 0;
    for (int j = 0; j < m_->njnt; ++j)  // quaternions (free, ball) stay as they are
      if (m_->jnt_type[j] == mjJNT_HINGE || m_->jnt_type[j] == mjJNT_SLIDE)
        d_->qpos[m_->jnt_qposadr[j]] += random_.uniform(-spec_.init_noise, spec_.init_noise);
    for (int i = 0; i < m_->nv; ++i) d_->qvel[i] += random_.uniform(-spec_.init_noise, spec_.init_noise);
    // a gait: one frequency, a phase and an amplitude per actuator
    frequency_ = random_.uniform(0.5, 2.0);
    phase_.resize(static_cast<std::size_t>(m_->nu));
    amplitude_.resize(static_cast<std::size_t>(m_->nu));
    for (int a = 0; a < m_->nu; ++a) {
      phase_[static_cast<std::size_t>(a)] = random_.uniform(0, 2 * std::numbers::pi);
      amplitude_[static_cast<std::size_t>(a)] = random_.uniform(0.3, 1.0);
    }
    mujoco_call([this] { mj_forward(m_, d_); }, [this] { return where(0); });
  }

  std::string where(std::int64_t frame) const {
    return fmt::format("simulating '{}' (frame {} of an episode)", spec_.model_path, frame);
  }

  // Sets ctrl for the next frame; returns 1 when the action was replaced by a random one.
  int act() {
    if (spec_.controller == "none") {  // passive dynamics from the initial state (STEER's hopper data)
      for (int a = 0; a < m_->nu; ++a) d_->ctrl[a] = 0;
      return 0;
    }
    const bool random_action = spec_.controller == "random" || random_.unit() < spec_.random_action_fraction;
    for (int a = 0; a < m_->nu; ++a) {
      const auto k = static_cast<std::size_t>(a);
      double u;
      if (random_action) {
        u = random_.uniform(low_[k], high_[k]);
      } else {  // mid + amplitude * half-range * sin(2 pi f t + phase)
        const double mid = 0.5 * (low_[k] + high_[k]), half = 0.5 * (high_[k] - low_[k]);
        u = mid + amplitude_[k] * half * std::sin(2 * std::numbers::pi * frequency_ * d_->time + phase_[k]);
      }
      d_->ctrl[a] = std::clamp(u, low_[k], high_[k]);
    }
    return random_action && spec_.controller != "random" ? 1 : 0;
  }

  bool went_bad() const {
    return d_->warning[mjWARN_BADQACC].number > 0 || d_->warning[mjWARN_BADQPOS].number > 0 ||
           d_->warning[mjWARN_BADQVEL].number > 0;
  }

  std::vector<double> record() const {
    std::vector<double> row;
    row.reserve(layout_.names.size() + 1);
    row.push_back(d_->time);
    for (int i : layout_.qpos_index) row.push_back(d_->qpos[i]);
    for (int i = 0; i < m_->nv; ++i) row.push_back(d_->qvel[i]);
    return row;
  }

  const RolloutSpec& spec_;
  const mjModel* m_;
  mjData* d_;
  const StateLayout& layout_;
  Random& random_;
  std::vector<double> low_, high_, phase_, amplitude_;
  double frequency_ = 1;
};

constexpr int max_restarts_per_episode = 100;

std::unique_ptr<mjModel, ModelDeleter> load_model(const RolloutSpec& spec) {
  if (std::FILE* probe = std::fopen(spec.model_path.c_str(), "rb")) {
    std::fclose(probe);
  } else {
    fail("mujoco rollouts: cannot open the model '{}' ({})", spec.model_path, std::strerror(errno));
  }
  char load_error[1000] = "";
  std::unique_ptr<mjModel, ModelDeleter> model(mj_loadXML(spec.model_path.c_str(), nullptr, load_error, sizeof load_error));
  if (!model) {  // MuJoCo's message spans lines ("XML Error: ...\nElement 'geom', line 1\n")
    std::string message = load_error;
    while (!message.empty() && std::isspace(static_cast<unsigned char>(message.back()))) message.pop_back();
    std::replace(message.begin(), message.end(), '\n', ' ');
    fail("mujoco rollouts: cannot load the model '{}': {}", spec.model_path, message);
  }
  return model;
}

// Which of an episode's frames to drop: exactly n_drop of frames 1..steps-1 (a partial
// Fisher-Yates shuffle picks them).
std::vector<char> dropped_frames(const RolloutSpec& spec, std::int64_t n_drop, Random& random) {
  std::vector<std::int64_t> order(static_cast<std::size_t>(spec.steps - 1));
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<std::int64_t>(i) + 1;
  std::vector<char> dropped(static_cast<std::size_t>(spec.steps), 0);
  for (std::int64_t i = 0; i < n_drop; ++i) {
    const auto pick = i + static_cast<std::int64_t>(random.below(static_cast<std::uint64_t>(spec.steps - 1 - i)));
    std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(pick)]);
    dropped[static_cast<std::size_t>(order[static_cast<std::size_t>(i)])] = 1;
  }
  return dropped;
}

// The CSV rows of one episode's kept frames; sums the elapsed times for the mean dt.
void append_episode(fmt::memory_buffer& text, std::int64_t episode, const std::vector<std::vector<double>>& frames,
                    const std::vector<char>& dropped, RolloutStats& stats, double& dt_sum, std::int64_t& dt_count) {
  double previous_time = 0;
  for (std::size_t f = 0; f < frames.size(); ++f) {
    if (dropped[f]) continue;
    const auto& row = frames[f];
    if (f > 0) dt_sum += row[0] - previous_time, ++dt_count;
    previous_time = row[0];
    fmt::format_to(std::back_inserter(text), "{},{:.9g}", episode, row[0]);
    for (std::size_t i = 1; i < row.size(); ++i) fmt::format_to(std::back_inserter(text), ",{:.9g}", row[i]);
    text.push_back('\n');
    ++stats.rows;
  }
}

}  // namespace

bool mujoco_available() { return true; }

RolloutStats write_mujoco_rollouts(const RolloutSpec& spec, const std::string& out_csv) {
  check_spec(spec);
  QuietWarnings quiet;
  const std::unique_ptr<mjModel, ModelDeleter> model = load_model(spec);
  mjData* made = nullptr;
  mujoco_call([&made, &model] { made = mj_makeData(model.get()); },
              [&spec] { return fmt::format("allocating the simulation data of '{}'", spec.model_path); });
  std::unique_ptr<mjData, DataDeleter> data(made);
  if (!data) fail("mujoco rollouts: cannot allocate the simulation data for '{}'", spec.model_path);
  if (!(model->opt.timestep > 0) || !std::isfinite(model->opt.timestep))  // the frames would not advance in time
    fail("mujoco rollouts: the model '{}' has timestep {}: it must be positive (<option timestep=\"0.002\"/>)", spec.model_path,
         model->opt.timestep);

  const StateLayout layout = state_layout(model.get());
  RolloutStats stats;
  stats.features = static_cast<std::int64_t>(layout.names.size());
  stats.feature_names = layout.names;
  stats.frame_period = spec.frame_skip * model->opt.timestep;

  AtomicFile file(out_csv, fmt::format("mujoco rollouts: writing '{}'", out_csv));

  fmt::memory_buffer text;
  fmt::format_to(std::back_inserter(text), "episode,time");
  for (const auto& name : layout.names) fmt::format_to(std::back_inserter(text), ",{}", name);
  text.push_back('\n');

  Random random(spec.seed);
  Simulator simulator(spec, model.get(), data.get(), layout, random);
  std::vector<std::vector<double>> frames;
  double dt_sum = 0;
  std::int64_t dt_count = 0;
  const auto n_drop = static_cast<std::int64_t>(std::llround(spec.drop_fraction * static_cast<double>(spec.steps - 1)));
  for (std::int64_t episode = 0; episode < spec.episodes; ++episode) {
    for (int attempt = 0; !simulator.run(frames, stats.random_actions); ++attempt) {
      if (attempt == max_restarts_per_episode)
        fail("mujoco rollouts: episode {} of '{}' went non-finite {} times in a row; lower init_noise or the "
             "model's timestep", episode, spec.model_path, attempt + 1);
      ++stats.restarts;
    }
    append_episode(text, episode, frames, dropped_frames(spec, n_drop, random), stats, dt_sum, dt_count);
    stats.dropped_frames += n_drop;
    file.write(std::string_view(text.data(), text.size()));
    text.clear();
  }
  stats.episodes = spec.episodes;
  stats.mean_dt = dt_count ? dt_sum / static_cast<double>(dt_count) : 0;
  file.commit();
  return stats;
}

}  // namespace tide::cli
