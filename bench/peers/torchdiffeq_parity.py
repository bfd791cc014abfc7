#!/usr/bin/env python3
"""torchdiffeq against tide's torchdiffeq preset on torchdiffeq's own test problems.

  record:  python torchdiffeq_parity.py record CASES.json
           runs torchdiffeq (f64, CPU) on its test problems (constant, sine, linear, harmonic from
           torchdiffeq's tests/problems.py, times linspace(1, 8, 10)) for every solver torchdiffeq
           names that tide reproduces, at four tolerance pairs, and writes each case (the problem's
           parameters, y0, the times, the method, rtol / atol) with torchdiffeq's NFE and outputs.
  compare: python torchdiffeq_parity.py compare CASES.json TIDE
           runs `TIDE bench torchdiffeq CASES.json --json` (tide's SolveOptions::torchdiffeq(method)
           on the same cases) and prints a table of NFE and differences.

The recorded file is what tide's test suite checks against (tests/solvers/data/), so the build and
the tests never need PyTorch. Set up the peers with bench/peers/setup.sh.
"""
import json
import subprocess
import sys

import torch
import torchdiffeq

ADAPTIVE = ["dopri5", "bosh3", "adaptive_heun", "fehlberg2", "dopri8"]
FIXED = ["euler", "midpoint", "heun2", "heun3", "rk4"]
TOLERANCES = [(1e-3, 1e-6), (1e-6, 1e-9), (1e-7, 1e-9), (1e-9, 1e-12)]


def problems():
    """Each problem as (name, parameters for tide, f(t, y), y0), f64, built as torchdiffeq's tests do."""
    torch.manual_seed(0)
    a, b = 0.2, 3.0
    out = [("constant", {"a": a, "b": b}, lambda t, y: a + (y - (a * t + b)) ** 5, torch.tensor([a * 1.0 + b], dtype=torch.float64))]

    def sine(t, y):
        return 2 * y / t + t ** 4 * torch.sin(2 * t) - t ** 2 + 4 * t ** 3

    t1 = torch.tensor(1.0, dtype=torch.float64)
    y1 = (-0.5 * t1 ** 4 * torch.cos(2 * t1) + 0.5 * t1 ** 3 * torch.sin(2 * t1) + 0.25 * t1 ** 2 * torch.cos(2 * t1)
          - t1 ** 3 + 2 * t1 ** 4 + (torch.pi - 0.25) * t1 ** 2)
    out.append(("sine", {}, sine, y1.reshape(1)))
    dim = 10
    U = torch.randn(dim, dim, dtype=torch.float64) * 0.1
    A = 2 * U - (U + U.T)
    out.append(("linear", {"matrix": A.tolist()}, lambda t, y: A @ y, torch.ones(dim, dtype=torch.float64)))
    n = 2
    kappa = 0.1 * torch.abs(torch.randn(n, dtype=torch.float64))
    DH = torch.cat((torch.cat((torch.zeros(n, n, dtype=torch.float64), torch.diag(-kappa)), 1),
                    torch.cat((torch.eye(n, dtype=torch.float64), torch.zeros(n, n, dtype=torch.float64)), 1)), 0)
    # y' = y D_H (a row vector times D_H): as a column, y' = D_H^T y
    out.append(("harmonic", {"matrix": DH.T.tolist()}, lambda t, y: y @ DH, torch.ones(2 * n, dtype=torch.float64)))
    return out


def record(path):
    times = torch.linspace(1, 8, 10, dtype=torch.float64)
    cases = []
    for name, params, f, y0 in problems():
        runs = [(m, r, a) for m in ADAPTIVE for (r, a) in TOLERANCES] + [(m, 0.0, 0.0) for m in FIXED]
        for method, rtol, atol in runs:
            calls = [0]

            def counted(t, y):
                calls[0] += 1
                return f(t, y)

            with torch.no_grad():
                ys = torchdiffeq.odeint(counted, y0, times, rtol=rtol, atol=atol, method=method)
            cases.append({"problem": name, "params": params, "method": method, "rtol": rtol, "atol": atol,
                          "y0": y0.tolist(), "times": times.tolist(), "nfe": calls[0], "ys": ys.tolist()})
    with open(path, "w") as out:  # one case per line
        out.write(json.dumps({"torchdiffeq": torchdiffeq.__version__, "torch": torch.__version__})[:-1] + ', "cases": [\n')
        out.write(",\n".join(json.dumps(c) for c in cases) + "\n]}\n")
    print(f"{len(cases)} cases written to {path}")


def compare(path, tide):
    result = subprocess.run([tide, "bench", "torchdiffeq", path, "--json"], check=True, capture_output=True, text=True)
    rows = json.loads(result.stdout)["cases"]
    print(f"{'problem':9} {'method':13} {'rtol':>7} {'atol':>7} {'nfe td':>7} {'nfe tide':>8} {'max |diff|':>11}")
    worst = 0.0
    equal = 0
    for r in rows:
        worst = max(worst, r["max_abs_diff"])
        equal += r["nfe"] == r["nfe_torchdiffeq"]
        print(f"{r['problem']:9} {r['method']:13} {r['rtol']:7.0e} {r['atol']:7.0e} {r['nfe_torchdiffeq']:7d} {r['nfe']:8d} {r['max_abs_diff']:11.2e}")
    print(f"{equal} of {len(rows)} cases with equal NFE; largest difference in the outputs {worst:.2e}")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "record":
        record(sys.argv[2])
    elif len(sys.argv) >= 4 and sys.argv[1] == "compare":
        compare(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
