"""Odd input to the command line: binary eval files, files with lone CR line ends or NUL bytes (no traceback, ever)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import API_DIR, APIBENCH
from tests.test_cli import run

INVENTED = "torch.hub.load('pytorch/vision', 'resnet9000')"


@pytest.mark.parametrize("which", ["questions", "responses"])
def test_eval_on_a_binary_file_is_a_clear_error(tmp_path: Path, which: str) -> None:
    binary = tmp_path / "data.jsonl"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe binary")
    questions = binary if which == "questions" else APIBENCH / "eval" / "torchhub_eval.json"
    args = ["eval", "--questions", str(questions), "--api-db", str(API_DIR), "--retriever", "bm25"]
    if which == "responses":
        args += ["--responses", str(binary)]
    out = run(*args)
    assert out.returncode == 3, out.stderr
    assert "Traceback" not in out.stderr
    assert f"{binary}:1:1: the {which} file is not UTF-8 text (byte 0x89 at offset 0)" in out.stderr


@pytest.mark.parametrize("text, line", [
    (f"import torch\r# a note\rm = {INVENTED}\r", 2),
    (f"import torch\x00\n# a note\r\nm = {INVENTED}\n", 2),
    (f"import torch\n# page\x0cbreak \u2028 \u0085\nm = {INVENTED}\n", 2),
])
def test_check_sees_through_odd_line_ends(tmp_path: Path, text: str, line: int) -> None:
    path = tmp_path / "odd.py"
    path.write_bytes(text.encode())
    out = run("check", str(path), "--api-db", str(API_DIR), "--format", "json")
    assert out.returncode == 1, out.stderr
    (found,) = json.loads(out.stdout)
    model_at = 4 + INVENTED.index("'resnet9000'")  # the range is the model id
    assert (found["line"], found["character"], found["end_line"]) == (line, model_at, line)
    assert found["end_character"] == model_at + len("'resnet9000'")
