"""`eval` gives the published figures on every database a user can point at (issue 13): one hub's file, the whole
APIBench folder, the pulled default, one merged file, several sources; many answer files in one run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import API_DIR, APIBENCH, SHARED
from tests.test_cli import run

RESPONSES = APIBENCH / "responses"
HUB_FILE = {"torchhub": "torchhub_api.jsonl", "huggingface": "huggingface_api.jsonl",
            "tensorflowhub": "tensorflowhub_api.jsonl"}


def _figures(rows: list[dict]) -> dict[tuple[str, str], tuple[int, int, int]]:
    """(responses file, metric) -> (n, correct, hallucinated), exact counts rather than rounded percentages."""
    return {(Path(r["responses"]).name, r["metric"]): (r["n"], r["correct"], r["hallucinated"]) for r in rows}


@pytest.fixture(scope="module")
def reference() -> dict[tuple[str, str], tuple[int, int, int]]:
    """Each hub's answers scored against that hub's own API file: the published procedure's setting."""
    figures: dict[tuple[str, str], tuple[int, int, int]] = {}
    for hub, api_file in HUB_FILE.items():
        out = run("eval", "--api-db", str(API_DIR / api_file), "--metric", "both", "--format", "json",
                  *[arg for f in sorted(RESPONSES.glob(f"{hub}_*.jsonl")) for arg in ("--responses", str(f))])
        assert out.returncode == 0, out.stderr
        figures.update(_figures(json.loads(out.stdout)))
    assert len(figures) == 48
    return figures


def test_the_reference_is_the_published_accuracy(reference) -> None:
    # Published figures (zero-shot and oracle), as the project's issue tracker states them.
    published = {"torchhub_Gorilla_FT_0_shot.jsonl": 75.8, "huggingface_Gorilla_FT_0_shot.jsonl": 69.4,
                 "tensorflowhub_Gorilla_FT_0_shot.jsonl": 83.9, "torchhub_Gorilla_RT_oracle.jsonl": 93.0,
                 "huggingface_Gorilla_RT_oracle.jsonl": 89.3, "tensorflowhub_Gorilla_RT_oracle.jsonl": 93.9}
    for name, accuracy in published.items():
        n, correct, _ = reference[(name, "gorilla")]
        assert round(100 * correct / n, 1) == accuracy, name


def test_the_whole_folder_gives_the_reference_for_all_24_files(reference) -> None:
    out = run("eval", "--api-db", str(API_DIR), "--responses", str(RESPONSES), "--metric", "both", "--format", "json")
    assert out.returncode == 0, out.stderr
    assert _figures(json.loads(out.stdout)) == reference


def test_the_pulled_default_gives_the_reference(tmp_path: Path, reference) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    pulled = run("index", "pull", "--from", str(APIBENCH), env=env)
    assert pulled.returncode == 0, pulled.stderr
    # No --api-db and no --questions: the pulled database, and the pulled eval/ folder found by hub prefix (the
    # answers sit in a folder of their own, with no eval/ beside them).
    answers = tmp_path / "runs" / "answers"
    answers.mkdir(parents=True)
    for file in RESPONSES.glob("*.jsonl"):
        (answers / file.name).write_bytes(file.read_bytes())
    out = run("eval", "--responses", str(answers), "--metric", "both", "--format", "json", env=env)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert {Path(r["questions"]).parent for r in rows} == {tmp_path / "cache" / "gorilla-lsp" / "apibench" / "eval"}
    assert _figures(rows) == reference


def test_one_merged_file_and_several_sources_give_the_reference(tmp_path: Path, reference) -> None:
    # One file holding all three hubs, its name naming none of them: the hub comes from each record.
    merged = tmp_path / "apis.jsonl"
    merged.write_bytes(b"".join((API_DIR / name).read_bytes() for name in sorted(HUB_FILE.values())))
    for api_db in ([str(merged)], [str(API_DIR), str(SHARED / "apizoo"), str(API_DIR / "torchhub_api.jsonl")]):
        args = [arg for p in api_db for arg in ("--api-db", p)]
        out = run("eval", *args, "--responses", str(RESPONSES), "--metric", "both", "--format", "json")
        assert out.returncode == 0, out.stderr
        assert _figures(json.loads(out.stdout)) == reference, api_db


def test_text_table_and_explicit_pairs(reference) -> None:
    questions = APIBENCH / "eval" / "tensorflow_eval.json"
    answers = RESPONSES / "tensorflowhub_Gorilla_FT_0_shot.jsonl"
    renamed_pair = f"{questions}={answers}"
    out = run("eval", "--api-db", str(API_DIR), "--responses", renamed_pair,
              "--responses", str(RESPONSES / "torchhub_Gorilla_RT_oracle.jsonl"))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split()[:3] == ["responses", "hub", "n"] and len(lines) == 4
    row = {line.split()[0]: line.split() for line in lines[2:]}
    assert row["tensorflowhub_Gorilla_FT_0_shot"][1:4] == ["tensorflowhub", "685", "83.94"]
    assert row["torchhub_Gorilla_RT_oracle"][1:4] == ["torchhub", "186", "93.01"]
    assert "2 file(s) scored" in out.stderr


@pytest.mark.parametrize(
    ("responses", "message"),
    [
        ("answers.jsonl", "cannot tell which questions it answers"),
        ("torchhub_missing.jsonl", "no such responses file"),
        ("torchhub_binary.jsonl", "torchhub_binary.jsonl:1:2: the responses file is not UTF-8 text"),
    ],
)
def test_eval_errors_name_the_file(tmp_path: Path, responses: str, message: str) -> None:
    (tmp_path / "answers.jsonl").write_text('{"question_id": 1, "text": "x"}\n')
    (tmp_path / "torchhub_binary.jsonl").write_bytes(b"\x00\xff\xfe\n")
    out = run("eval", "--api-db", str(API_DIR), "--questions", str(APIBENCH / "eval"),
              "--responses", str(tmp_path / responses))
    assert out.returncode == 3, (out.stdout, out.stderr)
    assert message in out.stderr and "Traceback" not in out.stderr


def test_a_hub_missing_from_the_database_is_a_clear_error() -> None:
    out = run("eval", "--api-db", str(API_DIR / "torchhub_api.jsonl"),
              "--responses", str(RESPONSES / "huggingface_Gorilla_FT_0_shot.jsonl"))
    assert out.returncode == 3 and "holds no huggingface record" in out.stderr
