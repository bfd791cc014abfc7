#!/usr/bin/env bash
# LTC paper, table 3 rows Traffic and Gesture: trains every config of examples/configs/ltc_table3
# with `tide train` and prints one line per run (test metric of the best-validation parameters).
# Usage: bench/run_ltc_table3.sh [build/tools/tide] [runs/ltc_table3]
set -euo pipefail
tide=${1:-build/tools/tide}
out=${2:-runs/ltc_table3}
mkdir -p "$out"  # also makes the directory of the summaries $out.NAME.json
for config in examples/configs/ltc_table3/*.json; do
  name=$(basename "$config" .json)
  "$tide" train "$config" --out "$out/$name" --quiet > "$out.$name.json"
  python3 -c "import json,sys; s=json.load(open('$out.$name.json')); m=s['metric']; print(f\"{s['name']:<20} {m} {s['test'][m]:.4f}  best epoch {s['best_epoch']}/{s['epochs']}  {s['seconds']:.0f} s\")"
done
