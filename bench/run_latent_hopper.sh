#!/usr/bin/env bash
# STEER's table 4 in spirit: a latent ODE on MuJoCo hopper trajectories (examples/mujoco/hopper.xml
# dropped from random initial states with no control, 100 frames of 0.01 s per episode: the fall,
# the impact and the tumble, not the rest that follows), trained
# for interpolation (half of each sequence's points hidden from the encoder, all scored) and for
# extrapolation (encode the first half of each sequence, predict the second), each without and
# with STEER (the paper's b_i = |dt_i| - eps). Prints the test MSE of the best-validation model.
# Usage: bench/run_latent_hopper.sh [OUT_DIR]   EPISODES (1000), EPOCHS (40), TIDE (build/tools/tide)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/latent_hopper}
tide=${TIDE:-build/tools/tide}
mkdir -p "$out"
csv="$out/hopper.csv"
[ -f "$csv" ] || "$tide" data mujoco --model examples/mujoco/hopper.xml --controller none --init-noise 0.3 --drop 0 --frame-skip 2 \
  --episodes "${EPISODES:-1000}" --steps 100 --seed 1 --out "$csv"
for run in interp interp_steer extrap extrap_steer; do
  python3 - "$run" "$csv" "${EPOCHS:-40}" > "$out/$run.json" <<'PY'
import json, sys
run, csv, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])
model = {"type": "latent_ode", "latent": 15, "encoder_state": 30, "dynamics_hidden": [100, 100],
         "encoder_hidden": [100], "gru_units": 100, "samples": 3, "kl_annealing": {"wait": 0, "rate": 0.99}}
model.update({"task": "interpolation", "held_out": 0.5} if run.startswith("interp") else {"task": "extrapolation"})
c = {"name": "hopper_" + run, "seed": 1, "dtype": "f32",
     "data": {"dataset": "mujoco", "form": "irregular", "path": csv},
     "model": model, "optimizer": {"type": "adamax", "lr": 0.01},
     "epochs": epochs, "batch_size": 50, "eval_batch_size": 200}
if run.endswith("steer"):
    c["regularisers"] = {"steer": 1}
print(json.dumps(c))
PY
  "$tide" train "$out/$run.json" --out "$out/$run" --quiet > /dev/null
done
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
print("| task | STEER | test MSE | test NFE per trajectory | best epoch | train seconds |")
print("|---|---|---|---|---|---|")
for run in ("interp", "interp_steer", "extrap", "extrap_steer"):
    s = json.load(open(f"{out}/{run}/summary.json"))
    task = "interpolation (50% of points seen)" if run.startswith("interp") else "extrapolation (first half seen)"
    print(f"| {task} | {'yes' if run.endswith('steer') else 'no'} | {s['test']['mse']:.4f} | {s['test']['nfe_mean']:.1f} | {s['best_epoch']} | {s['seconds']:.0f} |")
PY
