"""The serving loop behind `tide bench ... --peers`: tide starts a peer script, sends it one JSON
object per line on stdin and reads one JSON object per line on stdout, so that the peer's samples
interleave with tide's own in one invocation. A peer script defines CASES (case name -> a
function that builds the workload) and calls serve(framework, versions_fn, CASES).

Protocol (every reply carries "ok"; a failed request answers {"ok": false, "error": "..."} and
the peer keeps serving):
  on start          the peer writes {"ok": true, "framework": F, "versions": {...}} once its
                    imports succeeded, or {"ok": false, "error": ...} and exits 1.
  prepare           {"cmd": "prepare", "case": C, "variant": V, "file": PATH, ...case options}
                    -> {"ok": true, "handle": H, "first_seconds": S, "check": X, ...}: builds the
                    workload from the safetensors file tide wrote (same weights, same inputs),
                    runs it once and times that first call (JAX's jit compilation included: the
                    time to first result), and returns a number both sides compute (`check`) plus
                    whatever the case reports (nfe, ...).
  run               {"cmd": "run", "handle": H, "calls": N} -> {"ok": true, "seconds": S, ...}:
                    N calls back to back, S seconds per call (results are forced: JAX
                    block_until_ready), plus the case's per-call figures (nfe, ...).
  quit              {"cmd": "quit"}: the peer exits 0. End of input does the same.

A case builder gets (variant, tensors, request) where tensors maps names to numpy arrays, and
returns a Workload: call() runs the workload once and returns a dict of figures for that call
(at least "check" when the case has one); the loop times it.
"""
import json
import struct
import sys
import time
import traceback

_DTYPES = {"F32": "float32", "F64": "float64", "I64": "int64"}


def read_safetensors(path):
    """name -> numpy array, for the F32 / F64 / I64 files tide writes (save_safetensors). numpy is
    imported here, so that a peer without it still reports its start-up failure first."""
    import numpy as np

    with open(path, "rb") as f:
        data = f.read()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + header_len])
    base = 8 + header_len
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        dtype = np.dtype(_DTYPES[entry["dtype"]])
        out[name] = np.frombuffer(data[base + begin : base + end], dtype=dtype).reshape(entry["shape"]).copy()
    return out


class Workload:
    """call() runs the workload once and returns a dict of that call's figures."""

    def __init__(self, call):
        self.call = call


_channel = sys.stdout  # replies only: serve() points sys.stdout at stderr, so stray prints cannot corrupt it


def _finite(value):
    """JSON has no NaN or infinity (tide's reader rejects them): a non-finite number goes as null."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


def _reply(obj):
    _channel.write(json.dumps(_finite(obj), allow_nan=False) + "\n")
    _channel.flush()


def _prepare(request, cases, handles):
    case = request["case"]
    if case not in cases:
        raise ValueError(f"unknown case '{case}' (this peer serves: {', '.join(sorted(cases))})")
    tensors = read_safetensors(request["file"])
    start = time.perf_counter()
    workload = cases[case](request.get("variant", ""), tensors, request)
    figures = workload.call()
    first = time.perf_counter() - start
    handles.append(workload)
    return {"ok": True, "handle": len(handles) - 1, "first_seconds": first, **figures}


def _run(request, handles):
    handle = int(request["handle"])
    if not 0 <= handle < len(handles):
        raise ValueError(f"no workload with handle {handle}")
    workload = handles[handle]
    calls = max(1, int(request["calls"]))
    totals = {}
    start = time.perf_counter()
    for _ in range(calls):
        for key, value in workload.call().items():
            if isinstance(value, (int, float)):
                totals[key] = totals.get(key, 0.0) + value
    seconds = (time.perf_counter() - start) / calls
    return {"ok": True, "seconds": seconds, **{k: v / calls for k, v in totals.items()}}


def serve(framework, versions_fn, cases):
    """Imports happen in versions_fn; a failure there is reported and ends the peer."""
    sys.stdout = sys.stderr  # library output goes to stderr; replies go to _channel
    try:
        versions = versions_fn()
    except Exception as e:  # the missing package is what tide prints
        _reply({"ok": False, "error": f"{type(e).__name__}: {e}"})
        sys.exit(1)
    _reply({"ok": True, "framework": framework, "versions": versions})
    handles = []
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            cmd = request.get("cmd")
            if cmd == "quit":
                break
            if cmd == "prepare":
                _reply(_prepare(request, cases, handles))
            elif cmd == "run":
                _reply(_run(request, handles))
            else:
                _reply({"ok": False, "error": f"unknown cmd {cmd!r}"})
        except Exception as e:
            traceback.print_exc(file=sys.stderr)
            _reply({"ok": False, "error": f"{type(e).__name__}: {e}"})
