#!/usr/bin/env python3
"""Medians over rounds of a compare_*.sh figures log, tide against a peer side, with ratios.

  summarize.py LOG PEER_SIDE UNIT PEER_FIGURE=TIDE_FIGURE [...]

LOG holds one JSON object per line with "side", "figure" and "median_ms" (and, for the peers,
"torch", "ncps", "compile_s" or "error")."""
import json
import statistics
import sys


def main():
    log, side, unit, pairs = sys.argv[1], sys.argv[2], sys.argv[3], [p.split("=") for p in sys.argv[4:]]
    rows = [json.loads(line) for line in open(log)]

    def med(who, fig):
        v = [r["median_ms"] for r in rows if r["side"] == who and r["figure"] == fig and r.get("median_ms") is not None]
        return (statistics.median(v), len(v)) if v else (None, 0)

    def fmt(x):
        return f"{x:9.3f}" if x is not None else f"{'-':>9}"

    peer = next((r for r in rows if r["side"] == side), {})
    print(f"\nmedians over rounds ({unit}); torch {peer.get('torch')}, ncps {peer.get('ncps')}, 1 thread each, f32")
    print(f"{'figure':<28} {'tide':>9} {side:>9} {side + '/tide':>10}")
    for fig, tfig in pairs:
        t, tn = med("tide", tfig)
        p, pn = med(side, fig)
        ratio = f"{p / t:10.2f}" if t and p else f"{'-':>10}"
        print(f"{fig:<28} {fmt(t)} {fmt(p)} {ratio}   (tide n={tn}, {side} n={pn})")
    for fig, e in {r["figure"]: r["error"] for r in rows if r.get("error")}.items():
        print(f"{fig}: {e}")
    compile_s = [r["compile_s"] for r in rows if r.get("compile_s") is not None]
    if compile_s:
        print(f"torch.compile time to first result (cold cache), per round: {', '.join(f'{s:.1f}' for s in compile_s)} s")


if __name__ == "__main__":
    main()
