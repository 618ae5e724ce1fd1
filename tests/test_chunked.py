"""Long texts checked in pieces (index.chunked): the same findings as one parse, reuse after edits, cancellation."""

from __future__ import annotations

import random

import pytest

from index import chunked
from index.api_index import ApiIndex
from index.calls import for_parser
from index.cancel import Cancelled


def long_file(statements: int, seed: int = 3) -> bytes:
    """Plain code with the shapes a cut must not split: multi-line strings and brackets holding column-0 lines
    that look like statements, if/else at column 0, invented calls; the hub import comes last (a late import)."""
    rng = random.Random(seed)
    parts = ["import torch\n"]
    for i in range(statements):
        r = rng.random()
        if r < 0.05:
            parts.append(f"doc{i} = '''\ndef f():\n    m = torch.hub.load('pytorch/vision', 'in_string_{i}')\n'''\n")
        elif r < 0.1:
            parts.append(f"data{i} = [\n1,\nfoo{i},\n]\n")
        elif r < 0.15:
            parts.append(f"if x:\n    pass\nelse:\n    m{i} = torch.hub.load('pytorch/vision', 'resnet9{i}')\n")
        elif r < 0.2:
            parts.append(f"m{i} = torch.hub.load('pytorch/vision', 'resnet9{i}')\n")
        else:
            parts.append(f"def f{i}(x):\n    return x * {i}  # code\n")
    parts.append("def late():\n    return hub.KerasLayer('https://tfhub.dev/google/late/1')\n"
                 "import tensorflow_hub as hub\n")
    return for_parser("".join(parts).encode())


def key(findings: list) -> list[tuple]:
    return [(f.call.start_byte, f.call.end_byte, f.call.start, f.call.end, f.verdict.status, f.call.text)
            for f in findings]


@pytest.fixture(scope="module")
def text() -> bytes:
    data = long_file(24_000)
    assert len(data) > 2 * chunked.LARGE
    return data


def test_pieces_find_what_one_parse_finds(api_index: ApiIndex, text: bytes) -> None:
    whole = list(api_index.checker.findings(text))
    found, pieces = chunked.scan(api_index.checker, text)
    assert len(pieces) >= 3 and pieces[0].start == 0 and pieces[-1].end == len(text)
    assert all(a.end == b.start for a, b in zip(pieces, pieces[1:]))
    assert key(found) == key(whole)
    assert not any("in_string" in f.call.text for f in found)  # a cut never fell inside a string
    assert any(f.call.text.startswith("hub.KerasLayer") and f.verdict.status == "hallucinated" for f in found)
    assert key(chunked.findings(api_index.checker, text)) == key(whole)


def test_edits_reuse_pieces_and_agree_with_a_fresh_check(api_index: ApiIndex, text: bytes) -> None:
    rng = random.Random(5)
    found, pieces = chunked.scan(api_index.checker, text)
    data = text
    for step in range(12):
        line_start = data.index(b"\n", rng.randint(0, len(data) - 100)) + 1
        insert = [b"y = 1\n", b"m = torch.hub.load('pytorch/vision', 'resnet_new')\n"][step % 2]
        new = data[:line_start] + insert + data[line_start:]
        reused, new_pieces = chunked.scan(api_index.checker, new, (data, pieces))
        assert key(reused) == key(chunked.scan(api_index.checker, new)[0]) == key(api_index.checker.findings(new))
        untouched = {(p.start, p.end) for p in pieces if p.end < line_start}
        assert untouched <= {(p.start, p.end) for p in new_pieces}  # pieces before the edit were kept
        data, pieces = new, new_pieces


def test_a_syntax_error_grows_a_piece_and_fixing_it_agrees_again(api_index: ApiIndex, text: bytes) -> None:
    found, pieces = chunked.scan(api_index.checker, text)
    middle = text.index(b"\n", len(text) // 2) + 1
    broken = text[:middle] + b"z = (\n" + text[middle:]
    _, broken_pieces = chunked.scan(api_index.checker, broken, (text, pieces))
    fixed, _ = chunked.scan(api_index.checker, text, (broken, broken_pieces))
    assert key(fixed) == key(found)


def test_a_check_stops_between_pieces_once_cancelled(api_index: ApiIndex, text: bytes) -> None:
    calls = []

    def cancelled() -> bool:
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(Cancelled):
        chunked.scan(api_index.checker, text, None, cancelled)
    assert len(calls) == 3


def test_nul_and_lone_carriage_returns_hide_nothing(api_index: ApiIndex) -> None:
    invented = b"m = torch.hub.load('pytorch/vision', 'resnet9000')"
    for text in (b"import torch\x00\n" + invented + b"\n", b"import torch\r# a note\r" + invented + b"\r",
                 b"x = 1  # \x00\n" + invented + b"\n"):
        findings = list(api_index.checker.findings(for_parser(text)))
        assert [f.verdict.status for f in findings] == ["hallucinated"], text
