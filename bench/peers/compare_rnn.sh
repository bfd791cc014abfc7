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
tide_src=${1:-build/tools/tide}
venv=${2:-.venv}
rounds=${3:-3}
samples=${4:-20}
py="$venv/bin/python"
[[ -x "$tide_src" ]] || { echo "no tide binary at $tide_src" >&2; exit 2; }
[[ -x "$py" ]] || { echo "no venv at $venv (bench/peers/setup.sh $venv)" >&2; exit 2; }
[[ -f runs/humanoid.csv ]] || { echo "runs/humanoid.csv missing (run from the repository root; see the header)" >&2; exit 2; }
cfc_cfg="$here/configs/humanoid_cfc.json"
mmrnn_cfg="$root/examples/configs/mujoco/humanoid_mmrnn.json"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$tide_src" "$tmp/tide"
tide="$tmp/tide"
log="$tmp/figures.jsonl"

tide_steps() {  # figure config: ms per optimizer step, two figures (A and B of train_step_ab.sh)
  local ms
  while read -r line; do
    ms=${line##*: }; ms=${ms% ms per step}
    echo "{\"side\": \"tide\", \"figure\": \"$1\", \"median_ms\": $ms}" | tee -a "$log"
  done < <("$root/bench/train_step_ab.sh" "$tide" "$tide" "$2" 1 2> >(grep -v '^stopped (--max-steps)' >&2))
}

echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) CPUs; load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "tide: $tide_src ($(sha256sum "$tide" | cut -c1-12), built $(date -r "$tide_src" '+%F %T'))"
for ((r = 1; r <= rounds; ++r)); do
  echo "--- round $r/$rounds"
  tide_steps cfc_train_step "$cfc_cfg"
  tide_steps mmrnn_train_step "$mmrnn_cfg"
  "$py" "$here/rnn_peers.py" --samples "$samples" | sed 's/^{/{"side": "torch", /' | tee -a "$log"
done

"$py" - "$log" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def med(side, fig):
    v = [r["median_ms"] for r in rows if r["side"] == side and r["figure"] == fig and r.get("median_ms") is not None]
    return (statistics.median(v), len(v)) if v else (None, 0)
peer = next((r for r in rows if r["side"] == "torch"), {})
print(f"\nmedians over rounds (ms per optimizer step); torch {peer.get('torch')}, ncps {peer.get('ncps')}, 1 thread each, f32")
print(f"{'peer figure':<28} {'tide':>9} {'peer':>9} {'peer/tide':>10}")
for fig, tfig in [("cfc_train_step", "cfc_train_step"), ("mmrnn_train_step", "mmrnn_train_step"),
                  ("mmrnn_train_step_lstmcell", "mmrnn_train_step")]:
    t, tn = med("tide", tfig)
    p, pn = med("torch", fig)
    ratio = f"{p / t:10.2f}" if t and p else f"{'-':>10}"
    fmt = lambda x: f"{x:9.3f}" if x is not None else f"{'-':>9}"
    print(f"{fig:<28} {fmt(t)} {fmt(p)} {ratio}   (tide n={tn}, peer n={pn})")
PY
