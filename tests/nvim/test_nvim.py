"""Neovim itself (headless, its built-in LSP client) against the real server: diagnostics, hover, completion."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
API_DB = (REPO / ".." / "shared" / "apibench" / "api").resolve()
INIT = Path(__file__).with_name("init.lua")

SAMPLE = """import torch

# classify actions in a video, under 10M parameters

model = torch.hub.load('pytorch/vision', 'resnet9000')
"""


def test_neovim_end_to_end(tmp_path: Path) -> None:
    nvim = shutil.which("nvim")
    assert nvim, "Neovim is not installed: `apt-get install -y neovim` (CI installs it)"
    sample = tmp_path / "sample.py"
    sample.write_text(SAMPLE)
    out = tmp_path / "result.json"
    home = tmp_path / "home"
    env = dict(os.environ, HOME=str(home), XDG_CONFIG_HOME=str(home / "config"), XDG_DATA_HOME=str(home / "data"),
               XDG_STATE_HOME=str(home / "state"), XDG_CACHE_HOME=str(home / "cache"), GORILLA_OUT=str(out),
               SERVER_PY=sys.executable, API_DB=str(API_DB),
               PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([nvim, "--headless", "-u", str(INIT), str(sample)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)
    assert out.exists(), f"nvim wrote no result (exit {proc.returncode}): {proc.stderr[-2000:]}"
    res = json.loads(out.read_text())
    assert proc.returncode == 0, res

    assert len(res["diagnostics"]) == 1, res["diagnostics"]
    diagnostic = res["diagnostics"][0]
    # on the model id, once the stand-in TorchHub answered that pytorch/vision has no `resnet9000`
    assert (diagnostic["lnum"], diagnostic["col"]) == (4, len("model = torch.hub.load('pytorch/vision', "))
    assert diagnostic["source"] == "gorilla" and "resnet50" in diagnostic["message"]
    assert "has no entrypoint `resnet9000`" in diagnostic["message"]

    hover = res["hover"]["contents"]["value"]
    assert "Hallucinated" in hover and "model='resnet50'" in hover

    items = res["completion"]["items"]
    assert items and "x3d_s" in items[0]["label"] and "params <= 10M" in items[0]["detail"]
    lines = res["lines_after"]
    assert lines[2] == "# classify actions in a video, under 10M parameters"
    assert items[0]["label"] == "x3d_s" and lines[3] == "model = " + items[0]["detail"].split(" · ")[0]
    assert lines[0] == "import torch" and lines[4].startswith("model = torch.hub.load('pytorch/vision', 'resnet9000')")

    inline = res["inline_completion"]["items"]
    assert inline and inline[0]["insertText"].startswith("model = torch.hub.load(")
