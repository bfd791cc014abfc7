#!/usr/bin/env python3
"""The Python peers' side of `tide bench solvers --peers`: PyTorch + torchdiffeq (--framework torch)
or JAX + diffrax (--framework jax), one process each, serving peer_protocol's line protocol. Every
workload is built from the safetensors file tide wrote (w0, b0, w1, b1 in tide's layout: a Linear
weight is [in, out] and y = x @ W + b; F32 except `starts`, I64). f32 throughout (JAX's x64 off),
one thread (torch.set_num_threads(1); XLA_FLAGS without the Eigen thread pool).

Cases (request "case", "variant"):

  tiny_solve        file w0 [4,32] b0 [32] w1 [32,4] b1 [4] y0 [B,4]. f(t, y) =
                    tanh(softplus(y @ w0 + b0) @ w1 + b1), dopri5 rtol = atol = 1e-6 on [0, 1], no
                    gradient; check = sum of y(1).
                      torchdiffeq   torchdiffeq.odeint, the whole [B,4] batch one state: one shared
                                    step size, error by the RMS norm over all B*4 elements.
                      diffrax       diffrax Dopri5 + PIDController, the whole batch one state (as
                                    torchdiffeq), jitted.
                      diffrax_vmap  jax.vmap of the one-sample solve: every sample its own step
                                    sizes and error norm, as tide does (the like-for-like one).
  tiny_solve_grad   the same solve; gradient of sum(y(1)^2) by w0, b0, w1, b1 (not y0), discrete
                    (backpropagation through the solver's operations): torchdiffeq through
                    autograd; diffrax / diffrax_vmap by jax.value_and_grad with diffrax's default
                    RecursiveCheckpointAdjoint, jitted. check = sum over the four gradients of
                    their element sums. nfe counts the forward solve's evaluations only (diffrax's
                    checkpointed backward pass re-runs forward steps; those are not counted).
  tiny_r2_grad      the tiny solve with TayNODE's R_2 integrand appended to the state: r' = sum over
                    the state's dimensions of (d^2 y/dt^2)^2 per sample, d^2 y/dt^2 = (df/dy) f (one
                    Jacobian-vector product: TayNODE's jet at order 2 is this); step-size control on
                    y alone (the integrand takes no part, as in tide by default). Gradient of
                    sum(y(1)^2) + sum(r(1)) by the four weights, discrete; check as tiny_solve_grad.
                      torchdiffeq   odeint on the state (y, r), the JVP by torch.func.jvp, the norm
                                    the RMS of y's scaled error.
                      diffrax       the whole batch one state (y, r), the JVP by jax.jvp (jet cannot
                                    take jax.nn.softplus, a custom_jvp function),
                                    PIDController(norm = RMS of y's part), jax.value_and_grad, jitted.
                      diffrax_vmap  the one-sample solve under jax.vmap (per-sample steps, as tide).
  mid_rk4_step      file w0 [64,64] b0 [64] w1 [64,64] b1 [64] y0 [256,64]. f(y) =
                    tanh(y @ w0 + b0) @ w1 + b1, ONE step of h = 0.1 from t = 0, no gradient;
                    check = sum of y(0.1); nfe = 4.
                      torchdiffeq   odeint(method='rk4', step_size=0.1) under no_grad: ONE step
                                    (counted: 4 evaluations), but torchdiffeq's 'rk4' is Kutta's
                                    3/8 rule (rk4_alt_step_func), not classic RK4 (on this
                                    workload its f32 sum happens to equal the classic one's).
                      torch         classic RK4 written out, eager, under no_grad.
                      jax           classic RK4 written out, jitted.
  spiral_iteration  torchdiffeq's examples/ode_demo.py training, as a run of `iterations` (16)
                    iterations per call, each run starting again from the file's weights with a
                    fresh Adam, so that every side times the same work whatever its number of
                    calls per sample. file w0 [2,50] b0 [50] w1 [50,2] b1 [2] true_y [N,2]
                    t [N] starts (I64) [64], N = 484: the true spiral on [0, 25] every 1.5 / 29, so
                    that t[0:30] spans [0, 1.5] (issue 14's 30 points on [0, 1.5]).
                    f(t, y) = tanh(y^3 @ w0 + b0) @ w1 + b1.
                    Iteration i takes s = starts[i % 64], solves from y0 = true_y[s:s+1] ([1,2])
                    at t[0:30] by dopri5 rtol 1e-7 atol 1e-9, loss = mean |pred - true_y[s:s+30]|,
                    zeroes the gradients, backpropagates, and takes an Adam(lr 1e-3) step.
                    check = the last iteration's loss (after 15 updates: it checks the gradients
                    and the optimizer, not only the solve).
                    The gradient kind is request "gradient" if given, else the variant:
                      adjoint       torchdiffeq.odeint_adjoint (f an nn.Module holding the four
                                    tensors as Parameters) / diffrax BacksolveAdjoint.
                      discrete      torchdiffeq.odeint through autograd / diffrax's default
                                    RecursiveCheckpointAdjoint.
                    JAX: the whole run one jitted lax.scan over the starts (solve, gradient,
                    optax.adam(1e-3) update per iteration).
                    nfe = the forward solves' evaluations summed over the run, counted alike on
                    every side (tide: SolveStats::calls); torchdiffeq also reports nfe_total with
                    the backward's evaluations of f (the adjoint's backward solve; autograd
                    evaluates no f). diffrax's statistics hold no backward figures.

Figures per call besides `check` (JAX: one f32 array holding them all, one device-to-host copy per
call, as tide's side makes one; torch: one .item(), the counts being Python ints):
  nfe       evaluations of f per solve. torchdiffeq: a Python counter in f (dopri5: 2 for the
            initial step size, then 6 per attempted step: the first stage reuses the last (FSAL),
            which torchdiffeq also does on its first step, taking f(t0, y0) from the initial step
            selection). diffrax Dopri5 + PIDController(dt0=None), from sol.stats:
                nfe = 1 + 6 * num_steps        (num_steps = accepted + rejected)
            diffrax 0.7.2 picks no initial step size: diffeqsolve hands the controller its terms
            wrapped (WrapTerm), and PIDController's _select_initial_step, seeing no ODETerm, returns
            its fallback dt0 = 0.01 without evaluating f. Every attempted step evaluates stages 2-7
            (6); the first one also evaluates stage 1 (diffrax's FSAL value starts invalid). A
            rejected attempt keeps the old FSAL value, so each rejection BEFORE the first accepted
            step costs one more evaluation that the stats do not show. (Checked against a counting
            jax.debug.callback in f on files like tide's: exact for tiny_solve at every B and for 64
            spiral iterations of either kind; the fixed 0.01 was never rejected there.) Another
            diffrax version's dopri5 cases are refused (check_nfe_formula) until it is checked again.
            Under vmap the batched while loop runs until every sample is done, so it evaluates f
            1 + 6 * max(num_steps) times (`nfe`); `nfe_mean` = 1 + 6 * mean(num_steps) is the
            per-sample work.
  steps, rejected   accepted and rejected steps (torchdiffeq: callback_accept_step /
            callback_reject_step; diffrax: sol.stats; vmap: means over samples, with steps_max and
            rejected_max).

  python bench/peers/solver_peers.py --framework torch|jax   (started by tide; the peers' venv)
"""
import argparse
import os
import sys

try:  # a missing numpy is reported through the protocol by the versions check
    import numpy as np
except ImportError:
    np = None

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_protocol import Workload, serve  # noqa: E402

TINY_TOL = 1e-6
SPIRAL_RTOL, SPIRAL_ATOL, SPIRAL_POINTS, SPIRAL_LR = 1e-7, 1e-9, 30, 1e-3
SPIRAL_ITERATIONS = 16  # per call: a run of iterations from the file's weights
MID_H = 0.1
DIFFRAX_NFE_CHECKED = "0.7.2"  # the diffrax whose evaluations dopri5_nfe's formula was checked against
PARAMS = ("w0", "b0", "w1", "b1")


def require(variant, allowed):
    if variant not in allowed:
        raise ValueError(f"unknown variant {variant!r} (this peer serves: {', '.join(allowed)})")


def spiral_kind(variant, request):
    kind = request.get("gradient") or variant
    if kind not in ("adjoint", "discrete"):
        raise ValueError(f"spiral_iteration needs variant or gradient 'adjoint' or 'discrete', got {kind!r}")
    return kind


# ---------------------------------------------------------------- PyTorch + torchdiffeq

def setup_torch():
    import torch

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    torch.set_default_dtype(torch.float32)


def torch_versions():
    if np is None:
        raise ModuleNotFoundError("No module named 'numpy'")
    setup_torch()
    import importlib.metadata

    import torch
    import torchdiffeq  # noqa: F401  (a missing package is reported here)

    return {"torch": torch.__version__, "torchdiffeq": importlib.metadata.version("torchdiffeq")}


def torch_field(tensors, body, requires_grad):
    """f as an nn.Module holding w0, b0, w1, b1 as Parameters, counting its calls and (through
    torchdiffeq's callbacks) the accepted and rejected steps."""
    import torch

    class Field(torch.nn.Module):
        def __init__(self):
            super().__init__()
            for name in PARAMS:
                value = torch.from_numpy(tensors[name])
                self.register_parameter(name, torch.nn.Parameter(value, requires_grad=requires_grad))
            self.calls = self.accepted = self.rejected = 0

        def forward(self, t, y):
            self.calls += 1
            return body(self, y)

        def callback_accept_step(self, t0, y0, dt):
            self.accepted += 1

        def callback_reject_step(self, t0, y0, dt):
            self.rejected += 1

        def reset(self):
            self.calls = self.accepted = self.rejected = 0

    return Field()


def tiny_body(p, y):
    import torch

    return torch.tanh(torch.addmm(p.b1, torch.nn.functional.softplus(torch.addmm(p.b0, y, p.w0)), p.w1))


def mid_body(p, y):
    import torch

    return torch.addmm(p.b1, torch.tanh(torch.addmm(p.b0, y, p.w0)), p.w1)


def spiral_body(p, y):
    import torch

    return torch.addmm(p.b1, torch.tanh(torch.addmm(p.b0, y**3, p.w0)), p.w1)


def torch_tiny(variant, tensors, request, gradient=False):
    """tiny_solve / tiny_solve_grad: torchdiffeq.odeint dopri5 on the whole batch."""
    import torch
    from torchdiffeq import odeint

    require(variant, ["torchdiffeq"])
    f = torch_field(tensors, tiny_body, gradient)
    y0, t = torch.from_numpy(tensors["y0"]), torch.tensor([0.0, 1.0])

    def solve():
        f.reset()
        return odeint(f, y0, t, rtol=TINY_TOL, atol=TINY_TOL, method="dopri5")[-1]

    def figures(check):
        return {"check": check, "nfe": f.calls, "steps": f.accepted, "rejected": f.rejected}

    def call_value():
        with torch.no_grad():
            return figures(float(solve().sum()))

    def call_grad():
        loss = solve().square().sum()
        grads = torch.autograd.grad(loss, list(f.parameters()))
        return figures(float(sum(g.sum() for g in grads)))

    return Workload(call_grad if gradient else call_value)


def torch_tiny_grad(variant, tensors, request):
    return torch_tiny(variant, tensors, request, gradient=True)


def tiny_r2_body(p, state):
    """(f, the R_2 integrand) at the state (y, r): d^2 y/dt^2 = (df/dy) f by torch.func.jvp."""
    import torch

    y = state[0]
    f0 = tiny_body(p, y)
    _, d2 = torch.func.jvp(lambda z: tiny_body(p, z), (y,), (f0,))
    return f0, d2.square().sum(-1)


def torch_tiny_r2_grad(variant, tensors, request):
    """tiny_r2_grad: torchdiffeq.odeint on (y, r), the gradient through autograd."""
    import torch
    from torchdiffeq import odeint

    require(variant, ["torchdiffeq"])
    f = torch_field(tensors, tiny_r2_body, True)
    y0, t = torch.from_numpy(tensors["y0"]), torch.tensor([0.0, 1.0])
    r0 = torch.zeros(y0.shape[0])
    y_norm = lambda e: e[0].square().mean().sqrt()  # noqa: E731

    def call():
        f.reset()
        ys, rs = odeint(f, (y0, r0), t, rtol=TINY_TOL, atol=TINY_TOL, method="dopri5", options=dict(norm=y_norm))
        loss = ys[-1].square().sum() + rs[-1].sum()
        grads = torch.autograd.grad(loss, list(f.parameters()))
        return {"check": float(sum(g.sum() for g in grads)), "nfe": f.calls, "steps": f.accepted, "rejected": f.rejected}

    return Workload(call)


def classic_rk4(f, y, h):
    k1 = f(y)
    k2 = f(y + (0.5 * h) * k1)
    k3 = f(y + (0.5 * h) * k2)
    k4 = f(y + h * k3)
    return y + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


def torch_mid(variant, tensors, request):
    """mid_rk4_step: torchdiffeq's fixed-step 'rk4' (3/8 rule) or classic RK4 written out."""
    import torch
    from torchdiffeq import odeint

    require(variant, ["torchdiffeq", "torch"])
    f = torch_field(tensors, mid_body, False)
    y0, t = torch.from_numpy(tensors["y0"]), torch.tensor([0.0, MID_H])

    def step():
        if variant == "torch":
            return classic_rk4(lambda y: f(None, y), y0, MID_H)
        return odeint(f, y0, t, method="rk4", options=dict(step_size=MID_H))[-1]

    def call():
        f.reset()
        with torch.no_grad():
            check = float(step().sum())
        if f.calls != 4:
            raise RuntimeError(f"mid_rk4_step took {f.calls} evaluations, not one RK4 step's 4")
        return {"check": check, "nfe": f.calls}

    return Workload(call)


def torch_spiral(variant, tensors, request):
    """spiral_iteration: a run of ode_demo's iterations from the file's weights, odeint_adjoint or
    odeint, a fresh torch.optim.Adam per run."""
    import torch
    from torchdiffeq import odeint, odeint_adjoint

    require(variant, ["torchdiffeq", "adjoint", "discrete"])
    solver = odeint_adjoint if spiral_kind(variant, request) == "adjoint" else odeint
    f = torch_field(tensors, spiral_body, True)
    initial = [p.detach().clone() for p in f.parameters()]
    true_y, starts = torch.from_numpy(tensors["true_y"]), tensors["starts"].tolist()
    ts = torch.from_numpy(tensors["t"][:SPIRAL_POINTS].copy())
    iterations = int(request.get("iterations", SPIRAL_ITERATIONS))

    def call():
        with torch.no_grad():
            for p, p0 in zip(f.parameters(), initial):
                p.copy_(p0)
        opt = torch.optim.Adam(f.parameters(), lr=SPIRAL_LR)
        figures = {"nfe": 0, "nfe_total": 0, "steps": 0, "rejected": 0}
        for i in range(iterations):
            s = starts[i % len(starts)]
            f.reset()
            pred = solver(f, true_y[s : s + 1], ts, rtol=SPIRAL_RTOL, atol=SPIRAL_ATOL, method="dopri5")
            figures["nfe"] += f.calls
            figures["steps"] += f.accepted
            figures["rejected"] += f.rejected
            loss = (pred.reshape(SPIRAL_POINTS, 2) - true_y[s : s + SPIRAL_POINTS]).abs().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            figures["nfe_total"] += f.calls
        return {"check": float(loss), **figures}

    return Workload(call)


TORCH_CASES = {"tiny_solve": torch_tiny, "tiny_solve_grad": torch_tiny_grad, "tiny_r2_grad": torch_tiny_r2_grad,
               "mid_rk4_step": torch_mid, "spiral_iteration": torch_spiral}


# ---------------------------------------------------------------- JAX + diffrax

def setup_jax():
    """One CPU thread, f32: must run before jax is imported. The flags alone do not make XLA's CPU
    runtime single-threaded (jaxlib 0.10.2 runs independent parts of a program on an intra-op pool
    sized by the CPUs the process may use; bench/peers/taylor_peers.py measured it), so the process
    is also pinned to one CPU, unless its caller pinned it already."""
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > 1:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    import jax

    jax.config.update("jax_enable_x64", False)


def jax_versions():
    if np is None:
        raise ModuleNotFoundError("No module named 'numpy'")
    setup_jax()
    import importlib.metadata

    names = ("jax", "jaxlib", "diffrax", "optax", "equinox")
    for name in names:
        __import__(name)  # a missing package is reported here
    return {name: importlib.metadata.version(name) for name in names}


def jax_params(tensors):
    import jax.numpy as jnp

    return {name: jnp.asarray(tensors[name]) for name in PARAMS}


def dopri5_nfe(num_steps):
    """diffrax Dopri5 + PIDController(dt0=None): no evaluation for the initial step size (0.01), 7 on
    the first attempt (no FSAL value yet), 6 on each further one; exact unless attempts before the
    first accepted step are rejected (one more evaluation each)."""
    return 1 + 6 * num_steps


def check_nfe_formula():
    """dopri5_nfe's formula holds for the diffrax it was checked on (see the module docstring); another
    version may select its initial step or reuse FSAL otherwise, so its cases are refused rather than
    given an NFE that may be wrong."""
    import importlib.metadata

    version = importlib.metadata.version("diffrax")
    if version != DIFFRAX_NFE_CHECKED:
        raise RuntimeError(f"diffrax {version}: solver_peers.py counts its NFE as 1 + 6 * num_steps, checked on diffrax "
                           f"{DIFFRAX_NFE_CHECKED} only; check the count again (a counting jax.debug.callback in f, as "
                           f"the docstring says) and update DIFFRAX_NFE_CHECKED, or install diffrax=={DIFFRAX_NFE_CHECKED}")


def jit_packed(fn):
    """jax.jit of fn (which returns a dict of scalars) that hands all its figures back as ONE f32
    array: one device-to-host copy per call, as tide's side pays one .item(), not one per figure
    (a copy of each, then float() of each, added 45-75 us per call at B = 1). Every figure is an
    f32 value or a count below 2^24, so f32 holds it exactly."""
    import jax
    import jax.numpy as jnp

    keys = []

    def packed(*args):
        figures = fn(*args)
        keys[:] = figures  # set while tracing, in the order of the packed array
        return jnp.stack([jnp.asarray(v, jnp.float32) for v in figures.values()])

    run = jax.jit(packed)

    def call(*args):
        values = np.asarray(run(*args))  # the one copy; it waits for the result
        return dict(zip(keys, values.tolist()))

    return call


def tiny_f(t, y, p):
    import jax
    import jax.numpy as jnp

    return jnp.tanh(jax.nn.softplus(y @ p["w0"] + p["b0"]) @ p["w1"] + p["b1"])


def tiny_solve_one(p, y0):
    """y(1) and the solver statistics of one diffrax solve (y0 [B,4] or [4])."""
    import diffrax

    sol = diffrax.diffeqsolve(diffrax.ODETerm(tiny_f), diffrax.Dopri5(), t0=0.0, t1=1.0, dt0=None, y0=y0, args=p,
                              stepsize_controller=diffrax.PIDController(rtol=TINY_TOL, atol=TINY_TOL),
                              saveat=diffrax.SaveAt(t1=True))
    return sol.ys[0], sol.stats


def solve_figures(stats, vmapped):
    """nfe / steps / rejected from diffrax's stats (per sample under vmap: see the module docstring)."""
    import jax.numpy as jnp

    attempts, accepted, rejected = (stats[k] for k in ("num_steps", "num_accepted_steps", "num_rejected_steps"))
    if not vmapped:
        return {"nfe": dopri5_nfe(attempts), "steps": accepted, "rejected": rejected}
    mean = lambda x: jnp.mean(x.astype(jnp.float32))  # noqa: E731
    return {"nfe": dopri5_nfe(jnp.max(attempts)), "nfe_mean": dopri5_nfe(mean(attempts)), "steps": mean(accepted),
            "rejected": mean(rejected), "steps_max": jnp.max(accepted), "rejected_max": jnp.max(rejected)}


def jax_tiny(variant, tensors, request, gradient=False):
    """tiny_solve / tiny_solve_grad: diffrax on the whole batch, or vmapped per sample; jitted
    (compiled in the first call)."""
    import jax
    import jax.numpy as jnp

    require(variant, ["diffrax", "diffrax_vmap"])
    check_nfe_formula()
    vmapped = variant == "diffrax_vmap"
    solve = jax.vmap(tiny_solve_one, in_axes=(None, 0)) if vmapped else tiny_solve_one

    def value(p, y0):
        y1, stats = solve(p, y0)
        return {"check": jnp.sum(y1), **solve_figures(stats, vmapped)}

    def loss(p, y0):
        y1, stats = solve(p, y0)
        return jnp.sum(y1**2), stats

    def grad(p, y0):
        (_, stats), g = jax.value_and_grad(loss, has_aux=True)(p, y0)
        return {"check": sum(jnp.sum(g[name]) for name in PARAMS), **solve_figures(stats, vmapped)}

    run = jit_packed(grad if gradient else value)
    params, y0 = jax_params(tensors), jnp.asarray(tensors["y0"])
    return Workload(lambda: run(params, y0))


def jax_tiny_grad(variant, tensors, request):
    return jax_tiny(variant, tensors, request, gradient=True)


def tiny_r2_f(t, state, p):
    """(f, the R_2 integrand) at the state (y, r): d^2 y/dt^2 = (df/dy) f by jax.jvp (TayNODE's jet
    at order 2 computes the same product; jet cannot take jax.nn.softplus, a custom_jvp function)."""
    import jax
    import jax.numpy as jnp

    y = state[0]
    f0, d2 = jax.jvp(lambda z: tiny_f(t, z, p), (y,), (tiny_f(t, y, p),))
    return f0, jnp.sum(d2**2, axis=-1)


def tiny_r2_solve_one(p, y0):
    """y(1), r(1) and the statistics of one diffrax solve of (y, r) (y0 [B,4] or [4])."""
    import diffrax
    import jax.numpy as jnp

    y_norm = lambda e: jnp.sqrt(jnp.mean(e[0] ** 2))  # noqa: E731
    sol = diffrax.diffeqsolve(diffrax.ODETerm(tiny_r2_f), diffrax.Dopri5(), t0=0.0, t1=1.0, dt0=None,
                              y0=(y0, jnp.zeros(y0.shape[:-1])), args=p,
                              stepsize_controller=diffrax.PIDController(rtol=TINY_TOL, atol=TINY_TOL, norm=y_norm),
                              saveat=diffrax.SaveAt(t1=True))
    return sol.ys[0][0], sol.ys[1][0], sol.stats


def jax_tiny_r2_grad(variant, tensors, request):
    """tiny_r2_grad: diffrax on the whole batch, or vmapped per sample; jitted."""
    import jax
    import jax.numpy as jnp

    require(variant, ["diffrax", "diffrax_vmap"])
    check_nfe_formula()
    vmapped = variant == "diffrax_vmap"
    solve = jax.vmap(tiny_r2_solve_one, in_axes=(None, 0)) if vmapped else tiny_r2_solve_one

    def loss(p, y0):
        y1, r1, stats = solve(p, y0)
        return jnp.sum(y1**2) + jnp.sum(r1), stats

    def grad(p, y0):
        (_, stats), g = jax.value_and_grad(loss, has_aux=True)(p, y0)
        return {"check": sum(jnp.sum(g[name]) for name in PARAMS), **solve_figures(stats, vmapped)}

    run = jit_packed(grad)
    params, y0 = jax_params(tensors), jnp.asarray(tensors["y0"])
    return Workload(lambda: run(params, y0))


def jax_mid(variant, tensors, request):
    """mid_rk4_step: classic RK4 written out, jitted (compiled in the first call)."""
    import jax
    import jax.numpy as jnp

    require(variant, ["jax"])

    def step(p, y0):
        f = lambda y: jnp.tanh(y @ p["w0"] + p["b0"]) @ p["w1"] + p["b1"]  # noqa: E731
        return jnp.sum(classic_rk4(f, y0, MID_H))

    run = jax.jit(step)
    params, y0 = jax_params(tensors), jnp.asarray(tensors["y0"])
    return Workload(lambda: {"check": float(run(params, y0)), "nfe": 4})


def spiral_f(t, y, p):
    import jax.numpy as jnp

    return jnp.tanh(y**3 @ p["w0"] + p["b0"]) @ p["w1"] + p["b1"]


def spiral_loss(p, s, true_y, ts, adjoint):
    """mean |pred - true_y[s:s+30]| for the solve from true_y[s] at ts, and the solver statistics."""
    import diffrax
    import jax.numpy as jnp
    from jax import lax

    y0 = lax.dynamic_slice(true_y, (s, 0), (1, 2))
    target = lax.dynamic_slice(true_y, (s, 0), (SPIRAL_POINTS, 2))
    sol = diffrax.diffeqsolve(diffrax.ODETerm(spiral_f), diffrax.Dopri5(), t0=ts[0], t1=ts[-1], dt0=None, y0=y0,
                              args=p, saveat=diffrax.SaveAt(ts=ts), adjoint=adjoint,
                              stepsize_controller=diffrax.PIDController(rtol=SPIRAL_RTOL, atol=SPIRAL_ATOL))
    return jnp.mean(jnp.abs(sol.ys.reshape(SPIRAL_POINTS, 2) - target)), sol.stats


def jax_spiral(variant, tensors, request):
    """spiral_iteration: a run of iterations from the file's weights as one jitted lax.scan over
    the starts (compiled in the first call), optax.adam."""
    import diffrax
    import jax
    import jax.numpy as jnp
    import optax
    from jax import lax

    require(variant, ["diffrax", "adjoint", "discrete"])
    check_nfe_formula()
    adjoint_kind = spiral_kind(variant, request)
    adjoint = diffrax.BacksolveAdjoint() if adjoint_kind == "adjoint" else diffrax.RecursiveCheckpointAdjoint()
    opt = optax.adam(SPIRAL_LR)
    true_y, ts = jnp.asarray(tensors["true_y"]), jnp.asarray(tensors["t"][:SPIRAL_POINTS])
    iterations = int(request.get("iterations", SPIRAL_ITERATIONS))
    starts = jnp.asarray(np.resize(tensors["starts"].astype(np.int32), iterations))

    def iteration(carry, s):
        p, opt_state = carry
        (loss, stats), g = jax.value_and_grad(spiral_loss, has_aux=True)(p, s, true_y, ts, adjoint)
        updates, opt_state = opt.update(g, opt_state, p)
        per = {"loss": loss, "nfe": dopri5_nfe(stats["num_steps"]), "steps": stats["num_accepted_steps"],
               "rejected": stats["num_rejected_steps"]}
        return (optax.apply_updates(p, updates), opt_state), per

    def run_all(p):
        _, per = lax.scan(iteration, (p, opt.init(p)), starts)
        return {"check": per["loss"][-1], "nfe": jnp.sum(per["nfe"]), "steps": jnp.sum(per["steps"]),
                "rejected": jnp.sum(per["rejected"])}

    run = jit_packed(run_all)
    params = jax_params(tensors)
    return Workload(lambda: run(params))


JAX_CASES = {"tiny_solve": jax_tiny, "tiny_solve_grad": jax_tiny_grad, "tiny_r2_grad": jax_tiny_r2_grad,
             "mid_rk4_step": jax_mid, "spiral_iteration": jax_spiral}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--framework", choices=("torch", "jax"), required=True)
    args = ap.parse_args()
    if args.framework == "torch":
        serve("torch", torch_versions, TORCH_CASES)
    else:
        serve("jax", jax_versions, JAX_CASES)


if __name__ == "__main__":
    main()
