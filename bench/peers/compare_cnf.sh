#!/usr/bin/env bash
# tide against PyTorch + torchdiffeq on a CNF training step (FFJORD's toy model, 2-64-64-64-2
# concatsquash / tanh, batch 100, learned end time), side by side in one session: R rounds, each
# running tide's figures and then the peers' (bench/peers/cnf_peers.py). Fixed-step rk4 x 8 on both
# sides, so both take 32 evaluations per solve whatever the weights; backpropagation through the
# steps. Prints every round's figures, then medians and peer / tide (above 1: tide is faster).
#   bench/peers/compare_cnf.sh [TIDE_BINARY] [VENV] [ROUNDS] [SAMPLES]
#   cnf_train_step_exact       tide train bench/peers/configs/cnf_rk4_exact.json (exact trace: D JVPs)
#                              vs FFJORD's brute-force trace (D VJPs)
#   cnf_train_step_hutchinson  tide train bench/peers/configs/cnf_rk4_hutchinson.json (one VJP)
#                              vs FFJORD's Hutchinson estimator
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
needs_humanoid=0
source "$here/common.sh"

for ((r = 1; r <= rounds; ++r)); do
  echo "--- round $r/$rounds"
  tide_steps cnf_train_step_exact "$here/configs/cnf_rk4_exact.json" 100
  tide_steps cnf_train_step_hutchinson "$here/configs/cnf_rk4_hutchinson.json" 100
  "$py" "$here/cnf_peers.py" --samples "$samples" | sed 's/^{/{"side": "torch", /' | tee -a "$log"
done

"$py" "$here/summarize.py" "$log" torch "ms per optimizer step" cnf_train_step_exact=cnf_train_step_exact \
  cnf_train_step_hutchinson=cnf_train_step_hutchinson
