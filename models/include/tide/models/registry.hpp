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

// `where` names the object in error messages ("model").
CellPtr make_cell(const nlohmann::json& spec, std::int64_t inputs, Generator& gen, DType dtype,
                  const std::string& where = "model");

// {"method": ..., "unfolds": ..., "rtol": ..., "atol": ..., "gradient": ...} -> OdeSpec, starting
// from `defaults`.
OdeSpec parse_ode_spec(const nlohmann::json& spec, const OdeSpec& defaults, const std::string& where);

}  // namespace tide::models
