// tide's SolveOptions::torchdiffeq(method) on cases recorded from torchdiffeq itself
// (bench/peers/torchdiffeq_parity.py record): torchdiffeq's test problems (constant, sine, linear,
// harmonic, as in its tests/problems.py) with their parameters, y0, times, method and tolerances,
// and torchdiffeq's NFE and outputs. Used by `tide bench torchdiffeq` and the parity test.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace tide::cli {

// One case run by tide: {"problem", "method", "rtol", "atol", "nfe", "nfe_torchdiffeq", "ys",
// "max_abs_diff"} (the largest |tide - torchdiffeq| over every output). Throws tide::Error naming
// the case and the key for a malformed case.
nlohmann::json run_torchdiffeq_case(const nlohmann::json& recorded, std::size_t index);
// Every case of a recorded file: {"torchdiffeq": version, "cases": [...]}.
nlohmann::json run_torchdiffeq_cases(const std::string& path);

}  // namespace tide::cli
