#!/usr/bin/env bash
# TayNODE's MNIST studies on Fashion-MNIST at reduced scale, with the ODE image classifier.
#   fig3    (default) R_3 against no regulariser, SGD with momentum, as TayNODE's figure 3: per
#           epoch the NFE of the solve alone (the validation pass, no regulariser integrands) and
#           the training error of each run (WEIGHTS, default "0 6e-5 6e-3")
#   orders  figures 5-7 in small: adaptive solvers of order 2, 3 and 5 (heun_euler, bosh3,
#           dopri5), R_K for K = 1, 2, 3 at WEIGHTS (default "0.01 0.1") and none: the final
#           unregularised training loss against the test NFE, and R_K itself
# Usage: bench/run_taynode_fashion.sh [fig3|orders] [OUT_DIR]
#   LIMIT (images per file, default 12000 / 6000), EPOCHS (12 / 8), TOL (rtol = atol, 1e-3 / 1e-4),
#   DOWNSAMPLE (1), METHODS (orders: default "heun_euler bosh3 dopri5"), TIDE (default build/tools/tide)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-fig3}
tide=${TIDE:-build/tools/tide}
out=${2:-runs/taynode_fashion_$mode}
mkdir -p "$out"

config() {  # name, limit, downsample, epochs, method, order, weight, tol -> a config on stdout
  python3 - "$@" <<'PY'
import json, sys
name, limit, down, epochs, method, order, weight, tol = sys.argv[1:]
c = {"name": name, "seed": 1, "dtype": "f32",
     "data": {"dataset": "fashion_mnist", "encoding": "images", "limit": int(limit), "downsample": int(down), "val_fraction": 0.1},
     "model": {"type": "ode_classifier", "hidden": [100], "solver": {"method": method, "rtol": float(tol), "atol": float(tol)},
               "report_regularisers": False},
     "optimizer": {"type": "sgd", "lr": 0.1, "momentum": 0.9},
     "epochs": int(epochs), "batch_size": 100, "eval_batch_size": 500}
if float(weight) > 0:
    c["regularisers"] = {"taylor": {"order": int(order), "weight": float(weight)}}
print(json.dumps(c))
PY
}

if [ "$mode" = fig3 ]; then
  weights=${WEIGHTS:-0 6e-5 6e-3}
  for w in $weights; do
    config "fig3_r3_$w" "${LIMIT:-12000}" "${DOWNSAMPLE:-1}" "${EPOCHS:-12}" dopri5 3 "$w" "${TOL:-1e-3}" > "$out/r3_$w.json"
    "$tide" train "$out/r3_$w.json" --out "$out/r3_$w" --quiet > /dev/null
  done
  python3 - "$out" $weights <<'PY'
import json, sys
out, weights = sys.argv[1], sys.argv[2:]
rows = {w: [json.loads(l) for l in open(f"{out}/r3_{w}/metrics.jsonl")] for w in weights}
print("| epoch | " + " | ".join(f"NFE (R_3 {w}) | train error (R_3 {w})" for w in weights) + " |")
# the NFE of the solve alone: the validation pass (training NFE also counts the R_3 state's step control)
print("|---" * (1 + 2 * len(weights)) + "|")
for e in range(len(rows[weights[0]])):
    cells = []
    for w in weights:
        m = rows[w][e]
        cells += [f"{m['val_nfe']:.1f}", f"{1 - m['train_accuracy']:.3f}"]
    print(f"| {e + 1} | " + " | ".join(cells) + " |")
for w in weights:
    s = json.load(open(f"{out}/r3_{w}/summary.json"))
    print(f"R_3 weight {w}: test accuracy {s['test']['accuracy']:.4f}, test NFE {s['test']['nfe']:.1f}, {s['seconds']:.0f} s")
PY
  exit 0
fi

[ "$mode" = orders ] || { echo "usage: bench/run_taynode_fashion.sh [fig3|orders] [OUT_DIR]" >&2; exit 2; }
runs=()
for method in ${METHODS:-heun_euler bosh3 dopri5}; do
  runs+=("$method 1 0")
  for k in 1 2 3; do
    for w in ${WEIGHTS:-0.01 0.1}; do runs+=("$method $k $w"); done
  done
done
for r in "${runs[@]}"; do
  set -- $r
  name="$1_k$2_w$3"
  [ -f "$out/$name/summary.json" ] && continue
  config "$name" "${LIMIT:-6000}" "${DOWNSAMPLE:-1}" "${EPOCHS:-8}" "$1" "$2" "$3" "${TOL:-1e-4}" > "$out/$name.json"
  "$tide" train "$out/$name.json" --out "$out/$name" --quiet > /dev/null
done
python3 - "$out" "${runs[@]}" <<'PY'
import json, sys
out = sys.argv[1]
print("| solver | K | weight | final train CE | test accuracy | test NFE | train R_K (last epoch) |")
print("|---|---|---|---|---|---|---|")
for r in sys.argv[2:]:
    method, k, w = r.split()
    name = f"{method}_k{k}_w{w}"
    s = json.load(open(f"{out}/{name}/summary.json"))
    last = [json.loads(l) for l in open(f"{out}/{name}/metrics.jsonl")][-1]
    rk = last.get(f"train_R_{k}", float("nan"))
    kk = "-" if float(w) == 0 else k
    print(f"| {method} | {kk} | {w} | {last['train_ce']:.4f} | {s['test']['accuracy']:.4f} | {s['test']['nfe']:.1f} | {rk:.3g} |")
PY
