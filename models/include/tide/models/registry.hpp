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

}  // namespace tide::models
