// A workload measured on tide and on its peers in one interleaved run, and the table that reports
// it: each side's time per call, NFE and time per NFE where the workload counts evaluations, time
// to first result (JAX's compilation included), the number both sides compute (`check`, from the
// same weights), and the peer's time over tide's. Shared by `tide bench solvers --peers` and
// `tide bench taylor --peers`.
#pragma once
#include "peers.hpp"
#include "timing.hpp"
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace tide::cli {

// One of tide's ways of running the workload. `call` runs it once and returns its check value;
// `nfe` (optional) reads the evaluations of the last call.
struct TideSide {
  std::string label;
  std::function<double()> call;
  std::function<double()> nfe;
};

// A speed target: tide (its first side) at least `speedup` times faster than the fastest peer
// whose label starts with `peer`, per call or per NFE.
struct PeerTarget {
  std::string peer;
  double speedup;
  bool per_nfe = false;
};

struct SideResult {
  std::string label;
  bool tide = false;
  double seconds = NAN, first_seconds = NAN, check = NAN, nfe = NAN;
  double spread = NAN;  // (max - min) / 2 of the samples, over their median; NaN for fewer than 2
};

// A target evaluated: ratio is the time (per call or per NFE) of the fastest matching peer whose
// check agrees with tide's, over tide's. When no matching peer's check agrees, it is the fastest
// matching peer's, and the verdict reads "check disagrees" instead of met / NOT met. With no
// matching peer figure (peers absent or failed) nothing was compared: against is "", check_agrees
// false, and the JSON's check_agrees null.
struct TargetResult {
  PeerTarget target;
  std::string against;  // the peer's label; "" when no peer figure exists
  double ratio = NAN;
  bool check_agrees = false;  // against's check agrees with tide's; false when there is no against
  bool met = false;           // never when the check disagrees
  bool measured() const { return !against.empty(); }
  std::string text() const;
};

struct Comparison {
  std::string workload;  // "tiny_solve B=64"
  std::vector<SideResult> sides;
  std::vector<PeerTarget> targets;  // evaluated by the report (evaluate_targets), which knows the dtype
};

// The relative difference of checks that still agree, for the workloads' dtype ("f32", "f64").
double check_tolerance(const std::string& dtype);
// Whether side s's check is within `tolerance` (relative) of the first tide side's; that side agrees.
bool check_agrees(const SideResult& s, const Comparison& c, double tolerance);
std::vector<TargetResult> evaluate_targets(const Comparison& c, double tolerance);
// (max - min) / 2 of the samples that are not NaN, over their median; NaN for fewer than two.
double spread_of(const std::vector<double>& samples);

class ComparisonRun {
public:
  ComparisonRun(std::string workload, std::vector<PeerTarget> targets) : workload_(std::move(workload)), targets_(std::move(targets)) {}
  void add(TideSide side);
  // Prepares `request` on `peer` (when it is available) under `label`.
  void add(Peer& peer, const std::string& label, nlohmann::json request);
  // Times every side round-robin (each side's first call timed on its own first).
  Comparison run(const TimingPlan& plan);

private:
  std::string workload_;
  std::vector<PeerTarget> targets_;
  std::vector<TideSide> tide_;
  std::vector<PeerWorkload> peers_;
};

// The peers' status lines: versions, or why a peer did not run, and the errors of refused cases.
std::vector<std::string> peer_status(const std::vector<const Peer*>& peers);

void print_comparisons(const std::vector<Comparison>& comparisons, const std::vector<std::string>& status, double tolerance);
nlohmann::json comparisons_json(const std::vector<Comparison>& comparisons, const std::vector<std::string>& status,
                                double tolerance);

// Prints a `--peers` suite's report, as JSON or as the table under a header line naming the suite
// ("solvers") and the dtype ("f32").
void print_peer_report(const std::string& suite, const std::string& dtype, const std::vector<Comparison>& comparisons,
                       const std::vector<std::string>& status, const TimingPlan& plan, bool json);

}  // namespace tide::cli
