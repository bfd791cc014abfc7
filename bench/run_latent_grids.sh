#!/usr/bin/env bash
# What solving on each sequence's own times saves against the reference code's union of the
# batch's times: one epoch of the PhysioNet latent ODE (limit_train records, batch 50, dopri5
# rtol 1e-3 atol 1e-4) from the same initial weights, once with "grid": "per_sample" and once
# with "grid": "union" (one step size for the batch, as torchdiffeq). Prints NFE per batch and
# seconds per epoch, forward and with the gradient. Usage: bench/run_latent_grids.sh [OUT_DIR]
#   LIMIT (default 1000), TIDE (default build/tools/tide)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/latent_grids}
tide=${TIDE:-build/tools/tide}
mkdir -p "$out"
for grid in per_sample union; do
  python3 - "$grid" "${LIMIT:-1000}" > "$out/$grid.json" <<'PY'
import json, sys
c = json.load(open("examples/configs/latent_ode/physionet.json"))
c["name"] = "latent_grid_" + sys.argv[1]
c["model"]["grid"] = sys.argv[1]
c["data"]["limit_train"] = int(sys.argv[2])
c["epochs"] = 1
print(json.dumps(c))
PY
  "$tide" train "$out/$grid.json" --out "$out/$grid" --quiet > /dev/null
done
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
print("| grid | train NFE per batch (forward) | trajectory's own NFE | val NFE per batch | epoch seconds (train + val) |")
print("|---|---|---|---|---|")
for g in ("per_sample", "union"):
    r = json.loads(open(f"{out}/{g}/metrics.jsonl").readline())
    print(f"| {g} | {r['train_nfe']:.1f} | {r['train_nfe_mean']:.1f} | {r['val_nfe']:.1f} | {r['epoch_seconds']:.1f} |")
PY
