"""Lines as the LSP counts them: splitting, edits, client units and tree-sitter byte offsets (index.positions)."""

from __future__ import annotations

import random
import re

import pytest

from index.calls import for_parser
from index.positions import ByteMapper, Lines, column_from_units, line_starts, split_lines, units

# Characters that `str.splitlines` takes for line ends and the LSP does not.
NOT_LINE_ENDS = ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


def reference_lines(text: str) -> list[str]:
    """The LSP's rule written out by hand: a line ends at CR LF, CR or LF."""
    lines, current, i = [], [], 0
    while i < len(text):
        char = text[i]
        if char == "\r" and text[i + 1: i + 2] == "\n":
            lines.append("".join(current))
            current, i = [], i + 2
            continue
        if char in "\r\n":
            lines.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    lines.append("".join(current))
    return lines


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


@pytest.mark.parametrize("char", NOT_LINE_ENDS)
def test_line_break_like_characters_do_not_end_lines(char: str) -> None:
    text = f"a{char}b\nc"
    assert len(text.splitlines()) == 3  # what pygls counted
    lines = Lines(text)
    assert list(lines) == [f"a{char}b", "c"] == split_lines(text)
    assert lines.offset(1, 0, "utf-16") == len(f"a{char}b\n")


def test_mixed_line_ends() -> None:
    text = "a\r\nb\rc\nd\r\r\ne\r"
    assert list(Lines(text)) == ["a", "b", "c", "d", "", "e", ""] == reference_lines(text)
    assert list(line_starts(text)) == [0, 3, 5, 7, 9, 11, 13]
    lines = Lines(text)
    assert lines.offset(0, 99, "utf-16") == 1  # past a line's end is its end, before the CR LF
    assert lines.offset(99, 0, "utf-16") == len(text)  # past the last line is the end of the text
    assert lines.position(2, "utf-16") == (0, 1)  # inside a CR LF: the end of the line


def test_random_texts_split_as_the_reference_does() -> None:
    rng = random.Random(7)
    alphabet = ["a", "é", "😋", "\n", "\r", "\r\n", "\ud800", *NOT_LINE_ENDS]
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        assert list(Lines(text)) == reference_lines(text) == split_lines(text)


def test_line_starts_of_a_long_non_ascii_text() -> None:
    text = ("é😋\r\n" * 300_000) + "x\rlast"
    starts = line_starts(text)
    assert len(starts) == 300_002 and starts[1] == 4 and starts[-1] == len(text) - 4


def test_edits_rescan_only_what_they_touch_and_stay_exact() -> None:
    rng = random.Random(11)
    pieces = ["", "a", "\n", "\r", "\r\n", "xy", "\u2028", "\x0c", "a\nb\r", "\n\n", "😋"]
    for _ in range(10):
        lines = Lines("import torch\r\nm = \n")
        for _ in range(400):
            start = rng.randint(0, len(lines.text))
            end = rng.randint(start, min(len(lines.text), start + 4))
            new = rng.choice(pieces)
            expected = lines.text[:start] + new + lines.text[end:]
            lines = lines.edit(start, end, new)
            assert lines.text == expected
            assert list(lines.starts) == list(line_starts(expected))


def test_client_units() -> None:
    line = "x = '😋é'"
    assert units(line, "utf-16") == 9 and units(line, "utf-8") == 12 and units(line, "utf-32") == 8
    assert column_from_units(line, 7, "utf-16") == 6  # after the emoji's two units
    assert column_from_units(line, 6, "utf-16") == 6  # inside it: rounded up to after it
    assert column_from_units(line, 9, "utf-8") == 6 and column_from_units(line, 99, "utf-8") == 8
    assert column_from_units("\ud800x", 1, "utf-16") == 1  # a lone surrogate is one unit, as the editor sent it


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-32"])
def test_byte_offsets_become_client_positions(encoding: str) -> None:
    text = "é = 1\x0c\r\n😋 = f('a')\rz\u2028 = g('b')\n"
    data = text.encode("utf-8")
    mapper = ByteMapper(Lines(text), data, encoding)  # type: ignore[arg-type]
    targets = [m.start() for m in re.finditer(r"[fg]\(", text)]
    offsets = [len(text[:t].encode()) for t in targets]
    got = mapper.positions(offsets)
    width = {"utf-8": lambda s: len(s.encode()), "utf-16": utf16, "utf-32": len}[encoding]
    assert got[offsets[0]] == (1, width("😋 = "))
    assert got[offsets[1]] == (2, width("z\u2028 = "))


def test_tree_sitter_input_keeps_offsets() -> None:
    data = b"import torch\x00\r# note\rm = 1\r\n"
    fixed = for_parser(data)
    assert len(fixed) == len(data) and fixed == b"import torch \n# note\nm = 1\r\n"
    assert for_parser(b"plain\n") == b"plain\n"
