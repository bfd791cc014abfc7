#!/usr/bin/env python3
"""PyTorch eager side of `tide bench gpu`: the same RK4 step of the MLP 64 -> 64 (tanh) -> 64 on the
GPU at batch 256 and 65,536 (eager and CUDA-graph replayed), timed the same way (host clock around
N steps followed by a synchronisation, median of repeats). Prints one JSON object."""
import json
import statistics
import sys
import time

import torch


def main():
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    dev = torch.device("cuda")
    torch.manual_seed(0)
    torch.backends.cuda.matmul.allow_tf32 = False  # tide's SGEMM is full FP32
    net = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.Tanh(), torch.nn.Linear(64, 64)).to(dev)
    h = 0.01

    def f(z):
        return net(z)

    def rk4(y):
        k1 = f(y)
        k2 = f(y + (h / 2) * k1)
        k3 = f(y + (h / 2) * k2)
        k4 = f(y + h * k3)
        return y + (h / 6) * (k1 + 2 * k2 + 2 * k3 + k4)

    def timed(call, min_seconds=0.05):
        call(); torch.cuda.synchronize()
        n = 1
        while True:
            t0 = time.perf_counter()
            for _ in range(n):
                call()
            torch.cuda.synchronize()
            dt = time.perf_counter() - t0
            if dt >= min_seconds:
                break
            n *= 2
        samples = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            for _ in range(n):
                call()
            torch.cuda.synchronize()
            samples.append((time.perf_counter() - t0) / n)
        return statistics.median(samples)

    out = {"torch": torch.__version__, "device": torch.cuda.get_device_name()}
    with torch.no_grad():
        for batch in (256, 65536):
            y = torch.randn(batch, 64, device=dev)
            out[f"rk4_b{batch}_eager_us"] = timed(lambda: rk4(y)) * 1e6
            static = y.clone()
            s = torch.cuda.Stream()
            s.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(s):
                for _ in range(3):
                    rk4(static)
            torch.cuda.current_stream().wait_stream(s)
            g = torch.cuda.CUDAGraph()
            with torch.cuda.graph(g):
                static.copy_(rk4(static))
            out[f"rk4_b{batch}_graph_us"] = timed(g.replay) * 1e6
            out[f"f_b{batch}_eager_us"] = timed(lambda: f(y)) * 1e6
    print(json.dumps(out))


if __name__ == "__main__":
    main()
