#!/usr/bin/env bash
# What solving on each sequence's own times saves against the reference code's union of the
# batch's times: a trained PhysioNet latent ODE (a run directory of bench/run_latent_physionet.sh)
# scores the validation split with batches of 50, once with "grid": "per_sample" (each sequence
# its own grid and step size) and once with "grid": "union" (the batch's union of times, one step
# size for the batch, as torchdiffeq), same weights, same machine. Prints NFE per batch and seconds.
# Usage: bench/run_latent_grids.sh [RUN_DIR] [OUT_DIR]   (TIDE: default build/tools/tide)
set -euo pipefail
cd "$(dirname "$0")/.."
run=${1:-runs/latent_physionet/r3_0}
out=${2:-runs/latent_grids}
tide=${TIDE:-build/tools/tide}
mkdir -p "$out"
for grid in per_sample union; do
  rm -rf "$out/$grid" && mkdir -p "$out/$grid"
  cp "$run/best.tide" "$out/$grid/"
  python3 - "$run/config.json" "$grid" > "$out/$grid/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["model"]["grid"] = sys.argv[2]
c["eval_batch_size"] = 50
print(json.dumps(c))
PY
  "$tide" eval "$out/$grid" --split val > "$out/$grid/scores.json"
done
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
print("| grid | val NFE per batch | a trajectory's own NFE (mean) | val MSE | seconds (the val split) |")
print("|---|---|---|---|---|")
for g in ("per_sample", "union"):
    s = json.load(open(f"{out}/{g}/scores.json"))
    print(f"| {g} | {s['nfe']:.1f} | {s['nfe_mean']:.1f} | {s['mse']:.5f} | {s['seconds']:.2f} |")
PY
