"""Request understanding: comments that ask for nothing stay silent, requests go to the right task first."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from engine.pipeline import CompletionPipeline
from engine.requests import classify_form, code_words, looks_like_code
from index.api_index import ApiIndex
from index.router import directions
from index.tasks import TASKS, task_of_domain

DATA = Path(__file__).parent / "data" / "comments.jsonl"


@pytest.fixture(scope="module")
def hybrid_index(parser) -> ApiIndex:  # noqa: ANN001
    """The default engine: BM25 + the sentence encoder (what `complete` and the server use by default)."""
    from index.dense import load_default_encoder

    return ApiIndex.load([Path(__file__).resolve().parents[1].parent / "shared" / "apibench" / "api"], parser,
                         encoder=load_default_encoder())


@pytest.mark.parametrize(("text", "kind"), [
    ("TODO: refactor this later", "note"), ("Copyright 2020 The HuggingFace Inc. team. All rights reserved.", "licence"),
    ("noqa", "directive"), ("type: ignore", "directive"), ("-*- coding: utf-8 -*-", "directive"),
    ("", "empty"), ("x = model(x)", "code"), ("############", "separator"),
    ("detect objects in street photos", "request"), ("an Apache-licensed model to translate English to German", "request"),
])
def test_form(text: str, kind: str) -> None:
    assert classify_form(text).kind == kind


def test_prose_is_not_code() -> None:
    assert not looks_like_code("We need to answer a question (about prices) on who sells hot chocolate")
    assert looks_like_code("print(f\"{model}\")") and looks_like_code("else:")


def test_directions() -> None:
    assert directions("create a picture from a text description") == ({"text"}, {"image"})
    inputs, outputs = directions("transcribe a podcast episode into text")
    assert "text" in outputs and "text" not in inputs


def test_every_database_domain_has_a_task(api_index: ApiIndex) -> None:
    assert all(task_of_domain(api.domain) for api in api_index.db.apis)
    assert len({t.id for t in TASKS}) == len(TASKS) >= 40


@pytest.mark.parametrize(("request_text", "task"), [
    ("transcribe a podcast episode into text", "automatic-speech-recognition"),
    ("read this paragraph aloud", "text-to-speech"),
    ("create a picture from a text description", "text-to-image"),
    ("describe what is in an image", "image-to-text"),
    ("predict the missing word", "fill-mask"),
    ("identify the species of a flower in an image", "image-classification"),
    ("find the body keypoints of people", "pose-estimation"),
    ("estimate a house price from a table", "tabular-regression"),
    ("detect objects in street photos", "object-detection"),
])
def test_the_issues_requests_get_their_task(hybrid_index: ApiIndex, request_text: str, task: str) -> None:
    result = CompletionPipeline(hybrid_index).complete(request_text)
    assert result.tasks[0] == task
    assert task_of_domain(result.suggestions[0].domain) == task


@pytest.mark.parametrize("text", ["# TODO: refactor this later", "# Copyright 2021 Someone", "# noqa", "# type: ignore",
                                  "# -*- coding: utf-8 -*-", "# purple monkey dishwasher", "", "# Training loop"])
def test_comments_that_ask_for_nothing_get_nothing(hybrid_index: ApiIndex, text: str) -> None:
    result = CompletionPipeline(hybrid_index).complete(text)
    assert result.suggestions == [] and not result.kind.is_request and result.kind.reason


def test_constraints_rerank_only_within_the_task_and_the_dataset_must_match(hybrid_index: ApiIndex) -> None:
    api_index = hybrid_index
    result = CompletionPipeline(api_index).complete(
        "an image classification network with fewer than 10M parameters and at least 70% top-1 on ImageNet")
    assert result.tasks[0] == "image-classification"
    assert all(s.task == "image-classification" for s in result.suggestions)
    first = api_index.db.apis[result.suggestions[0].api].performance
    assert first.params_m <= 10 and first.top1 >= 70 and "imagenet" in first.dataset.lower()
    result = CompletionPipeline(api_index).complete("an image classifier with at least 80% top-1")
    assert "hotdog" not in result.suggestions[0].api_call


def test_the_files_imports_never_bring_a_worse_api(hybrid_index: ApiIndex) -> None:
    pipeline = CompletionPipeline(hybrid_index)
    plain = pipeline.complete("detect objects in street photos")
    biased = pipeline.complete("detect objects in street photos", hub="huggingface")
    assert biased.suggestions[0].task == "object-detection"
    assert "table" not in biased.suggestions[0].api_call.lower()
    assert plain.tasks == biased.tasks


def test_code_words_and_notes_count_against_a_comment(hybrid_index: ApiIndex) -> None:
    assert code_words("move the tensors to cuda and save a checkpoint") == 3
    assert code_words("detect objects in street photos") == 0
    router = hybrid_index.router
    note = router.route("load the dataset and tokenize it").note
    request = router.route("detect objects in street photos").note
    assert note > 0 > request


@pytest.mark.parametrize(("engine", "silent", "answered", "task"), [
    ("hybrid", 0.88, 0.92, 0.84), ("bm25", 0.87, 0.88, 0.74),
])
def test_held_out_comments_precision_recall_and_task(
    hybrid_index: ApiIndex, api_index: ApiIndex, engine: str, silent: float, answered: float, task: float
) -> None:
    """On the held-out split of tests/data/comments.jsonl (never tuned on): real comments that ask for nothing stay
    silent, written requests are answered with their task. The bounds sit a few points under the figures
    benchmarks/requests.py measures (hybrid 91.6 / 95.4 / 88.0, BM25 90.7 / 91.7 / 77.8)."""
    pipeline = CompletionPipeline(hybrid_index if engine == "hybrid" else api_index)
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
    held = [r for r in rows if r["split"] == "heldout"]
    real_other = [r for r in held if r["label"] == "other" and not r["source"].startswith("written")]
    requests = [r for r in held if r["label"] == "request" and r["source"].startswith("written")]
    assert len(real_other) >= 200 and len(requests) >= 100
    assert sum(not pipeline.complete(r["text"]).suggestions for r in real_other) / len(real_other) >= silent
    results = [pipeline.complete(r["text"]).suggestions for r in requests]
    assert sum(bool(s) for s in results) / len(requests) >= answered
    assert sum(bool(s) and s[0].task in r["task"].split("|") for r, s in zip(requests, results)) / len(requests) >= task


def test_labelled_set_shape() -> None:
    """The labelled set keeps its provenance: real comments name repository:path@commit, every request has tasks
    that exist, and no file's comments sit on both sides of the split."""
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
    real = [r for r in rows if not r["source"].startswith("written")]
    assert len({r["text"] for r in real}) == len(real) >= 500
    assert len({r["source"].split("@")[0] for r in real}) >= 30
    assert all(re.fullmatch(r"[\w.-]+/[\w.-]+:\S+@[0-9a-f]{12}", r["source"]) for r in real)
    ids = {t.id for t in TASKS}
    assert all(set(r["task"].split("|")) <= ids for r in rows if r["label"] == "request")
    sides: dict[str, set[str]] = {}
    for r in real:
        sides.setdefault(r["source"].split("@")[0], set()).add(r["split"])
    assert all(len(s) == 1 for s in sides.values())
