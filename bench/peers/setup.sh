#!/usr/bin/env bash
# The peers' virtual environment (PyTorch, torchdiffeq, ncps, JAX, diffrax, optax, NumPy, SciPy from PyPI), by default in
# .venv at the repository root (ignored by git). The build and the tests never need it.
#   bench/peers/setup.sh [VENV_DIR]
set -euo pipefail
venv="${1:-$(cd "$(dirname "$0")/../.." && pwd)/.venv}"
python3 -m venv "$venv"
# The JAX side is pinned to the versions docs/benchmarks.md and bench/peers/*_peers.py describe
# (diffrax's NFE count and XLA's simplification of nested JVPs are version facts). PyPI's torch
# wheel is the CUDA build (~6 GB with its libraries; tide bench gpu's torch side needs it); the
# peers run it on the CPU.
"$venv/bin/pip" install --upgrade "torch>=2.5" "torchdiffeq==0.2.5" ncps numpy scipy \
  "jax[cpu]==0.10.2" "jaxlib==0.10.2" "diffrax==0.7.2" "equinox==0.13.8" "optax==0.2.8"
echo "peers installed in $venv; e.g. $venv/bin/python bench/peers/torchdiffeq_parity.py compare tests/solvers/data/torchdiffeq_cases.json build/tools/tide"
echo "LTC side by side: bench/peers/compare_ltc.sh build/tools/tide $venv"
echo "solvers and Taylor mode side by side: build/tools/tide bench solvers --peers --python $venv/bin/python (and bench taylor --peers)"
