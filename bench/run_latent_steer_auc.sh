#!/usr/bin/env bash
# STEER's table 3 at reduced scale: per-sequence in-hospital mortality AUC on PhysioNet 2012 for
# the latent ODE (ODE-RNN encoder, classification task: reconstruction + 100 x cross-entropy) and
# the ODE-RNN baseline (a recurrent model on [values, mask] per step), each without and with
# STEER (latent ODE: the paper's b_i = |dt_i| - eps; ODE-RNN: each elapsed time scaled by
# U(0.01, 1.99), the nearest its per-interval form allows). Prints the test AUC of the best-
# validation model. Usage: bench/run_latent_steer_auc.sh [OUT_DIR]
#   EPOCHS (default 15), TIDE (default build/tools/tide)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/latent_steer_auc}
tide=${TIDE:-build/tools/tide}
mkdir -p "$out"
for run in latent latent_steer odernn odernn_steer; do
  python3 - "$run" "${EPOCHS:-15}" > "$out/$run.json" <<'PY'
import json, sys
run, epochs = sys.argv[1], int(sys.argv[2])
c = json.load(open("examples/configs/latent_ode/physionet.json"))
c["name"], c["epochs"] = "physionet_auc_" + run, epochs
if run.startswith("latent"):
    c["model"]["task"] = "classification"
    if run.endswith("steer"):
        c["regularisers"] = {"steer": 1}
else:
    c["data"]["form"] = "sequences"
    c["model"] = {"type": "ode_rnn", "hidden": 40, "solver": {"method": "rk4", "unfolds": 1}}
    if run.endswith("steer"):
        c["regularisers"] = {"steer": 0.99}
print(json.dumps(c))
PY
  "$tide" train "$out/$run.json" --out "$out/$run" --quiet > /dev/null
done
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
print("| model | STEER | test AUC | val AUC (best epoch) | best epoch | train seconds |")
print("|---|---|---|---|---|---|")
for run in ("latent", "latent_steer", "odernn", "odernn_steer"):
    s = json.load(open(f"{out}/{run}/summary.json"))
    name = "latent ODE (ODE-RNN enc.)" if run.startswith("latent") else "ODE-RNN"
    val = f"{s['val']['auc']:.3f}" if "auc" in s["val"] else "- (chosen by accuracy)"
    print(f"| {name} | {'yes' if run.endswith('steer') else 'no'} | {s['test']['auc']:.3f} | {val} | {s['best_epoch']} | {s['seconds']:.0f} |")
PY
