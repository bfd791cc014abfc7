// Interleaved tide-vs-peer runs and their table: see peer_table.hpp.
#include "peer_table.hpp"
#include <fmt/format.h>
#include <algorithm>
#include <chrono>
#include <cmath>

namespace tide::cli {
namespace {

double per(const SideResult& s, bool per_nfe) { return per_nfe ? s.seconds / s.nfe : s.seconds; }

// "tide >= 1.5x diffrax (per NFE): 1.73x (diffrax vmap), met"
std::string evaluate(const PeerTarget& t, const std::vector<SideResult>& sides) {
  const SideResult& tide = sides.front();
  const SideResult* best = nullptr;
  for (const SideResult& s : sides)
    if (!s.tide && s.label.rfind(t.peer, 0) == 0 && std::isfinite(per(s, t.per_nfe)) &&
        (!best || per(s, t.per_nfe) < per(*best, t.per_nfe)))
      best = &s;
  const std::string what = fmt::format("tide >= {:.3g}x {}{}", t.speedup, t.peer, t.per_nfe ? " per NFE" : "");
  if (!best) return what + ": no peer figure";
  const double ratio = per(*best, t.per_nfe) / per(tide, t.per_nfe);
  return fmt::format("{}: {:.2f}x against {}, {}", what, ratio, best->label, ratio >= t.speedup ? "met" : "NOT met");
}

std::string number(double v, const char* spec = "{:.3g}") { return std::isfinite(v) ? fmt::format(fmt::runtime(spec), v) : "-"; }

}  // namespace

void ComparisonRun::add(TideSide side) { tide_.push_back(std::move(side)); }

void ComparisonRun::add(Peer& peer, const std::string& label, nlohmann::json request) {
  if (auto w = peer.prepare(label, std::move(request))) peers_.push_back(std::move(*w));
}

Comparison ComparisonRun::run(const TimingPlan& plan) {
  Comparison c{workload_, {}, targets_, {}};
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
    if (tide_[i].nfe) c.sides[i].nfe = tide_[i].nfe();
  }
  for (const PeerWorkload& p : peers_) {
    SideResult r{p.label, false, p.timed.median_seconds(), p.first.value("first_seconds", NAN), NAN, p.figure("nfe")};
    if (p.first.contains("check") && p.first["check"].is_number()) r.check = p.first["check"].get<double>();
    c.sides.push_back(r);
  }
  if (!c.sides.empty() && c.sides.front().tide)
    for (const PeerTarget& t : c.targets) c.target_lines.push_back(evaluate(t, c.sides));
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

void print_comparisons(const std::vector<Comparison>& comparisons, const std::vector<std::string>& status) {
  for (const std::string& line : status) fmt::print("{}\n", line);
  for (const Comparison& c : comparisons) {
    fmt::print("\n{}\n", c.workload);
    fmt::print("  {:<22} {:>10} {:>8} {:>10} {:>9} {:>13} {:>11}\n", "side", "ms/call", "NFE", "us/NFE", "first s", "check",
               "peer/tide");
    const double tide_seconds = c.sides.empty() ? NAN : c.sides.front().seconds;
    for (const SideResult& s : c.sides)
      fmt::print("  {:<22} {:>10} {:>8} {:>10} {:>9} {:>13} {:>11}\n", s.label, number(s.seconds * 1e3, "{:.4g}"),
                 number(s.nfe, "{:.1f}"), number(s.seconds * 1e6 / s.nfe, "{:.3g}"), number(s.first_seconds, "{:.3g}"),
                 number(s.check, "{:.6g}"), s.tide ? "" : number(s.seconds / tide_seconds, "{:.2f}x"));
    for (const std::string& line : c.target_lines) fmt::print("  target: {}\n", line);
  }
}

nlohmann::json comparisons_json(const std::vector<Comparison>& comparisons, const std::vector<std::string>& status) {
  const auto finite = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  nlohmann::json out{{"peer_status", status}, {"workloads", nlohmann::json::array()}};
  for (const Comparison& c : comparisons) {
    nlohmann::json w{{"workload", c.workload}, {"targets", c.target_lines}, {"sides", nlohmann::json::array()}};
    for (const SideResult& s : c.sides)
      w["sides"].push_back({{"label", s.label}, {"tide", s.tide}, {"ms_per_call", finite(s.seconds * 1e3)}, {"nfe", finite(s.nfe)},
                            {"first_seconds", finite(s.first_seconds)}, {"check", finite(s.check)},
                            {"peer_over_tide", s.tide ? nlohmann::json(nullptr) : finite(s.seconds / c.sides.front().seconds)}});
    out["workloads"].push_back(w);
  }
  return out;
}

}  // namespace tide::cli
