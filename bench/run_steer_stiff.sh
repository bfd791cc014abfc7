#!/usr/bin/env bash
# STEER's stiff ODE (section 4.4, figure 5) at the paper's scale per run (hidden 500, 1000
# intervals of 0.125 per iteration, dopri5), over stiffness ratios R (default "10 100 1000"),
# without STEER and with b = 0.124; writes the table and OUT_DIR/steer_stiff.svg.
# Usage: bench/run_steer_stiff.sh [OUT_DIR]   ITERATIONS (default 2000), STEER_STIFF (the binary)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/steer_stiff}
exe=${STEER_STIFF:-build/examples/steer_stiff}
mkdir -p "$out"
r=$(echo "${R:-10 100 1000}" | tr ' ' ',')
"$exe" --r "$r" --iterations "${ITERATIONS:-2000}" --hidden 500 --batch 1000 --eval-every 20 --out "$out/steer_stiff.svg" | tee "$out/steer_stiff.txt"
