#!/usr/bin/env bash
# Milliseconds per optimizer step of `tide train` for two tide binaries, run alternately in one
# session: (time of --max-steps 10 + STEPS - time of --max-steps 10) / STEPS, so start-up and data
# loading cancel. STEPS (default 50) must make the difference long against start-up's jitter
# (~0.1-0.3 s): a model at a few ms per step needs a few hundred. Run from the repository root (the
# configs' data paths are relative to it).
#   bench/train_step_ab.sh BEFORE/tide AFTER/tide [CONFIG] [ROUNDS] [STEPS]
# Default config: examples/configs/mujoco/humanoid_ltc_biophysical.json (needs runs/humanoid.csv:
# build/tools/tide data mujoco --out runs/humanoid.csv --episodes 200 --steps 150).
set -euo pipefail
a=${1:?binary A}; b=${2:?binary B}
cfg=${3:-examples/configs/mujoco/humanoid_ltc_biophysical.json}
rounds=${4:-3}
steps=${5:-50}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
seconds() {  # binary steps
  rm -rf "$out/run"
  local s e
  s=$(date +%s.%N)
  "$1" train "$cfg" --out "$out/run" --max-steps "$2" --quiet > /dev/null
  e=$(date +%s.%N)
  awk -v s="$s" -v e="$e" 'BEGIN { printf "%.6f\n", e - s }'
}
for ((r = 1; r <= rounds; ++r)); do
  for bin in "$a" "$b"; do
    t10=$(seconds "$bin" 10)
    tn=$(seconds "$bin" $((10 + steps)))
    # printf, not bc: bc writes .69 and -.20, which are not JSON numbers (common.sh logs them as JSON)
    echo "$bin: $(awk -v a="$t10" -v b="$tn" -v n="$steps" 'BEGIN { printf "%.2f", (b - a) * 1000 / n }') ms per step"
  done
done
