#!/usr/bin/env bash
# TayNODE figure 4 at reduced scale: the latent ODE on PhysioNet 2012 (interpolation, dopri5
# rtol 1e-3 atol 1e-4, the paper's architecture) trained without and with R_3 at several weights;
# prints each run's test loss, MSE and NFE. Usage: bench/run_latent_physionet.sh [OUT_DIR]
#   EPOCHS (default 20), WEIGHTS (default "0 0.001 0.01 0.1"), TIDE (default build/tools/tide)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/latent_physionet}
tide=${TIDE:-build/tools/tide}
epochs=${EPOCHS:-20}
mkdir -p "$out"
for w in ${WEIGHTS:-0 0.001 0.01 0.1}; do
  cfg="$out/r3_$w.json"
  python3 - "$w" "$epochs" > "$cfg" <<'PY'
import json, sys
c = json.load(open("examples/configs/latent_ode/physionet.json"))
w, epochs = float(sys.argv[1]), int(sys.argv[2])
c["name"] = f"latent_physionet_r3_{sys.argv[1]}"
c["epochs"] = epochs
if w > 0:
    c["regularisers"] = {"taylor": {"order": 3, "weight": w}}
print(json.dumps(c))
PY
  "$tide" train "$cfg" --out "$out/r3_$w" --quiet
done
python3 - "$out" ${WEIGHTS:-0 0.001 0.01 0.1} <<'PY'
import json, sys
out = sys.argv[1]
print("| R_3 weight | test loss | test MSE | test NFE (batched) | test NFE per trajectory | train seconds |")
print("|---|---|---|---|---|---|")
for w in sys.argv[2:]:
    s = json.load(open(f"{out}/r3_{w}/summary.json"))
    t = s["test"]
    print(f"| {w} | {t['loss']:.1f} | {t['mse']:.5f} | {t['nfe']:.1f} | {t['nfe_mean']:.1f} | {s['seconds']:.0f} |")
PY
