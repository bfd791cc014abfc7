#!/usr/bin/env python3
"""The Python peers' side of tide's CfC and mmRNN training figures, one JSON line per figure.

  cfc_train_step       ncps.torch.CfC(53, 64, proj_size=53), batch first, ncps' defaults otherwise
                       (mode "default", backbone 1 x 128 units, LeCun tanh, no mixed memory, no
                       timespans: elapsed time 1), batch 32, 32 steps, MSE against random targets,
                       Adam lr 5e-3: one optimizer step (zero_grad, forward, loss, backward, step).
                       tide: ms per step of `tide train` on bench/peers/configs/humanoid_cfc.json.
  mmrnn_train_step     an ODE-LSTM (mmRNN, Lechner & Hasani 2020, algorithm 1) written here in
                       plain PyTorch, 53 inputs, 64 units, Linear(64, 53) readout on every step,
                       same batch, steps, loss and optimizer step as above. tide: ms per step of
                       `tide train` on examples/configs/mujoco/humanoid_mmrnn.json.
  mmrnn_train_step_lstmcell
                       the same model with torch.nn.LSTMCell (PyTorch's fused LSTM cell) for the
                       memory update instead of the gates written out: the fastest plain PyTorch
                       form found for the cell; the function class is the same (see below).

The ODE-LSTM variant written here (variants differ between the paper's TensorFlow and PyTorch code
and later re-implementations), chosen to be the one tide's `mmrnn` cell computes by default:
  - LSTM update: gates = Linear([x, h]) -> (i, f, g, o);
      c' = c * sigmoid(f + forget_bias) + sigmoid(i) * tanh(g),  h' = tanh(c') * sigmoid(o),
    forget_bias = 1.0 added to the forget gate's pre-activation (a constant, not a parameter).
    In the LSTMCell form, the +1 is instead the initial value of one of nn.LSTMCell's forget-gate
    biases (trainable, so the same functions; only the parameterisation at the start differs).
  - The ODE sees the hidden state only: dh/dt = f(h) = tanh(W h + b), one dense layer with tanh
    (no input x in f, the memory cell c is not evolved).
  - Solver: explicit Euler over the step's elapsed time dt in 4 unfolds,
      h <- h + (dt / 4) f(h), four times; dt per sample and step, here uniform in [0.5, 1.5]
    (the cost does not depend on its values).
  - Output: the evolved h of every step through Linear(64, 53); the state is (evolved h, c).

f32, torch.set_num_threads(1). Each figure is warmed up, then timed in N samples (each sample loops
the call for at least --min-sample-ms), and the median per call is printed:
  {"figure": ..., "median_ms": ..., "samples": N, "torch": ..., "ncps": ...}
Neither gradient clipping nor a learning-rate schedule is applied unless --grad-clip is given
(tide's humanoid configs clip the gradient norm at 1.0 and use a cosine schedule).

  python bench/peers/rnn_peers.py [--samples N] [--figures a,b,c] [--grad-clip C]
Needs the peers' venv (bench/peers/setup.sh).
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ltc_peers import median_ms, setup_torch, timing_arguments, versions  # noqa: E402  (the same timing as the LTC figures)

FIGURES = ("cfc_train_step", "mmrnn_train_step", "mmrnn_train_step_lstmcell")
FEATURES, UNITS, BATCH, STEPS = 53, 64, 32, 32
UNFOLDS, FORGET_BIAS = 4, 1.0


def ode_lstm_class(torch, fused_lstm):
    nn = torch.nn

    class ODELSTM(nn.Module):
        """ODE-LSTM over a [batch, steps, inputs] sequence with elapsed times [batch, steps, 1]."""

        def __init__(self, inputs, hidden, outputs):
            super().__init__()
            self.hidden = hidden
            if fused_lstm:
                self.lstm = nn.LSTMCell(inputs, hidden)
                with torch.no_grad():  # gate order i, f, g, o: the forget bias as an initial value
                    self.lstm.bias_hh[hidden:2 * hidden] += FORGET_BIAS
            else:
                self.gates = nn.Linear(inputs + hidden, 4 * hidden)
            self.f = nn.Linear(hidden, hidden)  # dh/dt = tanh(W h + b)
            self.readout = nn.Linear(hidden, outputs)

        def memory_update(self, x, h, c):
            if fused_lstm:
                return self.lstm(x, (h, c))
            i, f, g, o = self.gates(torch.cat([x, h], 1)).chunk(4, 1)
            c = c * torch.sigmoid(f + FORGET_BIAS) + torch.sigmoid(i) * torch.tanh(g)
            return torch.tanh(c) * torch.sigmoid(o), c

        def forward(self, x, dt):
            batch, steps, _ = x.shape
            h = x.new_zeros(batch, self.hidden)
            c = x.new_zeros(batch, self.hidden)
            outs = []
            for t in range(steps):
                h, c = self.memory_update(x[:, t], h, c)
                step = dt[:, t] / UNFOLDS
                for _ in range(UNFOLDS):  # explicit Euler
                    h = h + step * torch.tanh(self.f(h))
                outs.append(h)
            return self.readout(torch.stack(outs, 1))

    return ODELSTM


def train_call(torch, model, forward, grad_clip):
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    loss_fn = torch.nn.MSELoss()
    y = torch.randn(BATCH, STEPS, FEATURES)

    def call():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(forward(), y)
        loss.backward()
        if grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        opt.step()

    return call


def figure_cfc(args, torch):
    from ncps.torch import CfC

    model = CfC(FEATURES, UNITS, proj_size=FEATURES, batch_first=True)
    x = torch.randn(BATCH, STEPS, FEATURES)
    call = train_call(torch, model, lambda: model(x)[0], args.grad_clip)
    return median_ms(call, args.samples, args.min_sample_ms / 1e3, args.warmup_s), model


def figure_mmrnn(fused_lstm):
    def run(args, torch):
        model = ode_lstm_class(torch, fused_lstm)(FEATURES, UNITS, FEATURES)
        x = torch.randn(BATCH, STEPS, FEATURES)
        dt = 0.5 + torch.rand(BATCH, STEPS, 1)
        call = train_call(torch, model, lambda: model(x, dt), args.grad_clip)
        return median_ms(call, args.samples, args.min_sample_ms / 1e3, args.warmup_s), model

    return run


RUNNERS = {"cfc_train_step": figure_cfc, "mmrnn_train_step": figure_mmrnn(False),
           "mmrnn_train_step_lstmcell": figure_mmrnn(True)}


def run_one(name, args):
    torch = setup_torch(args.seed)
    (ms, loop), model = RUNNERS[name](args, torch)
    record = {"figure": name, "median_ms": round(ms, 4), "samples": args.samples, **versions(),
              "calls_per_sample": loop, "threads": torch.get_num_threads(),
              "parameters": sum(p.numel() for p in model.parameters()), "grad_clip": args.grad_clip}
    print(json.dumps(record), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    timing_arguments(ap, FIGURES)
    ap.add_argument("--grad-clip", type=float, default=0.0,
                    help="clip the gradient norm to this before the Adam step (default 0: no clipping)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    names = args.figures.split(",")
    for name in names:
        if name not in RUNNERS:
            ap.error(f"unknown figure {name!r}")
    for name in names:
        run_one(name, args)


if __name__ == "__main__":
    main()
