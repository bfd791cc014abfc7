#!/usr/bin/env bash
# Speed regularisation of recurrent cells (a result no seed paper reports): LTC and ODE-RNN on LTC
# table 3's traffic task with an adaptive solver (dopri5, rtol 1e-3, atol 1e-4), trained with no
# regulariser, RNODE's kinetic term, R_2 and R_3 (weight WEIGHT); prints each run's test squared
# error and its test NFE (batched dynamics evaluations per batch, summed over the 32 steps).
# Usage: bench/run_cells_regularised.sh [OUT_DIR]
#   LIMIT (training sequences, default 3000), EPOCHS (default 4), WEIGHT (default 0.01),
#   CELLS (default "ltc ode_rnn"), TIDE (default build/tools/tide)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/cells_regularised}
tide=${TIDE:-build/tools/tide}
mkdir -p "$out"
terms="none kinetic r2 r3"
for cell in ${CELLS:-ltc ode_rnn}; do
  for term in $terms; do
    name="${cell}_$term"
    [ -f "$out/$name/summary.json" ] && continue
    python3 - "$cell" "$term" "${LIMIT:-3000}" "${EPOCHS:-4}" "${WEIGHT:-0.01}" > "$out/$name.json" <<'PY'
import json, sys
cell, term, limit, epochs, w = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
c = {"name": f"{cell}_{term}", "seed": 1, "data": {"dataset": "traffic", "limit_train": limit},
     "model": {"type": cell, "hidden": 32, "solver": {"method": "dopri5", "rtol": 1e-3, "atol": 1e-4}},
     "optimizer": {"type": "adam", "lr": 0.005}, "epochs": epochs, "batch_size": 32, "grad_clip": 1.0}
reg = {"none": None, "kinetic": {"kinetic": w}, "r2": {"taylor": {"order": 2, "weight": w}},
       "r3": {"taylor": {"order": 3, "weight": w}}}[term]
if reg: c["regularisers"] = reg
print(json.dumps(c))
PY
    "$tide" train "$out/$name.json" --out "$out/$name" --quiet > /dev/null
  done
done
python3 - "$out" ${CELLS:-ltc ode_rnn} <<'PY'
import json, sys
out, cells = sys.argv[1], sys.argv[2:]
print("| cell | regulariser | test squared error | test NFE per batch | train seconds |")
print("|---|---|---|---|---|")
for cell in cells:
    for term in ["none", "kinetic", "r2", "r3"]:
        s = json.load(open(f"{out}/{cell}_{term}/summary.json"))
        t = s["test"]
        print(f"| {cell} | {term} | {t['mse']:.4f} | {t['nfe']:.0f} | {s['seconds']:.0f} |")
PY
