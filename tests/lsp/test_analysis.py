"""Incremental checking (lsp_server.analysis): after any edit, the same result as checking the text afresh."""

from __future__ import annotations

import random

import pytest

from index.api_index import ApiIndex
from lsp_server.analysis import analyse

CALLS = [
    "torch.hub.load('pytorch/vision', 'resnet9{i}')",
    "torch.hub.load('pytorch/vision', 'resnet50')",
    "hub.KerasLayer('https://tfhub.dev/google/imagenet/mobilenet_v9_{i}/feature_vector/4')",
    "AutoModel.from_pretrained('acme/bert-invented-{i}')",
    "pipeline('fill-mask', model='nobody/masked-model-{i}')",
]
EDITS = ["", "x", "\n", "\r", "\r\n", "'", "'''", "(", ")", "#", "\x00", "\x0c", "\u2028", "😋", "import torch\n",
         "import tensorflow_hub as tfhub\n", "m = torch.hub.load('pytorch/vision', 'resnet_new')\n",
         "tfhub.load('https://tfhub.dev/google/x/1')", "    ", "def f(:\n"]


def document(lines: int) -> str:
    out = ["import torch", "import tensorflow_hub as hub", "from transformers import AutoModel, pipeline"]
    for i in range(lines):
        out.append(f"m{i} = {CALLS[i % len(CALLS)].format(i=i)}" if i % 2 else f"x{i} = [{i}]  # é")
    return "\n".join(out) + "\n"


def signature(analysis) -> list[tuple]:
    return [(j.finding.call.start_byte, j.finding.call.end_byte, j.finding.call.start, j.finding.call.end,
             j.finding.call.text, j.finding.verdict.status, j.finding.verdict.alternatives, j.span)
            for j in analysis.judged]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8"])
def test_random_edits_agree_with_a_fresh_check(api_index: ApiIndex, encoding: str) -> None:
    rng = random.Random(encoding)
    text = document(400)
    current = analyse(api_index, text, encoding, 1)
    assert len(current.hallucinated()) > 100
    for version in range(2, 160):
        start = rng.randint(0, len(text))
        end = min(len(text), start + rng.choice([0, 0, 1, 3, 30]))
        text = text[:start] + rng.choice(EDITS) + text[end:]
        current = analyse(api_index, text, encoding, version, current)
        fresh = analyse(api_index, text, encoding, version)
        assert signature(current) == signature(fresh), (version, repr(text[max(0, start - 40): start + 40]))


def test_an_edit_far_from_the_calls_keeps_them(api_index: ApiIndex) -> None:
    text = document(400)
    first = analyse(api_index, text, "utf-16", 1)
    edited = text.replace("x10 = [10]", "x10 = [10, 11]\n# a comment")
    second = analyse(api_index, edited, "utf-16", 2, first)
    before = [j for j in first.judged if j.span[0] < 13]
    assert before and all(any(k is j for k in second.judged) for j in before)  # the very same objects
    after = [j for j in first.judged if j.span[0] > 13]
    moved = [j for j in second.judged if j.span[0] > 14]
    assert moved and [(j.span[0], j.finding.call.text) for j in moved] == [
        (j.span[0] + 1, j.finding.call.text) for j in after]


CLEAN_LINES = [
    "y = 1", "m = torch.hub.load('pytorch/vision', 'resnet_new')",
    "def f(x):\n    return AutoModel.from_pretrained('a/b')",
    "z = hub.KerasLayer('https://tfhub.dev/google/x/1')  # é", "", "# a comment with torch.hub.load('a/b', 'c')",
    "class C:\n    m = pipeline('fill-mask', model='nobody/m')\n    n = 2", "s = '''\ntorch.hub.load('a/b', 'c')\n'''",
]


def test_clean_edits_take_the_window_and_agree_with_a_fresh_check(api_index: ApiIndex) -> None:
    from lsp_server import analysis

    taken = []
    window = analysis._in_window

    def spy(*args):  # noqa: ANN002, ANN202
        result = window(*args)
        taken.append(result is not None)
        return result

    analysis._in_window = spy
    try:
        rng = random.Random(3)
        lines = document(300).split("\n")
        current = analyse(api_index, "\n".join(lines), "utf-16", 1)
        for version in range(2, 120):
            at = rng.randrange(3, len(lines))  # below the imports
            action = rng.random()
            if action < 0.4:
                lines[at] = rng.choice(CLEAN_LINES)
            elif action < 0.7:
                lines.insert(at, rng.choice(CLEAN_LINES))
            elif action < 0.85:
                del lines[at]
            else:
                lines[at] = lines[at].replace("9", "8").replace("invented", "made-up")
            text = "\n".join(lines)
            current = analyse(api_index, text, "utf-16", version, current)
            assert signature(current) == signature(analyse(api_index, text, "utf-16", version)), version
    finally:
        analysis._in_window = window
    assert sum(taken) > 0.8 * len(taken)  # the fast path did the work
