#!/usr/bin/env python3
"""The JAX peer of `tide bench taylor --peers`: total time derivatives of a neural ODE's solution,
TayNODE's way (Kelly et al. 2020, "Learning differential equations that are easy to solve") and
by nested JVPs, served over bench/peers/peer_protocol.py (tide starts this script and sends it
JSON lines; run it by hand the same way).

The dynamics, read from the safetensors file tide writes (F64, tide's layout, y = x @ W + b):
  w_in [d,h], w_t [h], b_in [h], w_hidden.i [h,h], b_hidden.i [h] for i = 0.. (as many as the
  file holds, consecutive from 0), w_out [h,d], b_out [d]; the point z [B,d] and t [] (a scalar).
    f(z, t) = a @ w_out + b_out, where a = tanh(z @ w_in + t * w_t + b_in), then for each hidden i
              a = tanh(a @ w_hidden.i + b_hidden.i).
  (tide's default: d = h = 64, one hidden layer, B = 256.)

Cases (request keys "case", "variant", "K": an int >= 1):
  taylor_forward   d^K z/dt^K along the solution of z' = f(z, t) through (z, t): the K-th total
                   time derivative (not divided by K!), [B,d]; K = 1 is f(z, t) itself.
                   check = sum of its B*d elements.
  taylor_rk_grad   the gradient of R = mean(square(d^K z/dt^K)) (mean over the B*d elements; the
                   integrand of TayNODE's R_K at one point, scaled by 1/(B*d)) with respect to
                   every weight tensor above (not z, not t), by reverse mode through the variant.
                   check = sum over the weight tensors of the sum of each one's gradient;
                   also reports loss = R.
Variants (both give the same numbers to rounding):
  jet_rerun        TayNODE's recursion (their sol_recursive, rewritten here): Taylor mode
                   (jax.experimental.jet, derivative-scaled series) on the augmented dynamics
                   g(z, t) = (f(z, t), 1), run K times from scratch. Pass k (k = 1..K) pushes a
                   series of k terms through g: the k-1 derivatives y_1..y_{k-1} of y = (z, t)
                   found so far plus a placeholder; its primal output is y_1 and its output term
                   j is y_{j+1}, exact for j < k (term k depends on the placeholder and is
                   dropped). So pass k yields y_k, and pass K the answer: K passes of orders 1..K,
                   O(K^3) work as traced.
  nested_jvp       K-1 nested forward-mode JVPs: g_1 = f, g_{k+1}(z, t) = jvp(g_k, (z, t),
                   (f(z, t), 1)), the answer g_K(z, t); exponential in K as traced.
What XLA makes of them (jax 0.10.2, two layers, taylor_forward): the traced programs hold
9, 27, 57, 102, 165, 249 (jet_rerun) and 3 (2^K - 1) (nested_jvp) matrix products for K = 1..6;
after XLA's simplification (dead code, common subexpressions) the compiled ones hold 6K - 3 and
3K. So under jit neither figure shows the exponential cost of nested JVPs the paper describes.
Each workload is one jax.jit of the whole computation (weights, z and t are its arguments, not
baked-in constants), compiled on the first call, so `first_seconds` in the prepare reply is trace
+ compile + one run (the CPU backend is started before, in versions()). Every call blocks on its
result. f64 throughout (jax_enable_x64); one CPU: JAX_PLATFORMS=cpu, XLA_FLAGS as below, and the
process pinned to one CPU (the lowest it may use) before jax starts.

  /work/peers-venv/bin/python bench/peers/taylor_peers.py     (framework "jax")
  e.g. {"cmd": "prepare", "case": "taylor_forward", "variant": "jet_rerun", "K": 3, "file": PATH}
"""
import os
import sys

# Before jax is imported: CPU only, no multithreaded Eigen. The flags alone do not make XLA's CPU
# runtime single-threaded (jaxlib 0.10.2 still runs independent parts of a program concurrently on
# its intra-op pool, sized by the CPUs this process may use: measured 1.45 CPU-seconds per second on
# 2 cores), so the process is also pinned to one CPU: the pool is then one thread, and every thread
# jax starts inherits the one CPU. A caller that pinned us to one CPU already keeps its choice.
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > 1:
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_protocol import Workload, serve  # noqa: E402

try:  # a missing numpy is reported through the protocol by the versions check
    import numpy as np
except ImportError:
    np = None

jax = None  # imported in versions(), where an import failure is what tide reports
jnp = None
jet = None

VARIANTS = ("jet_rerun", "nested_jvp")


def versions():
    if np is None:
        raise ModuleNotFoundError("No module named 'numpy'")
    global jax, jnp, jet
    import jax as jax_module

    jax_module.config.update("jax_enable_x64", True)
    import jax.numpy as jnp_module
    import jaxlib
    from jax.experimental.jet import jet as jet_fn

    jax, jnp, jet = jax_module, jnp_module, jet_fn
    jnp.zeros(1).block_until_ready()  # start the CPU backend here, not in the first time to first result
    return {"jax": jax.__version__, "jaxlib": jaxlib.__version__}


# ---- the model ---------------------------------------------------------------------------------

def read_model(tensors):
    """(weights: name -> f64 numpy array, z [B,d], t [], hidden layer count), shapes checked."""
    missing = [n for n in ("w_in", "w_t", "b_in", "w_out", "b_out", "z", "t") if n not in tensors]
    if missing:
        raise ValueError(f"the file lacks {', '.join(missing)}")
    arr = {name: np.asarray(value, dtype=np.float64) for name, value in tensors.items()}
    hidden = 0
    while f"w_hidden.{hidden}" in arr:
        hidden += 1
    names = ["w_in", "w_t", "b_in"] + [f"{kind}_hidden.{i}" for i in range(hidden) for kind in ("w", "b")]
    names += ["w_out", "b_out"]
    if arr["w_in"].ndim != 2:
        raise ValueError(f"w_in must be [d,h], got {list(arr['w_in'].shape)}")
    d, h = arr["w_in"].shape
    want = {"w_t": (h,), "b_in": (h,), "w_out": (h, d), "b_out": (d,)}
    for i in range(hidden):
        want[f"w_hidden.{i}"] = (h, h)
        want[f"b_hidden.{i}"] = (h,)
    for name, shape in want.items():
        if name not in arr:
            raise ValueError(f"the file has w_hidden.{name.split('.')[1]} but not {name}")
        if arr[name].shape != shape:
            raise ValueError(f"{name} must be {list(shape)} (d={d}, h={h}), got {list(arr[name].shape)}")
    z = arr["z"]
    if z.ndim != 2 or z.shape[1] != d:
        raise ValueError(f"z must be [B,{d}], got {list(z.shape)}")
    if arr["t"].size != 1:
        raise ValueError(f"t must be a scalar, got shape {list(arr['t'].shape)}")
    weights = {name: arr[name] for name in names}
    return weights, z, arr["t"].reshape(()), hidden


def dynamics(weights, hidden):
    """f(z, t) for these weights (a dict of arrays, possibly tracers)."""
    def f(z, t):
        a = jnp.tanh(z @ weights["w_in"] + t * weights["w_t"] + weights["b_in"])
        for i in range(hidden):
            a = jnp.tanh(a @ weights[f"w_hidden.{i}"] + weights[f"b_hidden.{i}"])
        return a @ weights["w_out"] + weights["b_out"]

    return f


# ---- d^K z / dt^K ------------------------------------------------------------------------------

def derivative_jet_rerun(f, z, t, order):
    """d^order z/dt^order by `order` Taylor-mode passes over g(z, t) = (f(z, t), 1), pass k of
    order k (see the module docstring)."""
    def g(z, t):
        return f(z, t), jnp.ones_like(t)

    z_known, t_known = [], []  # y_1..y_{k-1}: the exact derivatives of (z, t) found so far
    for k in range(1, order + 1):
        z_series = z_known + [jnp.zeros_like(z)]  # the k-th term: a placeholder
        t_series = t_known + [jnp.zeros_like(t)]
        (z_first, t_first), (z_terms, t_terms) = jet(g, (z, t), (z_series, t_series))
        # primal out = y_1; out term j = y_{j+1}, exact for j < k
        z_known = [z_first] + list(z_terms[: k - 1])
        t_known = [t_first] + list(t_terms[: k - 1])
    return z_known[order - 1]


def derivative_nested_jvp(f, z, t, order):
    """d^order z/dt^order as order-1 nested JVPs along (f, 1)."""
    def lift(g_k):
        def g_next(z, t):
            return jax.jvp(g_k, (z, t), (f(z, t), jnp.ones_like(t)))[1]

        return g_next

    g = f
    for _ in range(order - 1):
        g = lift(g)
    return g(z, t)


DERIVATIVES = {"jet_rerun": derivative_jet_rerun, "nested_jvp": derivative_nested_jvp}


# ---- the cases ---------------------------------------------------------------------------------

def _options(variant, request):
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r} (this case has: {', '.join(VARIANTS)})")
    if "K" not in request:
        raise ValueError("the request needs K (the derivative order, an int >= 1)")
    order = request["K"]
    if isinstance(order, float) and order.is_integer():
        order = int(order)
    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise ValueError(f"K must be an int >= 1, got {order!r}")
    return DERIVATIVES[variant], order


def _on_device(weights, z, t):
    return ({name: jnp.asarray(value) for name, value in weights.items()}, jnp.asarray(z), jnp.asarray(t))


def case_forward(variant, tensors, request):
    derivative, order = _options(variant, request)
    weights, z, t, hidden = read_model(tensors)
    weights, z, t = _on_device(weights, z, t)

    @jax.jit
    def run(weights, z, t):
        out = derivative(dynamics(weights, hidden), z, t, order)
        return out, jnp.sum(out)

    def call():
        out, check = jax.block_until_ready(run(weights, z, t))
        return {"check": float(check)}

    return Workload(call)


def case_rk_grad(variant, tensors, request):
    derivative, order = _options(variant, request)
    weights, z, t, hidden = read_model(tensors)
    weights, z, t = _on_device(weights, z, t)

    def penalty(weights, z, t):
        return jnp.mean(jnp.square(derivative(dynamics(weights, hidden), z, t, order)))

    value_and_grad = jax.value_and_grad(penalty)

    @jax.jit
    def run(weights, z, t):
        loss, grads = value_and_grad(weights, z, t)
        check = sum(jnp.sum(grads[name]) for name in sorted(grads))
        return loss, grads, check

    def call():
        loss, grads, check = jax.block_until_ready(run(weights, z, t))
        return {"check": float(check), "loss": float(loss)}

    return Workload(call)


CASES = {"taylor_forward": case_forward, "taylor_rk_grad": case_rk_grad}


if __name__ == "__main__":
    serve("jax", versions, CASES)
