#!/usr/bin/env bash
# Milliseconds per optimizer step of `tide train` for two tide binaries, run alternately in one
# session: (time of --max-steps 60 - time of --max-steps 10) / 50, so start-up and data loading
# cancel. Run from the repository root (the configs' data paths are relative to it).
#   bench/train_step_ab.sh BEFORE/tide AFTER/tide [CONFIG] [ROUNDS]
# Default config: examples/configs/mujoco/humanoid_ltc_biophysical.json (needs runs/humanoid.csv:
# build/tools/tide data mujoco --out runs/humanoid.csv --episodes 200 --steps 150).
set -euo pipefail
a=${1:?binary A}; b=${2:?binary B}
cfg=${3:-examples/configs/mujoco/humanoid_ltc_biophysical.json}
rounds=${4:-3}
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
    t60=$(seconds "$bin" 60)
    echo "$bin: $(echo "scale=1; ($t60 - $t10) * 1000 / 50" | bc) ms per step"
  done
done
