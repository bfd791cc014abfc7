#!/usr/bin/env python3
"""The Python peers' side of tide's LTC figures (ncps on PyTorch), one JSON line per figure.

  ltc_cell_fwd_bwd           ncps.torch.LTCCell, FullyConnected(64), 16 inputs, batch 64,
                             ode_unfolds=6, one input step (elapsed time 1): forward + backward of
                             sum(output); eager PyTorch. tide: `tide bench models` ltc_grad_ms.
  ltc_cell_fwd_bwd_compiled  the same step under torch.compile (run in a child process with a time
                             limit and, unless --warm-compile-cache, an empty inductor cache; its
                             time to first result is reported as compile_s).
  ltc_train_step             ncps.torch.LTC(53, FullyConnected(64, 53), ode_unfolds=6), batch
                             first, batch 32, 32 steps, MSE against random targets, Adam lr 5e-3:
                             one optimizer step (zero_grad, forward, loss, backward, step), without
                             timespans. tide: ms per step of `tide train` on
                             examples/configs/mujoco/humanoid_ltc_biophysical.json.

f32, torch.set_num_threads(1). Each figure is warmed up, then timed in N samples (each sample loops
the call for at least --min-sample-ms), and the median per call is printed:
  {"figure": ..., "median_ms": ..., "samples": N, "torch": ..., "ncps": ...}

  python bench/peers/ltc_peers.py [--samples N] [--figures a,b,c] [--compile-timeout S]
Needs the peers' venv (bench/peers/setup.sh).
"""
import argparse
import importlib.metadata
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

FIGURES = ("ltc_cell_fwd_bwd", "ltc_cell_fwd_bwd_compiled", "ltc_train_step")


def versions():
    import torch

    try:
        ncps_version = importlib.metadata.version("ncps")
    except importlib.metadata.PackageNotFoundError:
        ncps_version = None
    return {"torch": torch.__version__, "ncps": ncps_version}


def setup_torch(seed):
    import torch

    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float32)
    torch.manual_seed(seed)
    return torch


def median_ms(call, samples, min_sample_s, warmup_s):
    """Warm `call` up for warmup_s (at least 3 calls), size samples to loop it >= min_sample_s,
    and return the median milliseconds per call over `samples` samples."""
    start = time.perf_counter()
    calls = 0
    while calls < 3 or time.perf_counter() - start < warmup_s:
        call()
        calls += 1
    per_call = (time.perf_counter() - start) / calls
    loop = max(1, int(min_sample_s / per_call + 0.999))
    times = []
    for _ in range(samples):
        t0 = time.perf_counter()
        for _ in range(loop):
            call()
        times.append((time.perf_counter() - t0) / loop)
    return 1e3 * statistics.median(times), loop


def cell_case(torch, implicit_constraints):
    """ncps' LTC cell and one input step's forward + backward of sum(output)."""
    from ncps.torch import LTCCell
    from ncps.wirings import FullyConnected

    units, inputs, batch = 64, 16, 64
    cell = LTCCell(FullyConnected(units), in_features=inputs, ode_unfolds=6,
                   implicit_param_constraints=implicit_constraints)
    x = torch.randn(batch, inputs)
    v0 = torch.rand(batch, units) - 0.5

    def step(x, v):
        out, _ = cell(x, v, 1.0)
        return out

    return cell, x, v0, step


def fwd_bwd(step, cell, x, v0):
    def call():
        cell.zero_grad(set_to_none=True)
        step(x, v0).sum().backward()

    return call


def figure_cell(args, torch):
    cell, x, v0, step = cell_case(torch, args.implicit_constraints)
    return median_ms(fwd_bwd(step, cell, x, v0), args.samples, args.min_sample_ms / 1e3, args.warmup_s), {}


def figure_cell_compiled(args, torch):
    cell, x, v0, step = cell_case(torch, args.implicit_constraints)
    compiled = torch.compile(step)
    call = fwd_bwd(compiled, cell, x, v0)
    t0 = time.perf_counter()
    call()
    first = time.perf_counter() - t0
    return median_ms(call, args.samples, args.min_sample_ms / 1e3, args.warmup_s), {"compile_s": round(first, 2)}


def figure_train(args, torch):
    from ncps.torch import LTC
    from ncps.wirings import FullyConnected

    features, units, batch, steps = 53, 64, 32, 32
    model = LTC(features, FullyConnected(units, features), batch_first=True, ode_unfolds=6)
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    loss_fn = torch.nn.MSELoss()
    x = torch.randn(batch, steps, features)
    y = torch.randn(batch, steps, features)

    def call():
        opt.zero_grad(set_to_none=True)
        out, _ = model(x)
        loss = loss_fn(out, y)
        loss.backward()
        opt.step()

    return median_ms(call, args.samples, args.min_sample_ms / 1e3, args.warmup_s), {}


RUNNERS = {"ltc_cell_fwd_bwd": figure_cell, "ltc_cell_fwd_bwd_compiled": figure_cell_compiled,
           "ltc_train_step": figure_train}


def run_one(name, args):
    torch = setup_torch(args.seed)
    (ms, loop), extra = RUNNERS[name](args, torch)
    record = {"figure": name, "median_ms": round(ms, 4), "samples": args.samples, **versions(),
              "calls_per_sample": loop, "threads": torch.get_num_threads(),
              "param_constraints": "softplus" if args.implicit_constraints or name == "ltc_train_step" else "none (ncps cell default)",
              **extra}
    print(json.dumps(record), flush=True)


def run_child(name, args):
    """A figure in a fresh process with a time limit (torch.compile can take long or fail)."""
    cmd = [sys.executable, os.path.abspath(__file__), "--only", name, "--samples", str(args.samples),
           "--min-sample-ms", str(args.min_sample_ms), "--warmup-s", str(args.warmup_s), "--seed", str(args.seed)]
    if not args.implicit_constraints:
        cmd.append("--ncps-default-constraints")
    env = dict(os.environ)
    cache = None
    if not args.warm_compile_cache:  # a fresh inductor cache: compile_s is a cold compile
        cache = tempfile.mkdtemp(prefix="ltc_peers_inductor_")
        env["TORCHINDUCTOR_CACHE_DIR"] = cache
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.compile_timeout, env=env)
    except subprocess.TimeoutExpired:
        print(json.dumps({"figure": name, "median_ms": None, "error": f"no result within {args.compile_timeout} s",
                          "samples": args.samples, **versions()}), flush=True)
        return
    finally:
        if cache:
            shutil.rmtree(cache, ignore_errors=True)
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    if p.returncode != 0 or not lines:
        tail = (p.stderr.strip().splitlines() or ["?"])[-1]
        print(json.dumps({"figure": name, "median_ms": None, "error": f"exit {p.returncode}: {tail[:300]}",
                          "samples": args.samples, **versions()}), flush=True)
        return
    rec = json.loads(lines[-1])
    rec["child_wall_s"] = round(time.perf_counter() - t0, 1)
    rec["compile_cache"] = "warm" if args.warm_compile_cache else "cold"
    print(json.dumps(rec), flush=True)


def timing_arguments(ap, figures):
    """The options every peer script shares: samples, the figures to run, the sample length, warm-up."""
    ap.add_argument("--samples", type=int, default=20, help="samples per figure, the median is printed (default 20)")
    ap.add_argument("--figures", default=",".join(figures), help="comma-separated, from: " + ", ".join(figures))
    ap.add_argument("--min-sample-ms", type=float, default=25.0, help="each sample loops the call this long (default 25)")
    ap.add_argument("--warmup-s", type=float, default=0.5, help="untimed calls first, at least this long (default 0.5)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    timing_arguments(ap, FIGURES)
    ap.add_argument("--compile-timeout", type=float, default=300.0,
                    help="seconds allowed for the compiled figure, compilation included (default 300)")
    ap.add_argument("--warm-compile-cache", action="store_true",
                    help="let torch.compile reuse its on-disk cache (by default each run compiles cold)")
    ap.add_argument("--ncps-default-constraints", dest="implicit_constraints", action="store_false",
                    help="LTCCell as ncps builds it by default (no softplus on gleak, cm, w; clipping left to the "
                         "caller); by default the cell takes implicit_param_constraints=True like tide's cell and "
                         "ncps' LTC")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", help=argparse.SUPPRESS)  # one figure in this process (the child's side)
    args = ap.parse_args()
    if args.only:
        run_one(args.only, args)
        return
    for name in args.figures.split(","):
        if name not in RUNNERS:
            ap.error(f"unknown figure {name!r}")
        if name.endswith("_compiled"):
            run_child(name, args)
        else:
            run_one(name, args)


if __name__ == "__main__":
    main()
