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
tide_src=${1:-build/tools/tide}
venv=${2:-.venv}
rounds=${3:-3}
samples=${4:-20}
py="$venv/bin/python"
[[ -x "$tide_src" ]] || { echo "no tide binary at $tide_src" >&2; exit 2; }
[[ -x "$py" ]] || { echo "no venv at $venv (bench/peers/setup.sh $venv)" >&2; exit 2; }
[[ -f runs/humanoid.csv ]] || { echo "runs/humanoid.csv missing (run from the repository root; see the header)" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$tide_src" "$tmp/tide"
tide="$tmp/tide"
log="$tmp/figures.jsonl"

echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) CPUs; load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "tide: $tide_src ($(sha256sum "$tide" | cut -c1-12), built $(date -r "$tide_src" '+%F %T'))"
for ((r = 1; r <= rounds; ++r)); do
  echo "--- round $r/$rounds"
  g=$("$tide" bench models --json --no-epoch --repeats 5 | "$py" -c 'import json,sys; print(json.load(sys.stdin)["ltc_grad_ms"])')
  echo "{\"side\": \"tide\", \"figure\": \"ltc_grad_ms\", \"median_ms\": $g}" | tee -a "$log"
  while read -r line; do
    ms=${line##*: }; ms=${ms% ms per step}
    echo "{\"side\": \"tide\", \"figure\": \"train_step_ms\", \"median_ms\": $ms}" | tee -a "$log"
  done < <("$here/../train_step_ab.sh" "$tide" "$tide" examples/configs/mujoco/humanoid_ltc_biophysical.json 1 \
               2> >(grep -v '^stopped (--max-steps)' >&2))
  "$py" "$here/ltc_peers.py" --samples "$samples" | sed 's/^{/{"side": "ncps", /' | tee -a "$log"
done

"$py" - "$log" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def med(side, fig):
    v = [r["median_ms"] for r in rows if r["side"] == side and r["figure"] == fig and r.get("median_ms") is not None]
    return (statistics.median(v), len(v)) if v else (None, 0)
peer = next((r for r in rows if r["side"] == "ncps"), {})
compile_s = [r["compile_s"] for r in rows if r.get("compile_s") is not None]
print(f"\nmedians over rounds (ms); torch {peer.get('torch')}, ncps {peer.get('ncps')}, 1 thread each, f32")
print(f"{'figure':<28} {'tide':>9} {'ncps':>9} {'ncps/tide':>10}")
for fig, tfig in [("ltc_cell_fwd_bwd", "ltc_grad_ms"), ("ltc_cell_fwd_bwd_compiled", "ltc_grad_ms"),
                  ("ltc_train_step", "train_step_ms")]:
    t, tn = med("tide", tfig)
    p, pn = med("ncps", fig)
    ratio = f"{p / t:10.2f}" if t and p else f"{'-':>10}"
    fmt = lambda x: f"{x:9.3f}" if x is not None else f"{'-':>9}"
    print(f"{fig:<28} {fmt(t)} {fmt(p)} {ratio}   (tide n={tn}, ncps n={pn})")
errors = {r["figure"]: r["error"] for r in rows if r.get("error")}
for fig, e in errors.items():
    print(f"{fig}: {e}")
if compile_s:
    print(f"torch.compile time to first result (cold cache), per round: {', '.join(f'{s:.1f}' for s in compile_s)} s")
EOF
