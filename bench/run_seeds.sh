#!/usr/bin/env bash
# Trains each config for several seeds with `tide train` and prints, per config, the test metric of
# the best-validation parameters as mean ± sample std over the seeds (and the wall time per run).
# Usage: bench/run_seeds.sh TIDE OUT_DIR EPOCHS "SEEDS" CONFIG.json...
#   e.g. bench/run_seeds.sh build/tools/tide runs/gesture 150 "1 2 3 4 5" examples/configs/ltc_table3/gesture_*.json
set -euo pipefail
tide=$1 out=$2 epochs=$3 seeds=$4
shift 4
mkdir -p "$out"
for config in "$@"; do
  name=$(basename "$config" .json)
  for seed in $seeds; do
    "$tide" train "$config" --out "$out/$name/seed$seed" --epochs "$epochs" --seed "$seed" --quiet > "$out/$name.seed$seed.json"
  done
  python3 - "$out" "$name" $seeds <<'PY'
import json, statistics, sys
out, name, seeds = sys.argv[1], sys.argv[2], sys.argv[3:]
runs = [json.load(open(f"{out}/{name}.seed{s}.json")) for s in seeds]
metric = runs[0]["metric"]
values = [r["test"][metric] for r in runs]
scale = 100 if metric == "accuracy" else 1
mean = statistics.mean(values) * scale
std = statistics.stdev(values) * scale if len(values) > 1 else 0.0
best = ",".join(str(r["best_epoch"]) for r in runs)
secs = statistics.mean(r["seconds"] for r in runs)
print(f"{name:<24} {metric} {mean:.4g} ± {std:.2g}  (n={len(values)}, epochs {runs[0]['epochs']}, best epochs {best}, {secs:.0f} s/run)", flush=True)
PY
done
