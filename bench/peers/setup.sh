#!/usr/bin/env bash
# The peers' virtual environment (PyTorch, torchdiffeq, ncps, JAX, diffrax, optax, NumPy, SciPy from PyPI), by default in
# .venv at the repository root (ignored by git). The build and the tests never need it.
#   bench/peers/setup.sh [VENV_DIR]
set -euo pipefail
venv="${1:-$(cd "$(dirname "$0")/../.." && pwd)/.venv}"
python3 -m venv "$venv"
"$venv/bin/pip" install --upgrade "torch>=2.5" "torchdiffeq==0.2.5" ncps numpy scipy "jax[cpu]" diffrax optax
echo "peers installed in $venv; e.g. $venv/bin/python bench/peers/torchdiffeq_parity.py compare tests/solvers/data/torchdiffeq_cases.json build/tools/tide"
echo "LTC side by side: bench/peers/compare_ltc.sh build/tools/tide $venv"
