// The per-sample integration loop's state (integrate.hpp has the entry point). integrate.cpp
// holds the loop; integrate_failures.cpp why a step failed: the rows no smaller step can save,
// why a ratio is infinite, and the messages that end a solve.
#pragma once
#include "integrate.hpp"
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace tide::detail::integration {

struct SampleState {
  double t = 0, h = 0, dir = 1;
  std::int64_t j = 1;              // next grid index to reach
  std::int64_t sub = 0, nsub = 1;  // fixed step: substeps done / per interval
  ControllerHistory history;
  std::int64_t steps = 0;
  bool k1_reused = false;  // the next step's first stage is this sample's last step's last stage
};

inline Tensor indices(const std::vector<std::int64_t>& v, Device device) {
  return Tensor::from_indices(v, Shape{static_cast<std::int64_t>(v.size())}, device);
}

// The samples still running, in batch order, and the Rows the dynamics see (every row while all
// run). Finished samples leave by compaction: the state and first stage are gathered to the rest.
class ActiveRows {
public:
  ActiveRows(std::vector<std::int64_t> samples, std::int64_t batch, Device device)
      : samples_(std::move(samples)), batch_(batch), device_(device) { update_rows(); }
  const std::vector<std::int64_t>& samples() const { return samples_; }
  const Rows& rows() const { return rows_; }
  std::size_t size() const { return samples_.size(); }
  bool empty() const { return samples_.empty(); }
  // keeps the rows whose `done` is false, gathering `y` and `k1` (when defined) to them
  void compact(const std::vector<char>& done, Var& y, Var& k1) {
    std::vector<std::int64_t> keep, kept;
    for (std::size_t r = 0; r < samples_.size(); ++r)
      if (!done[r]) keep.push_back(static_cast<std::int64_t>(r)), kept.push_back(samples_[r]);
    if (keep.size() == samples_.size()) return;
    if (!keep.empty()) {
      const Tensor index = indices(keep, device_);
      y = index_select(y, 0, index);
      if (k1.defined()) k1 = index_select(k1, 0, index);
    }
    samples_ = std::move(kept);
    update_rows();
  }

private:
  void update_rows() { rows_ = static_cast<std::int64_t>(samples_.size()) == batch_ ? Rows() : Rows(indices(samples_, device_)); }
  std::vector<std::int64_t> samples_;
  std::int64_t batch_;
  Device device_;
  Rows rows_;
};

// The step each running row takes: from t by h, towards target (lands: exactly onto it).
struct Proposal {
  std::vector<double> t, h, target;
  std::vector<char> lands;
};

// Outputs that fall inside one step's accepted rows, and the rows that stop at a grid time.
struct Outputs {
  std::vector<std::int64_t> pos, flat, stop_pos, stop_sample, stop_index;
  std::vector<double> theta;
  std::vector<std::vector<double>> weights;
  bool need_f_new = false;
};

// Why a row's error ratio is infinite, most telling last: a shared step takes the batch's worst.
enum InfiniteRatio : char { ratio_finite = 0, error_infinite = 1, newton_failed = 2, newton_matrix_singular = 3, state_non_finite = 4 };

class Integrator {
public:
  Integrator(System& system, const Var& y0, const Grid& grid, const Plan& plan, SolveStats& stats);
  Integration run();

private:
  // The members marked inline are defined in integrate.cpp and called only there, so the compiler
  // may fold them into the loop as it did while the class was local to that file (their calls
  // cost 0.3% of a tiny solve's instructions). The constructor and run() are integrate.cpp's too;
  // the other members are integrate_failures.cpp's.
  StepContext context() {
    return StepContext{system_, active_.rows(), active_.samples(), stats_, plan_.count_backward, plan_.norm.atol(), plan_.norm.rtol(),
                       memory_.get()};
  }
  inline void choose_first_steps();
  inline Proposal propose();
  inline void plan_fixed_step(SampleState& x, std::int64_t b, std::size_t r, Proposal& p);
  inline std::vector<double> decide(const Var& y, const StepResult& st, const Proposal& p, std::vector<char>& accepted);
  void check_fixed_step(const StepResult& st, const Proposal& p);
  void note_infinite_ratios(const StepResult& st, const Proposal& p, const std::vector<double>& ratio);
  void fail_if_hopeless(const StepResult& st, const Proposal& p, const std::vector<char>& rows);
  std::string zero_scale_note(std::size_t r) const;
  void restep_accepted(const Proposal& p, const std::vector<char>& accepted, StepResult& st);
  inline Outputs advance(const Proposal& p, const std::vector<char>& accepted, const std::vector<double>& ratio);
  inline void control_step(std::size_t r, const Proposal& p, bool accepted, double ratio, double ratio_power);
  inline bool ends_sample(std::size_t r, const Proposal& p) const;
  std::string underflow_message(std::size_t r, double ratio, double h_rejected) const;
  inline void place_outputs(std::size_t r, const Proposal& p, double t_new, Outputs& out);
  inline void keep_outputs(const Var& y, const StepResult& st, const Var& f_new, Outputs& out);
  inline void log_step(const Var& y, const Proposal& p, const std::vector<char>& accepted, const Outputs& out);
  bool rejected_non_finite(const std::vector<char>& accepted, const std::vector<double>& ratio) const;
  inline std::vector<char> finished() const;
  inline void note_first_stages(const std::vector<char>& rows, bool reused);
  inline void step_once();
  inline Var assemble() const;
  [[noreturn]] void fail_at(std::size_t r, const std::string& what, double h);

  System& system_;
  const Grid& grid_;
  const Plan& plan_;
  SolveStats& stats_;
  const Stepper& stepper_;
  std::unique_ptr<StepperMemory> memory_;  // what the stepper keeps between this integration's steps
  const DType dtype_;
  const Device device_;  // every tensor the loop makes lives with the state
  const bool adaptive_;
  const ErrorScale scale_;
  std::vector<SampleState> s_;
  // why each row's last error ratio was infinite (an InfiniteRatio), for the message when it fails
  std::vector<char> infinite_;
  ActiveRows active_;
  Var y_, k1_;
  std::vector<Var> pieces_;
  std::vector<std::int64_t> piece_flat_;  // (j * B + b) of each piece row, in order
  Integration result_;
};

}  // namespace tide::detail::integration
