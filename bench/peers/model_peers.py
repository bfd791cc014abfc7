#!/usr/bin/env python3
"""The PyTorch peers of `tide bench models --peers` (issue 14's recurrent workloads), served over
peer_protocol.py's line protocol. Every case builds its model from the weights and data tide wrote
to a safetensors file, so both sides start from the same parameters and report the same `check`
(the first call's loss, or the output sum of the cell step).

  ltc_cell_fwd_bwd   ncps.torch.LTCCell(FullyConnected(64), in_features=16, ode_unfolds=6), batch
                     64, one input step at elapsed time 1: forward + backward of sum(outputs).
                     variant "ncps" (eager) or "ncps_compiled" (torch.compile; its first call, the
                     compilation, is the time to first result: a cold compile, as the process
                     starts with an empty inductor cache of its own). The cell's default explicit
                     parameters: tide's softplus-stored positive ones are loaded as their values.
  ltc_train_step     ncps.torch.LTC(53, FullyConnected(64, 53), ode_unfolds=6) (softplus-implicit
                     constraints, its default), batch 32, 32 steps, no timespans: one Adam step
                     (lr 5e-3) on the MSE against the targets.
  cfc_train_step     ncps.torch.CfC(53, 64, proj_size=53), ncps' defaults otherwise, no timespans:
                     the same training step.
  mmrnn_train_step   the ODE-LSTM of rnn_peers.py (gates written out, forget bias 1, dh/dt =
                     tanh(W h + b) by 4 Euler unfolds over each step's elapsed time): the same
                     training step, with tide's elapsed times.

Tensor layout: tide stores a linear map's weight as [in, out]; torch.nn.Linear holds [out, in].
f32, torch.set_num_threads(1). Started by tide (tools/src/bench_model_peers.cpp); needs the peers'
venv (bench/peers/setup.sh).
"""
import atexit
import os
import shutil
import signal
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_protocol import Workload, serve  # noqa: E402


def fresh_compile_cache():
    """torch.compile's first call reads and writes an on-disk inductor cache (17 s cold against 4 s
    warm for ltc_cell_fwd_bwd): each peer process gets a fresh one, removed at exit, so that its time
    to first result is the cold compile a new user pays, whatever ran before (as ltc_peers.py's
    run_child does). Must run before torch is imported. tide ends a busy or stuck peer with SIGTERM:
    that exits through atexit too, so the cache goes with it (only a SIGKILL, 2 s later, leaves it)."""
    cache = tempfile.mkdtemp(prefix="model_peers_inductor_")
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache
    atexit.register(shutil.rmtree, cache, ignore_errors=True)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))

torch = None
POSITIVE = ("gleak", "cm", "w", "sensory_w")  # tide keeps these as softplus^-1 of their values


def versions():
    global torch
    import importlib.metadata

    import ncps  # noqa: F401  (its absence is what tide reports)
    import torch as t

    torch = t
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float32)
    return {"torch": torch.__version__, "ncps": importlib.metadata.version("ncps")}


def tensor(a):
    return torch.from_numpy(a.copy())


def load_linear(linear, tensors, prefix):
    with torch.no_grad():
        linear.weight.copy_(tensor(tensors[prefix + ".weight"]).t())
        linear.bias.copy_(tensor(tensors[prefix + ".bias"]))


def load_ltc(cell, tensors, implicit):
    """tide's biophysical LTC parameters (the same names as ncps') into an ncps LTCCell. The wiring's
    masks stay ncps' own: a fully connected wiring's are all ones on both sides."""
    with torch.no_grad():
        for name, p in cell.named_parameters():
            if name.endswith("sparsity_mask"):
                continue
            value = tensor(tensors["ltc." + name])
            if name in POSITIVE and not implicit:
                value = torch.nn.functional.softplus(value)
            p.copy_(value)


def train_step(model, forward, y):
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    loss_fn = torch.nn.MSELoss()

    def call():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(forward(), y)
        loss.backward()
        opt.step()
        return {"check": loss.item()}

    return Workload(call)


def ltc_cell_fwd_bwd(variant, tensors, request):
    from ncps.torch import LTCCell
    from ncps.wirings import FullyConnected

    if variant not in ("ncps", "ncps_compiled"):
        raise ValueError(f"ltc_cell_fwd_bwd: variant 'ncps' or 'ncps_compiled', got '{variant}'")
    x, v0 = tensor(tensors["x"]), tensor(tensors["v0"])
    cell = LTCCell(FullyConnected(v0.shape[1]), in_features=x.shape[1], ode_unfolds=6)
    load_ltc(cell, tensors, implicit=False)

    def step(x, v):
        return cell(x, v, 1.0)[0]

    run = torch.compile(step) if variant == "ncps_compiled" else step

    def call():
        cell.zero_grad(set_to_none=True)
        out = run(x, v0).sum()
        out.backward()
        return {"check": out.item()}

    return Workload(call)


def ltc_train_step(variant, tensors, request):
    from ncps.torch import LTC
    from ncps.wirings import FullyConnected

    x, y = tensor(tensors["x"]), tensor(tensors["y"])
    units = tensors["ltc.gleak"].shape[0]
    model = LTC(x.shape[2], FullyConnected(units, y.shape[2]), batch_first=True, ode_unfolds=6)
    load_ltc(model.rnn_cell, tensors, implicit=True)
    return train_step(model, lambda: model(x)[0], y)


def cfc_train_step(variant, tensors, request):
    from ncps.torch import CfC

    x, y = tensor(tensors["x"]), tensor(tensors["y"])
    units = tensors["cfc.ff1.bias"].shape[0]
    model = CfC(x.shape[2], units, proj_size=y.shape[2], batch_first=True)
    cell = model.rnn_cell
    load_linear(cell.backbone[0], tensors, "cfc.backbone0")
    for head in ("ff1", "ff2", "time_a", "time_b"):
        load_linear(getattr(cell, head), tensors, "cfc." + head)
    load_linear(model.fc, tensors, "readout")
    return train_step(model, lambda: model(x)[0], y)


def mmrnn_train_step(variant, tensors, request):
    from rnn_peers import ode_lstm_class

    x, y, dt = tensor(tensors["x"]), tensor(tensors["y"]), tensor(tensors["dt"]).unsqueeze(2)
    units = tensors["mmrnn.f.bias"].shape[0]
    model = ode_lstm_class(torch, fused_lstm=False)(x.shape[2], units, y.shape[2])
    load_linear(model.gates, tensors, "mmrnn.lstm.gates")
    load_linear(model.f, tensors, "mmrnn.f")
    load_linear(model.readout, tensors, "readout")
    return train_step(model, lambda: model(x, dt), y)


CASES = {"ltc_cell_fwd_bwd": ltc_cell_fwd_bwd, "ltc_train_step": ltc_train_step, "cfc_train_step": cfc_train_step,
         "mmrnn_train_step": mmrnn_train_step}

if __name__ == "__main__":
    fresh_compile_cache()
    serve("torch", versions, CASES)
