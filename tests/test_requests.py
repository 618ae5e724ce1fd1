"""Request understanding: comments that ask for nothing stay silent, requests go to the right task first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.pipeline import CompletionPipeline
from engine.requests import classify_form, looks_like_code
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


@pytest.mark.parametrize(("engine", "silent", "answered"), [("hybrid", 0.85, 0.85), ("bm25", 0.85, 0.7)])
def test_labelled_comments_precision_and_recall(
    hybrid_index: ApiIndex, api_index: ApiIndex, engine: str, silent: float, answered: float
) -> None:
    """The real comments of tests/data/comments.jsonl stay (mostly) silent; the written requests are answered.
    (Measured: see benchmarks/requests.py; the bounds sit a few points under the measured figures.)"""
    pipeline = CompletionPipeline(hybrid_index if engine == "hybrid" else api_index)
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
    assert sum(r["label"] == "other" and r["source"] != "written" for r in rows) >= 120
    silent_other = sum(not pipeline.complete(r["text"]).suggestions for r in rows if r["label"] == "other")
    answered_requests = sum(bool(pipeline.complete(r["text"]).suggestions) for r in rows if r["label"] == "request")
    others = sum(r["label"] == "other" for r in rows)
    assert silent_other / others >= silent
    assert answered_requests / (len(rows) - others) >= answered
