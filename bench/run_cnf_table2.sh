#!/usr/bin/env bash
# TayNODE's table 2 in spirit, on a 2-D toy density instead of MNIST: a CNF trained with no
# regulariser, with RNODE (K + B, both weighted w) and with TayNODE's R_2 (weight w), each with an
# adaptive solver (dopri5) and with fixed-step RK4 at a few step counts, all evaluated with dopri5
# (exact trace): test NLL, test NFE and R_2, B, K at test time, and the training wall time.
# Prints a markdown table.
# Usage: [WEIGHTS="0.01 0.1"] [TRAIN="adaptive 4 8"] [NONE=1] bench/run_cnf_table2.sh TIDE OUT_DIR [EPOCHS] [DATASET]
#   e.g. bench/run_cnf_table2.sh build/tools/tide runs/cnf_table2 5 8gaussians
#   NONE=0 leaves out the unregularised runs (for a second sweep of weights into the same OUT_DIR).
set -euo pipefail
tide=$1 out=$2 epochs=${3:-5} toy=${4:-8gaussians}
weights=${WEIGHTS:-0.01} train=${TRAIN:-adaptive 4 8}
mkdir -p "$out"
export OPENBLAS_NUM_THREADS=1
regs=""
[ "${NONE:-1}" = 1 ] && regs="none"
for w in $weights; do regs="$regs rnode$w taynode$w"; done
for reg in $regs; do
  for s in $train; do
    name="${reg}_${s}"
    python3 - "$out/$name.json" "$toy" "$reg" "$s" <<'PY'
import json, sys
path, toy, reg, steps = sys.argv[1:]
solver = {"method": "dopri5", "rtol": 1e-5, "atol": 1e-5, "trace": "exact"}
train = dict(solver) if steps == "adaptive" else {"method": "rk4", "steps": int(steps), "trace": "exact"}
kind = reg.rstrip("0123456789.")
w = float(reg[len(kind):]) if kind != "none" else 0.0
regs = {"none": {}, "rnode": {"kinetic": w, "jacobian": w}, "taynode": {"taylor": {"order": 2, "weight": w}}}[kind]
config = {"name": f"{reg}_{steps}", "seed": 1,
          "data": {"dataset": "toy", "name": toy, "train": 20000, "val": 1000, "test": 5000},
          "model": {"type": "cnf", "hidden": [64, 64, 64], "solver": train, "test_solver": solver, "report_regularisers": True},
          "optimizer": {"type": "adam", "lr": 0.001, "weight_decay": 1e-5},
          "epochs": 5, "batch_size": 100, "eval_batch_size": 1000, "regularisers": regs}
json.dump(config, open(path, "w"), indent=1)
PY
    if ! "$tide" train "$out/$name.json" --out "$out/$name" --epochs "$epochs" --quiet > "$out/$name.summary.json" 2> "$out/$name.err"; then
      echo "{\"name\": \"$name\", \"failed\": $(python3 -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read().strip()[-200:]))' "$out/$name.err")}" > "$out/$name.summary.json"
    fi
  done
done
python3 - "$out" <<'PY'
import json, glob, re, sys
out = sys.argv[1]
def key(path):
    name = path.split("/")[-1][:-len(".summary.json")]
    reg, steps = name.rsplit("_", 1)
    kind = reg.rstrip("0123456789.")
    w = float(reg[len(kind):]) if kind != "none" else 0.0
    return (["none", "rnode", "taynode"].index(kind), w, steps != "adaptive", int(steps) if steps.isdigit() else 0)
print("| regulariser | weight | training steps | train s | test NLL (nats) | test NFE | R_2 | B | K |")
print("|---|---|---|---|---|---|---|---|---|")
for path in sorted(glob.glob(f"{out}/*.summary.json"), key=key):
    s = json.load(open(path))
    reg, steps = s["name"].rsplit("_", 1)
    kind = reg.rstrip("0123456789.")
    w = reg[len(kind):] or "-"
    steps = "adaptive" if steps == "adaptive" else f"RK4 x{steps}"
    if "failed" in s:
        print(f"| {kind} | {w} | {steps} | - | failed: {s['failed']} | | | | |")
        continue
    t = s["test"]
    print(f"| {kind} | {w} | {steps} | {s['seconds']:.0f} | {t['nll']:.3f} | {t['nfe']:.0f} | {t.get('R_2', float('nan')):.3g} | {t.get('B', float('nan')):.3g} | {t.get('K', float('nan')):.3g} |")
PY
