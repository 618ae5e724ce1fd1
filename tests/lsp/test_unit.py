"""Unit tests: comment extraction, settings validation, edits and positions (no server process)."""

from __future__ import annotations

import pytest

from index.positions import ByteMapper
from lsp_server.comments import CommentFinder, hub_of_modules
from lsp_server.edits import Text, call_insertion, import_for, import_insertion, variable_for
from lsp_server.settings import Settings, apply_settings


@pytest.fixture(scope="module")
def finder() -> CommentFinder:
    return CommentFinder()


# --- comments --------------------------------------------------------------------------------------------------

def test_block_on_comment_line(finder: CommentFinder) -> None:
    lines = ["import torch", "", "# segment people in a video,", "#   under 10M parameters", "x = 1"]
    request = finder.request_at(lines, 3, len(lines[3]))
    assert request is not None
    assert request.text == "segment people in a video, under 10M parameters"
    assert (request.first_row, request.last_row, request.cursor_on_comment) == (2, 3, True)


def test_block_just_above_blank_line(finder: CommentFinder) -> None:
    lines = ["def f():", "    # classify images", "    "]
    request = finder.request_at(lines, 2, 4)
    assert request is not None and request.text == "classify images" and request.indent == "    "
    assert not request.cursor_on_comment


def test_assignment_prefix_line(finder: CommentFinder) -> None:
    lines = ["# translate english to german", "translator = "]
    request = finder.request_at(lines, 1, len(lines[1]))
    assert request is not None and request.text == "translate english to german"


def test_not_a_request(finder: CommentFinder) -> None:
    lines = ["# a comment", "", "x = 1  # trailing comment", 's = """', "# inside a string", '"""', ""]
    assert finder.request_at(lines, 1 + 1, 5) is None  # code line
    assert finder.request_at(lines, 1, 0) is not None  # blank line right below the comment
    assert finder.request_at(lines, 4, 17) is None  # '#' inside a string is not a comment
    assert finder.request_at(lines, 99, 0) is None
    assert finder.request_at(["#!/usr/bin/env python", ""], 1, 0) is None  # a shebang is not a request


def test_hub_from_imports(finder: CommentFinder) -> None:
    assert finder.hub_of(["import tensorflow_hub as hub"]) == "tensorflowhub"
    assert finder.hub_of(["import torch", "from transformers import AutoModel"]) == "huggingface"
    assert finder.hub_of(["import torch.nn as nn"]) == "torchhub"
    assert finder.hub_of(["import os"]) is None
    assert hub_of_modules(["sentence_transformers.SentenceTransformer"]) == "huggingface"


# --- settings --------------------------------------------------------------------------------------------------

def test_settings_both_shapes_and_defaults() -> None:
    wrapped, problems = apply_settings(Settings(), {"gorillaLsp": {"retrieval": {"topK": 7}}})
    bare, problems2 = apply_settings(Settings(), {"retrieval": {"topK": 7}})
    assert wrapped == bare and wrapped.retrieval.top_k == 7 and not problems and not problems2
    assert Settings().completion.max_candidates == 5 and Settings().diagnostics.severity == "warning"


def test_bad_settings_keep_previous_value_and_apply_the_rest() -> None:
    current = Settings()
    current, _ = apply_settings(current, {"retrieval": {"topK": 9}, "model": {"device": "cpu"}})
    updated, problems = apply_settings(current, {
        "retrieval": {"topK": 99}, "model": {"device": "tpu", "path": "/m"}, "completion": {"hallucinated": "hide"},
        "bogus": 1, "diagnostics": "loud",
    })
    assert updated.retrieval.top_k == 9 and updated.model.device == "cpu"
    assert updated.model.path == "/m" and updated.completion.hallucinated == "hide"
    by_name = {p.setting: p.message for p in problems}
    assert set(by_name) == {"gorillaLsp.retrieval.topK", "gorillaLsp.model.device", "gorillaLsp.bogus",
                            "gorillaLsp.diagnostics"}
    assert "<= 50" in by_name["gorillaLsp.retrieval.topK"]
    assert "'auto', 'cpu', 'cuda'" in by_name["gorillaLsp.model.device"]
    assert "expected an object" in by_name["gorillaLsp.diagnostics"]


def test_settings_reject_wrong_types() -> None:
    updated, problems = apply_settings(Settings(), {"completion": {"maxCandidates": True}, "apiDatabase": "x"})
    assert updated == Settings() and len(problems) == 2
    reset, problems = apply_settings(updated, {"completion": {"maxCandidates": None}})
    assert reset.completion.max_candidates == 5 and not problems


# --- edits -----------------------------------------------------------------------------------------------------

def test_positions_utf16_and_surrogates() -> None:
    text = Text("x = '😋é'\n\ud800abc\r\nlast", "utf-16")
    assert text.lines[1] == "\ud800abc"
    assert text.from_client(0, 7) == (0, 6)  # after the emoji (2 UTF-16 units)
    assert text.to_client(0, 6) == (0, 7)
    data = text.source.encode("utf-8", "surrogatepass")
    assert ByteMapper(text.lines, data, "utf-16").positions([len("x = '😋".encode())]) == {9: (0, 7)}
    assert text.from_client(9, 0) is None and text.from_client(0, 999) == (0, 8)
    assert Text("é", "utf-8").to_client(0, 1) == (0, 2)


def test_imports_and_names() -> None:
    assert import_for("torch.hub.load(repo_or_dir='pytorch/vision', model='resnet50')") == ("torch", "import torch")
    assert import_for("hub.KerasLayer('https://tfhub.dev/x')") == ("hub", "import tensorflow_hub as hub")
    assert import_for("pipeline('fill-mask', model='bert-base-uncased')") == ("pipeline", "from transformers import pipeline")
    assert import_for("AutoModel.from_pretrained('x')") == ("AutoModel", "from transformers import AutoModel")
    assert import_for("SentenceTransformer('x')")[1] == "from sentence_transformers import SentenceTransformer"
    assert variable_for("pipeline('translation_en_to_de', model='t5')") == "pipe"
    assert variable_for("pipeline('summarization', model='x')") == "summarizer"
    assert variable_for("AutoTokenizer.from_pretrained('x')") == "tokenizer"


def test_import_insertion_places() -> None:
    lines = ["#!/usr/bin/env python", '"""Doc."""', "import os", "from a import (b,", "    c)", "", "x = 1"]
    assert import_insertion(lines, "import torch").line == 5
    assert import_insertion(["# request", ""], "import torch").line == 0
    tail = import_insertion(["import os"], "import torch")
    assert (tail.line, tail.start, tail.text) == (0, 9, "\nimport torch")


def test_call_insertion_never_drops_user_text() -> None:
    lines = ["# load resnet please", "", "m = "]
    on_comment = call_insertion(lines, 0, 7, "", True, "f()", len)
    assert (on_comment.start, on_comment.end) == (7, len(lines[0]))
    assert on_comment.text == "resnet please\nmodel = f()"  # the rest of the comment is written back
    blank = call_insertion(lines, 1, 0, "", False, "f()", len)
    assert (blank.start, blank.end, blank.text) == (0, 0, "model = f()")
    after_assign = call_insertion(lines, 2, 4, "", False, "f()", len)
    assert after_assign.text == "f()" and after_assign.start == after_assign.end == 4
