"""The command line as users run it: a real `gorilla-lsp` process, its stdout, stderr and exit code."""

from __future__ import annotations

import functools
import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import API_DIR, APIBENCH, SHARED

HAND_WRITTEN = """import torch
ok = torch.hub.load('pytorch/vision', 'resnet50', pretrained=True)
bad = torch.hub.load('pytorch/vision', 'resnet9000')
"""


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "GORILLA_LSP_API_DB"}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "lsp_server", *args], capture_output=True, text=True,
                          env=full_env, timeout=120)


def test_complete_json_shape() -> None:
    out = run("complete", "# segment people in a video, under 10M parameters", "--api-db", str(API_DIR),
              "--format", "json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["engine"]["backend"] == "retrieval"
    assert 1 <= len(data["suggestions"]) <= 5
    first = data["suggestions"][0]
    assert set(first) >= {"api_call", "api_name", "domain", "framework", "verdict", "source", "score", "constraints"}
    assert all(s["verdict"] == "known" and s["source"] == "retrieval" for s in data["suggestions"])
    assert data["constraints"] == {"max_params_m": 10.0}


def test_check_flags_invented_calls_like_a_linter(tmp_path: Path) -> None:
    file = tmp_path / "model.py"
    file.write_text(HAND_WRITTEN)
    out = run("check", str(file), "--api-db", str(API_DIR))
    assert out.returncode == 1
    lines = out.stdout.strip().splitlines()
    # the range is the model id; the stand-in's hubconf.py for pytorch/vision has no `resnet9000`
    assert len(lines) == 1 and lines[0].startswith(f"{file}:3:40: warning:") and "[hallucinated-api]" in lines[0]
    assert "pytorch/vision has no entrypoint `resnet9000`" in lines[0] and "(TorchHub: http://127.0.0.1:" in lines[0]
    out = run("check", str(file), "--api-db", str(API_DIR), "--format", "json")
    [diag] = json.loads(out.stdout)
    assert (diag["line"], diag["character"], diag["end_line"], diag["end_character"]) == (2, 39, 2, 51)
    assert diag["code"] == "hallucinated-api" and diag["suggestions"] and diag["evidence"]["source"] == "TorchHub"
    clean = tmp_path / "clean.py"
    clean.write_text(HAND_WRITTEN.splitlines()[0] + "\n" + HAND_WRITTEN.splitlines()[1] + "\n")
    assert run("check", str(clean), "--api-db", str(API_DIR)).returncode == 0


def test_eval_of_published_responses_json() -> None:
    out = run("eval", "--api-db", str(API_DIR / "torchhub_api.jsonl"), "--questions",
              str(APIBENCH / "eval" / "torchhub_eval.json"), "--responses",
              str(APIBENCH / "responses" / "torchhub_Gorilla_FT_0_shot.jsonl"), "--format", "json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert set(data) >= {"n", "accuracy", "hallucination", "error", "metric", "seconds"}
    assert data["n"] == 186 and round(100 * data["accuracy"], 1) == 75.8


def test_eval_of_our_engine_never_hallucinates_under_the_strict_metric() -> None:
    out = run("eval", "--api-db", str(API_DIR / "torchhub_api.jsonl"), "--questions",
              str(APIBENCH / "eval" / "torchhub_eval.json"), "--metric", "strict", "--format", "json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["hallucination"] == 0.0 and data["accuracy"] > 0 and 0 < data["top5"] <= 1


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("complete", "x", "--api-db", "/nonexistent/db"), 3, "no API database at /nonexistent/db"),
        (("check", "/nonexistent.py", "--api-db", str(API_DIR)), 3, "/nonexistent.py: no such file"),
        (("eval", "--api-db", str(API_DIR), "--questions", "/nonexistent.json"), 3, "cannot read the questions"),
        (("complete",), 2, "the following arguments are required: text"),
        (("complete", "x", "--api-db", str(API_DIR), "--model", "/nonexistent/model"), 4, "/nonexistent/model"),
    ],
)
def test_user_errors_are_clear(args: tuple[str, ...], code: int, message: str) -> None:
    out = run(*args)
    assert out.returncode == code, (out.stdout, out.stderr)
    assert message in out.stderr
    assert "Traceback" not in out.stderr


def test_environment_variable_names_the_database() -> None:
    out = run("complete", "translate english to french", "--format", "json", env={"GORILLA_LSP_API_DB": str(API_DIR)})
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["suggestions"]


def test_pull_from_a_local_copy(tmp_path: Path) -> None:
    out = run("index", "pull", "--from", str(APIBENCH), "--dest", str(tmp_path / "db"), "--format", "json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["records"] == 1726 and "api/torchhub_api.jsonl" in report["files"]
    assert (tmp_path / "db" / "eval" / "tensorflow_eval.json").is_file()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def test_pull_downloads_over_http(tmp_path: Path) -> None:
    # A local web server laid out like the Gorilla repository's data/ folder; the download code is the real one.
    site = tmp_path / "site"
    (site / "api").mkdir(parents=True)
    (site / "apibench").mkdir()
    for name in ("torchhub_api.jsonl", "huggingface_api.jsonl", "tensorflowhub_api.jsonl"):
        (site / "api" / name).write_bytes((API_DIR / name).read_bytes())
    (site / "apibench" / "torchhub_eval.json").write_bytes((APIBENCH / "eval" / "torchhub_eval.json").read_bytes())
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        out = run("index", "pull", "--url", url, "--dest", str(tmp_path / "db"), "--format", "json")
    finally:
        server.shutdown()
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["records"] == 1726 and "eval/torchhub_eval.json" in report["files"]
    assert "eval/huggingface_eval.json" not in report["files"]  # missing upstream: skipped, not fatal


def test_pull_of_a_folder_without_api_files_fails_cleanly(tmp_path: Path) -> None:
    out = run("index", "pull", "--from", str(SHARED / "apizoo"), "--dest", str(tmp_path / "db"))
    assert out.returncode == 3 and "no API files found" in out.stderr
    assert not (tmp_path / "db").exists()
