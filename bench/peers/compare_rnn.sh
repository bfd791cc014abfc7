#!/usr/bin/env bash
# tide against PyTorch peers on the CfC and mmRNN (ODE-LSTM) training workloads, side by side in
# one session: R rounds, each running tide's figures and then the peers' (bench/peers/rnn_peers.py),
# so both see the same machine conditions. Prints every round's raw figures, then per figure tide's
# median over rounds, the peer's median over rounds and peer / tide (above 1: tide is faster).
#   bench/peers/compare_rnn.sh [TIDE_BINARY] [VENV] [ROUNDS] [SAMPLES]
# Defaults: build/tools/tide, .venv, 3 rounds, 20 samples per peer figure. Run from the repository
# root (tide train's configs read runs/humanoid.csv relative to it; make it with
# `build/tools/tide data mujoco --out runs/humanoid.csv --episodes 200 --steps 150`). The venv comes
# from bench/peers/setup.sh. The tide binary is copied first, so a rebuild during the run does not
# mix two builds.
#   cfc_train_step    tide train bench/peers/configs/humanoid_cfc.json, ms per optimizer step
#                     (bench/train_step_ab.sh, the binary as both A and B: two figures per round)
#                     vs ncps CfC(53, 64, proj_size=53) + Adam
#   mmrnn_train_step  tide train examples/configs/mujoco/humanoid_mmrnn.json, likewise, vs the
#                     ODE-LSTM of rnn_peers.py (gates written out; and with nn.LSTMCell)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$here/common.sh"
cfc_cfg="$here/configs/humanoid_cfc.json"
mmrnn_cfg="$root/examples/configs/mujoco/humanoid_mmrnn.json"

for ((r = 1; r <= rounds; ++r)); do
  echo "--- round $r/$rounds"
  tide_steps cfc_train_step "$cfc_cfg" 400     # a few ms per step: 400 steps outlast start-up's jitter
  tide_steps mmrnn_train_step "$mmrnn_cfg" 200
  "$py" "$here/rnn_peers.py" --samples "$samples" | sed 's/^{/{"side": "torch", /' | tee -a "$log"
done

"$py" "$here/summarize.py" "$log" torch "ms per optimizer step" cfc_train_step=cfc_train_step \
  mmrnn_train_step=mmrnn_train_step mmrnn_train_step_lstmcell=mmrnn_train_step
