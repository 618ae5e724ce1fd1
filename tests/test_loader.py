from __future__ import annotations

import json
from pathlib import Path

from index.loader import load_file, load_paths
from index.records import parse_performance
from tests.conftest import API_DIR, SHARED


def test_apibench_loads_every_record_with_source_and_line() -> None:
    result = load_paths([API_DIR])
    assert result.errors == []
    by_file: dict[str, int] = {}
    for record in result.records:
        by_file[Path(record.source).name] = by_file.get(Path(record.source).name, 0) + 1
    assert by_file == {"huggingface_api.jsonl": 936, "tensorflowhub_api.jsonl": 696, "torchhub_api.jsonl": 94}
    first = next(r for r in result.records if r.source.endswith("torchhub_api.jsonl"))
    assert first.line == 1 and first.api_name == "slow_r50" and first.hub == "torchhub"


def test_mixed_field_types_are_normalised() -> None:
    records = load_paths([API_DIR]).records
    # api_arguments comes as object, list, string or null; example_code as string, list or object.
    assert all(isinstance(r.arguments, str) and isinstance(r.example_code, str) for r in records)
    assert all(isinstance(r.requirements, list) for r in records)
    assert any(r.functionality and r.raw.get("functionality") and isinstance(r.raw["functionality"], list)
               for r in records)


def test_performance_facts() -> None:
    perf = parse_performance({"dataset": "Kinetics 400", "accuracy": {"top_1": 74.58, "top_5": 91.63},
                              "Params (M)": 32.45})
    assert (perf.params_m, perf.top1, perf.top5, perf.dataset) == (32.45, 74.58, 91.63, "Kinetics 400")
    error = parse_performance({"dataset": "ImageNet", "accuracy": {"top-1_error": 43.45, "top-5_error": 20.91}})
    assert error.top1 == 56.55 and error.top5 == 79.09
    listed = parse_performance([{"dataset": "ImageNet", "accuracy": {"parameters": "5.48M", "top1": "76.92"}}])
    assert listed.params_m == 5.48 and listed.top1 == 76.92
    unknown = parse_performance({"dataset": "N/A", "accuracy": "N/A"})
    assert unknown.params_m is None and unknown.top1 is None


def test_broken_published_json_reports_file_line_column_and_keeps_other_records() -> None:
    result = load_paths([SHARED / "apizoo"])
    errors = [e for e in result.errors if e.severity == "error"]
    kube = [e for e in errors if e.path.endswith("KubernetesAPI.JSON")]
    assert kube, "the broken Kubernetes file must be reported"
    assert kube[0].line == 793 and kube[0].column > 1
    names = {Path(r.source).name for r in result.records}
    assert {"Google_Translate_API.json", "Youtube_API.json", "yfinance.json", "KubernetesAPI.JSON"} <= names
    assert sum(1 for r in result.records if r.source.endswith("KubernetesAPI.JSON")) > 150


def test_trailing_commas_load_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "zoo.json"
    path.write_text('[\n  {"api_call": "a.b(1)", "api_name": "x",},\n  {"api_call": "c.d(2)"}\n]\n')
    records, errors = load_file(path)
    assert [r.api_call for r in records] == ["a.b(1)", "c.d(2)"]
    assert len(errors) == 1 and errors[0].severity == "warning" and errors[0].line == 2


def test_bad_records_name_the_field_and_the_rest_load(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    lines = [
        {"api_call": "torch.hub.load('a/b', 'c')", "domain": "X"},
        {"domain": "no call here"},
        {"api_call": 42},
        "not json",
        {"api_call": "hub.load('https://tfhub.dev/x/1')", "performance": 7},
    ]
    path.write_text("\n".join(json.dumps(x) if not isinstance(x, str) else x for x in lines) + "\n")
    records, errors = load_file(path)
    assert [r.line for r in records] == [1, 5]
    assert [(e.line, e.field) for e in errors] == [(2, "api_call"), (3, "api_call"), (4, None)]
    assert "no `api_call`" in errors[0].message
    assert "Expected `str`, got `int`" in errors[1].message
    assert errors[2].message.startswith("invalid JSON")
    assert str(errors[1]).startswith(f"{path}:3:")


def test_missing_paths_and_empty_directories_are_errors_not_crashes(tmp_path: Path) -> None:
    result = load_paths([tmp_path / "nope", tmp_path])
    assert len(result.errors) == 2 and not result.records
    assert "no such file" in result.errors[0].message
