"""One checked version of a document: every judged hub call and where it is, in the client's units.

Checking is incremental. A short text keeps its tree-sitter tree: after an edit only the top-level statements it
touched are parsed and searched for calls again (or, when that window does not parse cleanly, the whole tree is
re-parsed incrementally and the ranges whose syntax changed are searched); the calls before are kept as they are and
those after are shifted, so a keystroke in a file with 1,000 invented calls re-judges the few near the cursor. A long
text is checked in pieces (`index.chunked`). Positions come from byte offsets through `index.positions`, never from
tree-sitter rows, so they are the editor's whatever the line ends.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec
import tree_sitter
from lsprotocol import types

from index import chunked
from index.calls import changed_span, encode, for_parser
from index.cancel import checkpoint
from index.positions import ByteMapper, Encoding, Lines

if TYPE_CHECKING:
    from index.api_index import ApiIndex
    from index.checker import ApiChecker, Finding, HubCheck
    from index.hubs import HubVerifier


Place = tuple[int, int, int, int]  # (start line, start character, end line, end character), client units


def _range(place: Place) -> types.Range:
    return types.Range(types.Position(place[0], place[1]), types.Position(place[2], place[3]))


class Judged(msgspec.Struct, frozen=True):
    """A checked call, what its diagnostic underlines (`span`: the model id, an invented name) and the whole call."""

    finding: Finding
    span: Place
    call_span: Place

    @property
    def range(self) -> types.Range:
        return _range(self.span)

    @property
    def call_range(self) -> types.Range:
        return _range(self.call_span)

    def contains(self, line: int, character: int) -> bool:
        return self.call_span[:2] <= (line, character) <= self.call_span[2:]


class Analysis(msgspec.Struct):
    version: int | None
    index: ApiIndex
    encoding: str
    judged: list[Judged]
    source: bytes = b""  # the text as tree-sitter was given it (`for_parser`)
    tree: Any = None  # a tree-sitter tree of `tree_source` (short texts), reused to parse the next version
    tree_source: bytes = b""  # `source`, or an earlier version when keystrokes took the fast path since
    cuts: list[int] | None = None  # where top-level statements start (None: the text has a syntax error)
    pieces: list[chunked.Piece] | None = None  # the checked pieces of `source` (long texts), reused the same way
    lines: Lines | None = None  # the text the analysis is of
    imports: dict[str, str] | None = None  # the file's imports, as the calls were judged with them

    def hallucinated(self) -> list[Judged]:
        return [j for j in self.judged if j.finding.verdict.status == "hallucinated"]

    def unverified(self) -> list[Judged]:
        """Unverified calls a hub could not settle (not those still waiting for their hub)."""
        return [j for j in self.judged if j.finding.verdict.status == "unverified" and not j.finding.verdict.pending]

    def at(self, line: int, character: int) -> Judged | None:
        for judged in self.judged:
            if judged.contains(line, character):
                return judged
        return None


def placed(findings: list[Finding], lines: Lines, data: bytes, encoding: Encoding) -> list[Judged]:
    """Findings with their places in client units."""
    where = ByteMapper(lines, data, encoding).positions(
        offset for f in findings for offset in (f.call.start_byte, f.call.end_byte, *f.focus_bytes))
    judged = []
    for f in findings:
        start, end = f.focus_bytes
        judged.append(Judged(f, (*where[start], *where[end]), (*where[f.call.start_byte], *where[f.call.end_byte])))
    return judged


def _shifted(judged: Judged, delta: int, rows: int) -> Judged:
    """A kept call after an edit: `delta` bytes and `rows` lines further, on a line the edit did not touch."""
    moved = judged.finding.call.moved(delta, rows)
    line, character, end_line, end_character = judged.span
    call_line, call_character, call_end_line, call_end_character = judged.call_span
    return Judged(msgspec.structs.replace(judged.finding, call=moved),
                  (line + rows, character, end_line + rows, end_character),
                  (call_line + rows, call_character, call_end_line + rows, call_end_character))


def _merge(previous: Analysis, low: int, high: int, delta: int, rows: int, fresh: list[Judged],
           changed: list[tuple[int, int]]) -> list[Judged]:
    """The previous calls before `low` kept, those from `high` on (old offsets) moved, the fresh ones in between;
    none kept that overlaps a range whose syntax `changed` (new offsets)."""

    def untouched(a: int, b: int) -> bool:
        return all(b < lo or a > hi for lo, hi in changed)

    kept: dict[tuple[int, int], Judged] = {}
    for judged in previous.judged:
        call = judged.finding.call
        if call.end_byte < low and untouched(call.start_byte, call.end_byte):
            kept[call.start_byte, call.end_byte] = judged
        elif call.start_byte >= high and untouched(call.start_byte + delta, call.end_byte + delta):
            moved = _shifted(judged, delta, rows)
            kept[moved.finding.call.start_byte, moved.finding.call.end_byte] = moved
    for judged in fresh:
        kept[judged.finding.call.start_byte, judged.finding.call.end_byte] = judged
    return [kept[key] for key in sorted(kept)]


def _imports_touched(old: bytes, new: bytes, low: int, old_high: int, new_ranges: list[tuple[int, int]]) -> bool:
    return b"import" in old[low:old_high] or any(b"import" in new[a:b] for a, b in new_ranges)


def _cut_points(tree: tree_sitter.Tree, data: bytes, base: int = 0) -> list[int]:
    """Where the top-level statements of an error-free tree start at a line start: places to cut the text at."""
    return [base + child.start_byte for child in tree.root_node.children
            if child.start_byte == 0 or data[base + child.start_byte - 1] == 10]


def _in_window(
    index: ApiIndex, previous: Analysis, data: bytes, lines: Lines, encoding: Encoding, hubs: HubCheck | None,
) -> tuple[list[Judged], list[int]] | None:
    """The fast path of a keystroke in an error-free file: parse only the top-level statements the edit touched.

    tree-sitter's incremental parse still walks every top-level statement (20 ms in a 2,000-line module); the
    statements around an edit, cut where statements start and parsed alone, take a millisecond. The result counts
    only when that window parses without an error (then it is what the whole file's parse makes of it). Returns the
    calls and the new cut points; None: take the slow path.
    """
    cuts, old = previous.cuts, previous.source
    if cuts is None or previous.imports is None:
        return None
    start, old_end, new_end = changed_span(old, data)
    delta = new_end - old_end
    low = cuts[bisect.bisect_right(cuts, max(0, start - 1)) - 1]  # the statement holding the byte before the edit
    after = bisect.bisect_right(cuts, old_end)
    high = cuts[after] if after < len(cuts) else len(old)
    if _imports_touched(old, data, low, high, [(low, high + delta)]):
        return None
    window = index.db.parser.parser.parse(data[low: high + delta])
    if window.root_node.has_error:
        return None
    rows_before = data.count(b"\n", 0, low)
    found = []
    for finding in index.checker.findings(b"", tree=window, imports=previous.imports, hubs=hubs):
        found.append(msgspec.structs.replace(finding, call=finding.call.moved(low, rows_before)))
    rows = data.count(b"\n", low, high + delta) - old.count(b"\n", low, high)
    judged = _merge(previous, low, high, delta, rows, placed(found, lines, data, encoding), [])
    new_cuts = cuts[: bisect.bisect_left(cuts, low)] + [low] + [c for c in _cut_points(window, data, low) if c > low]
    return judged, new_cuts + [c + delta for c in cuts[after:]]


def _after_edit(
    index: ApiIndex, previous: Analysis, data: bytes, tree: tree_sitter.Tree, changed: list[tuple[int, int]],
    span: tuple[int, int, int], lines: Lines, encoding: Encoding, hubs: HubCheck | None,
) -> list[Judged] | None:
    """The previous analysis brought up to date after an incremental re-parse; None when the edit may have changed
    the file's imports."""
    start, old_end, new_end = span
    old = previous.source
    low = data.rfind(b"\n", 0, start) + 1  # the edited lines, whole
    stop = data.find(b"\n", new_end)
    high = len(data) if stop < 0 else stop
    delta = new_end - old_end
    touched = [(low, high), *changed]
    if previous.imports is None or _imports_touched(old, data, low, high - delta, touched):
        return None
    rows = data.count(b"\n", start, new_end) - old.count(b"\n", start, old_end)
    fresh = list(index.checker.findings(b"", tree=tree, imports=previous.imports, ranges=touched, hubs=hubs))
    return _merge(previous, low, high - delta + 1, delta, rows, placed(fresh, lines, data, encoding), changed)


def settled(judged: list[Judged], checker: ApiChecker, verifier: HubVerifier, lines: Lines, data: bytes,
            encoding: Encoding) -> list[Judged]:
    """Calls still waiting for their hub judged again from what the hubs have answered since (no network)."""
    again = {number: checker.rejudge(j.finding, verifier) for number, j in enumerate(judged)
             if j.finding.verdict.pending}
    again = {number: f for number, f in again.items() if f is not judged[number].finding}
    if not again:
        return judged
    out = list(judged)
    for number, placed_again in zip(again, placed(list(again.values()), lines, data, encoding)):
        out[number] = placed_again
    return out


def analyse(
    index: ApiIndex, text: str | Lines, encoding: Encoding, version: int | None, previous: Analysis | None = None,
    cancelled: Callable[[], bool] | None = None, hubs: HubCheck | None = None,
) -> Analysis:
    """Check every hub call in a text (worker thread); with the previous analysis, only what the edit changed.

    `hubs`: ids the database lacks are judged from what is known without the network (the rest stay pending until
    `lsp_server.verification` has asked their hubs); calls kept from the previous analysis are brought up to date.
    """
    checkpoint(cancelled)
    lines = text if isinstance(text, Lines) else Lines(text)
    data = for_parser(encode(lines.text))
    reuse = previous if previous is not None and previous.index.checker is index.checker else None
    checker, parser = index.checker, index.db.parser
    tree = pieces = None
    if len(data) > chunked.LARGE:
        old = (reuse.source, reuse.pieces) if reuse is not None and reuse.pieces is not None else None
        findings, pieces = chunked.scan(checker, data, old, cancelled, hubs)
        checkpoint(cancelled)
        imports = pieces[-1].used if pieces else {}
        judged = placed(findings, lines, data, encoding)
        if hubs is not None and old is not None:
            judged = settled(judged, checker, hubs.verifier, lines, data, encoding)
        return Analysis(version, index, encoding, judged, data, pieces=pieces, lines=lines, imports=imports)
    judged = cuts = None
    tree_source = data
    if reuse is not None and reuse.tree is not None:
        imports = reuse.imports
        quick = _in_window(index, reuse, data, lines, encoding, hubs)
        if quick is not None:
            (judged, cuts), tree, tree_source = quick, reuse.tree, reuse.tree_source
        else:
            tree, changed, span = parser.reparse_changes(reuse.tree_source, reuse.tree, data)
            if reuse.tree_source is reuse.source:  # else the tree is older than the previous analysis
                judged = _after_edit(index, reuse, data, tree, changed, span, lines, encoding, hubs)
    else:
        tree = parser.parse(data)
    if judged is None:
        imports = parser.imports(tree)
        judged = placed(list(checker.findings(data, tree=tree, imports=imports, hubs=hubs)), lines, data, encoding)
    elif hubs is not None:
        judged = settled(judged, checker, hubs.verifier, lines, data, encoding)
    if cuts is None and not tree.root_node.has_error:
        cuts = [0] + [c for c in _cut_points(tree, data) if c > 0]
    return Analysis(version, index, encoding, judged, data, tree, tree_source, cuts, pieces, lines, imports)
