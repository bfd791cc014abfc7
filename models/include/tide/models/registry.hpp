// Cells by name, from a JSON object such as {"type": "ltc", "hidden": 64, "solver": {"method":
// "ltc_fused", "unfolds": 6}}: what `tide train` configs and C++ users share. Every key is
// checked; an unknown key, a wrong type or an out-of-range value throws naming the key path
// (e.g. "model.solver.unfolds") and what was expected.
#pragma once
#include "tide/models/cell.hpp"
#include <nlohmann/json.hpp>

namespace tide::models {

// The cell types make_cell knows, with one line each.
const std::vector<std::pair<std::string, std::string>>& cell_types();

// `where` names the object in error messages ("model"). With `normal`, the spec normalised: every
// key the cell reads with its value, defaults filled in (what make_model records, model.hpp).
CellPtr make_cell(const nlohmann::json& spec, std::int64_t inputs, Generator& gen, DType dtype,
                  const std::string& where = "model", nlohmann::json* normal = nullptr);

// {"method": ..., "unfolds": ..., "rtol": ..., "atol": ..., "gradient": ...} -> OdeSpec, starting
// from `defaults`. A fixed-step method (and ltc_fused) reads "unfolds", an adaptive one "rtol" and
// "atol"; the keys the chosen method does not read are refused. `normal`: as make_cell's.
OdeSpec parse_ode_spec(const nlohmann::json& spec, const OdeSpec& defaults, const std::string& where,
                       nlohmann::json* normal = nullptr);

// Reading a run's recorded config (tide eval, predict, export, --resume): keys refused because
// nothing reads them (an NCP's "hidden" that is not its layers' sum, a solver key its method does
// not read: refused since 2026-12-07) are ignored, as the build that trained the run ignored them,
// and listed in warnings() instead, so that runs trained before still load. On this thread, for the
// scope's life; `on` false makes it inactive.
class RecordedSpecScope {
public:
  explicit RecordedSpecScope(bool on = true);
  ~RecordedSpecScope();
  RecordedSpecScope(const RecordedSpecScope&) = delete;
  RecordedSpecScope& operator=(const RecordedSpecScope&) = delete;
  const std::vector<std::string>& warnings() const { return warnings_; }

private:
  friend void refuse_unread_key(const std::string& message);
  RecordedSpecScope* outer_ = nullptr;
  bool on_;
  std::vector<std::string> warnings_;
};

// A key nothing reads: an error, or inside an active RecordedSpecScope a warning.
void refuse_unread_key(const std::string& message);

}  // namespace tide::models
