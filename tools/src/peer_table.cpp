// Interleaved tide-vs-peer runs and their table: see peer_table.hpp.
#include "peer_table.hpp"
#include "tide/core/blas.hpp"
#include "tide/core/error.hpp"
#include <fmt/format.h>
#include <algorithm>
#include <chrono>
#include <cmath>

namespace tide::cli {
namespace {

// A side's check against the first (tide) side's, relative; NaN for that side itself.
double check_difference(const SideResult& s, const Comparison& c) {
  if (c.sides.empty() || &s == &c.sides.front()) return NAN;
  const SideResult& tide = c.sides.front();
  return std::fabs(s.check - tide.check) / std::max(std::fabs(tide.check), 1e-300);
}

double per(const SideResult& s, bool per_nfe) { return per_nfe ? s.seconds / s.nfe : s.seconds; }

// The fastest peer of the target's kind with a figure that `counts`; nullptr when there is none.
template <class Counts>
const SideResult* fastest_peer(const PeerTarget& t, const std::vector<SideResult>& sides, Counts counts) {
  const SideResult* best = nullptr;
  for (const SideResult& s : sides)
    if (!s.tide && s.label.rfind(t.peer, 0) == 0 && std::isfinite(per(s, t.per_nfe)) && counts(s) &&
        (!best || per(s, t.per_nfe) < per(*best, t.per_nfe)))
      best = &s;
  return best;
}

// A peer whose check disagrees computed something else: its time says nothing about the target,
// so the verdict reads only peers that agree, and "check disagrees" when none does.
TargetResult evaluate(const PeerTarget& t, const Comparison& c, double tolerance) {
  TargetResult r;
  r.target = t;
  const SideResult* agreeing = fastest_peer(t, c.sides, [&](const SideResult& s) { return check_agrees(s, c, tolerance); });
  const SideResult* best = agreeing ? agreeing : fastest_peer(t, c.sides, [](const SideResult&) { return true; });
  if (!best) return r;
  r.check_agrees = agreeing != nullptr;
  r.against = best->label;
  r.ratio = per(*best, t.per_nfe) / per(c.sides.front(), t.per_nfe);
  r.met = r.check_agrees && r.ratio >= t.speedup;
  return r;
}

double number_in(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? j[key].get<double>() : NAN;
}

std::string number(double v, const char* spec = "{:.3g}") { return std::isfinite(v) ? fmt::format(fmt::runtime(spec), v) : "-"; }

// The peers run on one thread each; tide's BLAS runs as many as its environment asks
// (TIDE_BLAS_THREADS, OPENBLAS_NUM_THREADS, OMP_NUM_THREADS), which the report must say.
std::string blas_threads_note(int threads) {
  if (threads <= 1) return "";
  return fmt::format("BLAS runs {} threads; small GEMMs are usually faster on one (TIDE_BLAS_THREADS=1), and the peers run on one, "
                     "so the ratios compare {} threads against one",
                     threads, threads);
}

nlohmann::json finite(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

nlohmann::json target_json(const TargetResult& t) {
  return {{"peer", t.target.peer},         {"speedup_at_least", t.target.speedup}, {"per_nfe", t.target.per_nfe},
          {"against", t.against},          {"speedup", finite(t.ratio)},           {"measured", t.measured()},
          // null when no peer figure was compared: neither agreement nor disagreement
          {"check_agrees", t.measured() ? nlohmann::json(t.check_agrees) : nlohmann::json(nullptr)},
          {"met", t.met},
          {"text", t.text()}};
}

nlohmann::json side_json(const SideResult& s, const Comparison& c, double tolerance) {
  return {{"label", s.label},
          {"tide", s.tide},
          {"ms_per_call", finite(s.seconds * 1e3)},
          {"spread", finite(s.spread)},
          {"nfe", finite(s.nfe)},
          {"first_seconds", finite(s.first_seconds)},
          {"check", finite(s.check)},
          {"check_relative_difference", finite(check_difference(s, c))},
          {"check_agrees", check_agrees(s, c, tolerance)},
          {"peer_over_tide", s.tide ? nlohmann::json(nullptr) : finite(s.seconds / c.sides.front().seconds)}};
}

}  // namespace

double spread_of(const std::vector<double>& samples) {
  std::vector<double> s;
  for (double v : samples)
    if (!std::isnan(v)) s.push_back(v);
  if (s.size() < 2) return NAN;  // one sample has no spread to speak of
  const auto [lo, hi] = std::minmax_element(s.begin(), s.end());
  return (*hi - *lo) / 2 / median(s);
}

// The peers' checks differ from tide's by up to 1.5e-6 in f32 (dopri5 at 1e-6 and GEMMs summed in
// another order) and 1e-14 in f64 (Taylor coefficients): 1e-4 and 1e-8 leave room above rounding
// and solver tolerance, far below what a different computation gives.
double check_tolerance(const std::string& dtype) {
  if (dtype == "f32") return 1e-4;
  if (dtype == "f64") return 1e-8;
  throw Error(fmt::format("tide bench --peers: no check tolerance for dtype '{}' (f32 or f64)", dtype));
}

bool check_agrees(const SideResult& s, const Comparison& c, double tolerance) {
  return (!c.sides.empty() && &s == &c.sides.front()) || check_difference(s, c) <= tolerance;
}

std::vector<TargetResult> evaluate_targets(const Comparison& c, double tolerance) {
  std::vector<TargetResult> results;
  if (!c.sides.empty() && c.sides.front().tide)
    for (const PeerTarget& t : c.targets) results.push_back(evaluate(t, c, tolerance));
  return results;
}

// "tide >= 1.5x faster than diffrax per call: tide 1.73x faster than diffrax vmap, met" (or NOT met,
// or check disagrees); a speedup below 1 reads as a bound on tide's time ("tide's time <= 1.1x jax's").
std::string TargetResult::text() const {
  const std::string unit = target.per_nfe ? " per NFE" : " per call";
  const std::string what = target.speedup >= 1 ? fmt::format("tide >= {:.3g}x faster than {}{}", target.speedup, target.peer, unit)
                                               : fmt::format("tide's time <= {:.3g}x {}'s{}", 1 / target.speedup, target.peer, unit);
  if (!measured()) return what + ": no peer figure";
  return fmt::format("{}: tide {:.2f}x faster than {}, {}", what, ratio, against,
                     !check_agrees ? "check disagrees" : met ? "met" : "NOT met");
}

void ComparisonRun::add(TideSide side) { tide_.push_back(std::move(side)); }

void ComparisonRun::add(Peer& peer, const std::string& label, nlohmann::json request) {
  if (auto w = peer.prepare(label, std::move(request))) peers_.push_back(std::move(*w));
}

Comparison ComparisonRun::run(const TimingPlan& plan) {
  Comparison c{workload_, {}, targets_};
  std::vector<TimedCase> tide_cases;
  for (const TideSide& side : tide_) {
    const auto start = std::chrono::steady_clock::now();
    SideResult r{side.label, true};
    r.check = side.call();
    r.first_seconds = elapsed_seconds(start);
    c.sides.push_back(r);
    tide_cases.push_back(repeated([call = side.call] { call(); }));
  }
  std::vector<TimedCase*> cases;
  for (TimedCase& t : tide_cases) cases.push_back(&t);
  for (PeerWorkload& p : peers_) cases.push_back(&p.timed);
  run_interleaved(cases, plan);
  for (std::size_t i = 0; i < tide_.size(); ++i) {
    c.sides[i].seconds = tide_cases[i].median_seconds();
    c.sides[i].spread = spread_of(tide_cases[i].samples);
    if (tide_[i].nfe) c.sides[i].nfe = tide_[i].nfe();
  }
  for (const PeerWorkload& p : peers_) {
    SideResult r{p.label, false, p.timed.median_seconds(), number_in(p.first, "first_seconds"), number_in(p.first, "check"),
                 p.figure("nfe"), spread_of(p.timed.samples)};
    c.sides.push_back(r);
  }
  return c;
}

std::vector<std::string> peer_status(const std::vector<const Peer*>& peers) {
  std::vector<std::string> lines;
  for (const Peer* p : peers) {
    if (!p->available() && p->errors().empty()) {
      const std::string line = fmt::format("peer not run: {}", p->why());
      if (lines.empty() || lines.back() != line) lines.push_back(line);
      continue;
    }
    std::string versions;
    for (const auto& [name, v] : p->versions().items()) versions += fmt::format(" {} {}", name, v.is_string() ? v.get<std::string>() : v.dump());
    lines.push_back(fmt::format("peer {}:{}", p->framework(), versions));
    for (const std::string& e : p->errors()) lines.push_back("  refused: " + e);
  }
  return lines;
}

// The workload's name without its description: "ltc_train_step", "tiny_solve B=64".
std::string workload_id(const std::string& workload) { return workload.substr(0, workload.find(" (")); }

void print_comparisons(const std::vector<Comparison>& comparisons, const std::vector<std::string>& status, double tolerance) {
  for (const std::string& line : status) fmt::print("{}\n", line);
  fmt::print("columns: ms/call median time per call (+-%: half the samples' range over the median); NFE evaluations of f\n"
             "per call where the workload counts them (how each side counts: the peer script's docstring, bench/peers/);\n"
             "first s: the first call, a peer's compilation included (JAX's jit, torch.compile); check: a number every\n"
             "side computes from the same weights, and its relative difference to tide's; peer/tide: the peer's time\n"
             "over the first tide row's (> 1: tide faster). Targets compare the first tide row with the fastest peer\n"
             "of a kind whose check agrees with tide's (within {:.0e}; none agrees: check disagrees; no peer figure:\n"
             "not measured).\n",
             tolerance);
  for (const Comparison& c : comparisons) {
    fmt::print("\n{}\n", c.workload);
    fmt::print("  {:<18} {:>10} {:>6} {:>8} {:>9} {:>8} {:>13} {:>8} {:>9}\n", "side", "ms/call", "+-%", "NFE", "us/NFE", "first s",
               "check", "vs tide", "peer/tide");
    const SideResult* tide = c.sides.empty() ? nullptr : &c.sides.front();
    for (const SideResult& s : c.sides) {
      const double diff = check_difference(s, c);
      fmt::print("  {:<18} {:>10} {:>6} {:>8} {:>9} {:>8} {:>13} {:>8} {:>9}\n", s.label, number(s.seconds * 1e3, "{:.4g}"),
                 number(s.spread * 100, "{:.0f}"), number(s.nfe, "{:.1f}"), number(s.seconds * 1e6 / s.nfe, "{:.3g}"),
                 number(s.first_seconds, "{:.3g}"), number(s.check, "{:.6g}"), &s == tide ? "" : number(diff, "{:.0e}"),
                 s.tide ? "" : number(s.seconds / tide->seconds, "{:.2f}x"));
    }
    for (const TargetResult& t : evaluate_targets(c, tolerance)) fmt::print("  target: {}\n", t.text());
  }
}

nlohmann::json comparisons_json(const std::vector<Comparison>& comparisons, const std::vector<std::string>& status, double tolerance) {
  nlohmann::json out{{"peer_status", status}, {"check_tolerance", tolerance}, {"workloads", nlohmann::json::array()}};
  for (const Comparison& c : comparisons) {
    nlohmann::json w{{"id", workload_id(c.workload)}, {"workload", c.workload}, {"targets", nlohmann::json::array()},
                     {"sides", nlohmann::json::array()}};
    for (const TargetResult& t : evaluate_targets(c, tolerance)) w["targets"].push_back(target_json(t));
    for (const SideResult& s : c.sides) w["sides"].push_back(side_json(s, c, tolerance));
    out["workloads"].push_back(w);
  }
  return out;
}

void print_peer_report(const std::string& suite, const std::string& dtype, const std::vector<Comparison>& comparisons,
                       const std::vector<std::string>& status, const TimingPlan& plan, bool json) {
  const int threads = blas_info().threads;  // after the runs, so the engine's thread policy applies
  const std::string note = blas_threads_note(threads);
  const double tolerance = check_tolerance(dtype);
  if (json) {
    nlohmann::json report = comparisons_json(comparisons, status, tolerance);
    report["suite"] = suite + " --peers";
    report["repeats"] = plan.repeats;
    report["tide_blas_threads"] = threads;
    report["notes"] = note.empty() ? nlohmann::json::array() : nlohmann::json::array({note});
    fmt::print("{}\n", report.dump(2));
    return;
  }
  fmt::print("tide bench {} --peers: {}, tide's BLAS on {} thread{}, each peer on one, median of {} interleaved samples; "
             "peer/tide > 1 means tide is faster\n",
             suite, dtype, threads, threads == 1 ? "" : "s", plan.repeats);
  if (!note.empty()) fmt::print("note: {}\n", note);
  print_comparisons(comparisons, status, tolerance);
}

}  // namespace tide::cli
