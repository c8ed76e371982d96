#!/usr/bin/env bash
# Install the course from wheelhouse/ (made by `make wheelhouse`) with no network: a venv, torch first
# and alone, the pinned requirements, vae-helpers, and the notebooks' kernel.
# Usage: tools/install_offline.sh [VENV_DIR] [WHEELHOUSE_DIR]     (defaults: .venv wheelhouse)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${1:-.venv}"
WHEELS="${2:-wheelhouse}"
PYTHON="${PYTHON:-python3}"
if [ ! -d "$WHEELS" ]; then
  echo "no $WHEELS/: build it on a connected machine with 'make wheelhouse' and copy it here" >&2
  exit 1
fi
"$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install --no-index --find-links "$WHEELS" --disable-pip-version-check)
"${PIP[@]}" "$(grep '^torch==' requirements.txt)"
"${PIP[@]}" -r requirements.txt
"${PIP[@]}" --no-deps vae-helpers
"$VENV/bin/python" -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (vae-helpers)"
echo "installed into $VENV from $WHEELS with no network; try: $VENV/bin/jupyter lab notebooks/00_start_here.ipynb"
