#!/usr/bin/env bash
# tide against ncps (PyTorch) on the LTC workloads, side by side in one session: R rounds, each
# running tide's figures and then the peers' (bench/peers/ltc_peers.py), so both see the same
# machine conditions. Prints every round's raw figures, then per figure tide's median over rounds,
# the peer's median over rounds and peer / tide (above 1: tide is faster).
#   bench/peers/compare_ltc.sh [TIDE_BINARY] [VENV] [ROUNDS] [SAMPLES]
# Defaults: build/tools/tide, .venv, 3 rounds, 20 samples per peer figure. Run from the repository
# root (tide train's config reads runs/humanoid.csv relative to it; make it with
# `build/tools/tide data mujoco --out runs/humanoid.csv --episodes 200 --steps 150`). The venv comes
# from bench/peers/setup.sh. The tide binary is copied first, so a rebuild during the run does not
# mix two builds.
#   ltc_cell_fwd_bwd           tide bench models ltc_grad_ms (--repeats 5) vs ncps LTCCell eager
#   ltc_cell_fwd_bwd_compiled  the same tide figure vs the ncps cell under torch.compile
#   ltc_train_step             tide train humanoid_ltc_biophysical.json, ms per optimizer step
#                              (bench/train_step_ab.sh, the binary as both A and B: two figures per
#                              round) vs ncps LTC(53, FullyConnected(64, 53)) + Adam
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/common.sh"

for ((r = 1; r <= rounds; ++r)); do
  echo "--- round $r/$rounds"
  g=$("$tide" bench models --json --no-epoch --repeats 5 | "$py" -c 'import json,sys; print(json.load(sys.stdin)["ltc_grad_ms"])')
  echo "{\"side\": \"tide\", \"figure\": \"ltc_grad_ms\", \"median_ms\": $g}" | tee -a "$log"
  tide_steps train_step_ms examples/configs/mujoco/humanoid_ltc_biophysical.json
  "$py" "$here/ltc_peers.py" --samples "$samples" | sed 's/^{/{"side": "ncps", /' | tee -a "$log"
done

"$py" "$here/summarize.py" "$log" ncps ms ltc_cell_fwd_bwd=ltc_grad_ms ltc_cell_fwd_bwd_compiled=ltc_grad_ms \
  ltc_train_step=train_step_ms
