"""Checking a long text piece by piece, so memory follows a piece and not the file, and work can stop between pieces.

A tree-sitter tree costs about 36 bytes per byte of source (a 10 MB file: 360 MB), and a parse holds the GIL for its
whole length (1.8 s for 10 MB: nothing else in the process runs meanwhile). Past `LARGE` bytes a text is cut into
pieces of about `PIECE` bytes at top-level statements; each is parsed, checked and dropped on its own. A cut is kept
only where the piece before it parses without an error (so not inside a string, brackets or a statement), so a piece
parses as it does within the whole file. Between two versions of a document the pieces the edit did not touch are
reused, and the piece it touched is cut again at the old cut after it when that is still clean, so one keystroke
re-parses one piece.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import msgspec
import tree_sitter

from index.calls import changed_span
from index.cancel import checkpoint
from index.checker import ApiChecker, Finding, HubCheck

LARGE = 256 * 1024  # bytes past which a text is checked in pieces
PIECE = 64 * 1024  # bytes a piece aims at (~12 ms of parsing: the longest another thread waits for the GIL)
GROWN = 4 * PIECE  # a piece with a syntax error grows to this size before a cut after the error is trusted

# A line that starts a top-level statement, except a clause that continues the one above it.
_CUT = re.compile(rb"\n(?=[A-Za-z_@])(?!(?:else|elif|except|finally)\b)")


class Piece(msgspec.Struct):
    """A checked piece: [start, end) of the text, its own imports, and findings relative to `start`."""

    start: int
    end: int
    imports: dict[str, str]
    used: dict[str, str]  # the file's imports its findings were judged with
    findings: list[Finding]


def _clean(tree: tree_sitter.Tree, size: int) -> bool:
    """Whether a piece's end is a cut that the whole file's parse would make too.

    A piece without a syntax error is; one with an error (the user is typing, or the cut fell inside a string whose
    quotes tree-sitter paired up otherwise) is grown first, and past `GROWN` bytes trusted if it ends cleanly.
    """
    root = tree.root_node
    if not root.has_error:
        return True
    last = root.child(root.child_count - 1) if root.child_count else None
    return size >= GROWN and last is not None and not last.has_error


def _tail_cut(tree: tree_sitter.Tree) -> int | None:
    """Where the trailing run of top-level statements with errors starts (the text the cut split), if anywhere."""
    root = tree.root_node
    at = None
    for number in range(root.child_count - 1, -1, -1):
        child = root.child(number)
        if child is None or not child.has_error:
            break
        at = child.start_byte
    return at


def _cut(checker: ApiChecker, data: bytes, start: int, prefer: int | None = None) -> tuple[int, tree_sitter.Tree]:
    """The end of the piece that starts at `start`, and its tree.

    `prefer`: an old cut past an edit, taken when it still cuts cleanly (the pieces after it are then reused as they
    are). Otherwise the first clean cut past `PIECE` bytes. A candidate that is not clean usually split a statement
    (a string, a bracket) at the end: the cut before that statement is tried next, then one twice as far.
    """
    parser = checker.db.parser.parser
    if prefer is not None and start < prefer <= start + 2 * PIECE and _CUT.match(data, prefer - 1):
        tree = parser.parse(data[start:prefer])
        if _clean(tree, prefer - start):
            return prefer, tree
    ahead = PIECE
    while True:
        match = _CUT.search(data, start + ahead - 1) if start + ahead < len(data) else None
        end = match.end() if match is not None else len(data)
        tree = parser.parse(data[start:end])
        if end == len(data) or _clean(tree, end - start):
            return end, tree
        tail = _tail_cut(tree)
        if tail is not None and tail >= PIECE // 2 and _CUT.match(data, start + tail - 1):
            del tree
            tree = parser.parse(data[start: start + tail])
            if _clean(tree, tail):
                return start + tail, tree
        ahead = 2 * (end - start)


def _rejudge(
    checker: ApiChecker, piece: Piece, imports: dict[str, str], data: bytes, hubs: HubCheck | None
) -> Piece:
    """The piece's findings judged again with other imports (parsed again: its tree was not kept)."""
    tree = checker.db.parser.parser.parse(data[piece.start: piece.end])
    return msgspec.structs.replace(piece, used=imports, findings=list(
        checker.findings(b"", tree=tree, imports=imports, hubs=hubs)))


def scan(
    checker: ApiChecker, data: bytes, previous: tuple[bytes, list[Piece]] | None = None,
    cancelled: Callable[[], bool] | None = None, hubs: HubCheck | None = None,
) -> tuple[list[Finding], list[Piece]]:
    """Findings of a whole text (`for_parser` bytes) checked in pieces; `previous` (its text and pieces) is reused.

    Raises `index.cancel.Cancelled` between pieces once `cancelled()` says so.
    """
    reusable: dict[int, Piece] = {}
    resume: list[int] = []  # old cuts past the edit, where cutting may rejoin the old pieces
    if previous is not None:
        old, old_pieces = previous
        edit_start, old_end, new_end = changed_span(old, data)
        delta = new_end - old_end
        for piece in old_pieces:
            if piece.end < edit_start:  # its bytes and the byte after its cut are unchanged
                reusable[piece.start] = piece
            elif piece.start >= old_end:
                reusable[piece.start + delta] = msgspec.structs.replace(
                    piece, start=piece.start + delta, end=piece.end + delta)
                resume.append(piece.start + delta)
    guess = dict(previous[1][-1].used) if previous is not None and previous[1] else None
    pieces: list[Piece] = []
    imports: dict[str, str] = {}
    start = 0
    while start < len(data):
        checkpoint(cancelled)
        piece = reusable.get(start)
        if piece is None:
            end, tree = _cut(checker, data, start, next((cut for cut in resume if cut > start), None))
            own = checker.db.parser.imports(tree)
            imports = {**imports, **own}
            # Judged with the file's imports as they were last time (or as far as seen): right unless they changed.
            used = guess if guess is not None else imports
            piece = Piece(start, end, own, used, list(checker.findings(b"", tree=tree, imports=used, hubs=hubs)))
            del tree
        else:
            imports = {**imports, **piece.imports}
        pieces.append(piece)
        start = piece.end
    for number, piece in enumerate(pieces):
        if piece.used != imports:
            checkpoint(cancelled)
            pieces[number] = _rejudge(checker, piece, imports, data, hubs)
    return _absolute(data, pieces), pieces


def _absolute(data: bytes, pieces: list[Piece]) -> list[Finding]:
    """Findings with offsets and rows in the whole text."""
    found: list[Finding] = []
    rows, counted = 0, 0
    for piece in pieces:
        if not piece.findings:
            continue
        rows += data.count(b"\n", counted, piece.start)
        counted = piece.start
        for finding in piece.findings:
            found.append(msgspec.structs.replace(finding, call=finding.call.moved(piece.start, rows)))
    return found


def findings(
    checker: ApiChecker, data: bytes, cancelled: Callable[[], bool] | None = None, hubs: HubCheck | None = None,
) -> list[Finding]:
    """Every finding in a text (`for_parser` bytes): in one parse when it is short, in pieces when it is long."""
    if len(data) <= LARGE:
        return list(checker.findings(data, hubs=hubs))
    return scan(checker, data, None, cancelled, hubs)[0]
