#!/usr/bin/env python3
"""PyTorch + torchdiffeq peers of tide's CNF training step (FFJORD's toy model, written out here):
the dynamics 2-64-64-64-2 of concatsquash layers (Linear(x) * sigmoid(Linear(t)) + Linear_nobias(t))
with tanh between them, the end time T = s^2 learned, the state [z, -integral of tr(df/dz)]
integrated by torchdiffeq's fixed-step rk4 (8 steps, 32 evaluations: the same count as tide's
rk4 x 8 whatever the weights), backpropagated through the steps, NLL under a standard normal, Adam.

  cnf_train_step_exact       the trace by FFJORD's brute force: one VJP per dimension
  cnf_train_step_hutchinson  Hutchinson's estimate e^T (df/dz) e by one VJP, Gaussian e per solve

Each figure is timed by ltc_peers.median_ms and printed as
  {"figure": ..., "median_ms": ..., "samples": N, "torch": ..., "torchdiffeq": ...}"""
import argparse
import importlib.metadata
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ltc_peers import median_ms, setup_torch, timing_arguments  # noqa: E402

BATCH, DIMS, HIDDEN, STEPS, T0 = 100, 2, 64, 8, 0.5
FIGURES = ["cnf_train_step_exact", "cnf_train_step_hutchinson"]


def flow_classes(torch):
    nn = torch.nn

    class Squash(nn.Module):
        def __init__(self, n_in, n_out):
            super().__init__()
            self.x, self.gate, self.bias = nn.Linear(n_in, n_out), nn.Linear(1, n_out), nn.Linear(1, n_out, bias=False)

        def forward(self, t, x):
            tt = t.reshape(1, 1)
            return self.x(x) * torch.sigmoid(self.gate(tt)) + self.bias(tt)

    class Dynamics(nn.Module):
        def __init__(self, exact):
            super().__init__()
            sizes = [DIMS, HIDDEN, HIDDEN, HIDDEN, DIMS]
            self.layers = nn.ModuleList(Squash(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
            self.exact, self.noise = exact, None

        def f(self, t, z):
            h = z
            for i, layer in enumerate(self.layers):
                h = layer(t, h)
                if i + 1 < len(self.layers):
                    h = torch.tanh(h)
            return h

        def forward(self, t, state):
            z = state[0]
            with torch.enable_grad():
                z = z if z.requires_grad else z.requires_grad_(True)
                dz = self.f(t, z)
                if self.exact:  # FFJORD's divergence_bf
                    trace = sum(torch.autograd.grad(dz[:, i].sum(), z, create_graph=True)[0][:, i] for i in range(DIMS))
                else:  # FFJORD's divergence_approx
                    ej = torch.autograd.grad(dz, z, self.noise, create_graph=True)[0]
                    trace = (ej * self.noise).sum(1)
            return dz, -trace

    class Flow(nn.Module):
        def __init__(self, exact):
            super().__init__()
            self.dynamics = Dynamics(exact)
            self.sqrt_end_time = nn.Parameter(torch.tensor(T0 ** 0.5))

        def nll(self, x):
            from torchdiffeq import odeint
            self.dynamics.noise = torch.randn_like(x)
            end = self.sqrt_end_time * self.sqrt_end_time
            times = torch.stack([torch.zeros(()), end])
            zs, dlogp = odeint(self.dynamics, (x, torch.zeros(x.shape[0])), times, method="rk4",
                               options={"step_size": float(end.detach()) / STEPS})  # 8 steps whatever T has become
            z, delta = zs[-1], dlogp[-1]
            logpz = -0.5 * (z * z).sum(1) - 0.5 * DIMS * 1.8378770664093453
            return -(logpz - delta).mean()

    return Flow


def figure(exact):
    def run(args, torch):
        model = flow_classes(torch)(exact)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        x = torch.randn(BATCH, DIMS) * 2

        def call():
            opt.zero_grad(set_to_none=True)
            model.nll(x).backward()
            opt.step()

        return median_ms(call, args.samples, args.min_sample_ms / 1e3, args.warmup_s), model

    return run


RUNNERS = {"cnf_train_step_exact": figure(True), "cnf_train_step_hutchinson": figure(False)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    timing_arguments(ap, FIGURES)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    for name in args.figures.split(","):
        if name not in RUNNERS:
            ap.error(f"unknown figure {name!r}")
    for name in args.figures.split(","):
        torch = setup_torch(args.seed)
        (ms, loop), model = RUNNERS[name](args, torch)
        print(json.dumps({"figure": name, "median_ms": round(ms, 4), "samples": args.samples, "torch": torch.__version__,
                          "torchdiffeq": importlib.metadata.version("torchdiffeq"), "calls_per_sample": loop,
                          "threads": torch.get_num_threads(), "parameters": sum(p.numel() for p in model.parameters())}),
              flush=True)


if __name__ == "__main__":
    main()
