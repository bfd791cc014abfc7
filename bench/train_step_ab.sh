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
  echo "$e - $s" | bc
}
for ((r = 1; r <= rounds; ++r)); do
  for bin in "$a" "$b"; do
    t10=$(seconds "$bin" 10)
    tn=$(seconds "$bin" $((10 + steps)))
    echo "$bin: $(echo "scale=2; ($tn - $t10) * 1000 / $steps" | bc) ms per step"
  done
done
