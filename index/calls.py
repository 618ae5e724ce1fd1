"""Finding calls in Python source with tree-sitter, also in broken or partial code.

tree-sitter recovers from syntax errors, so a half-typed line does not hide the calls around it, and comments and
strings are never taken for code. The call query runs in C; Python only looks at calls whose callee is of interest.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

import msgspec
import tree_sitter
import tree_sitter_python

_CALL_QUERY = "(call function: [(identifier) (attribute)] @fn arguments: (argument_list) @args) @call"


class Arg(msgspec.Struct, frozen=True):
    """One argument: its source text, its value when it is a plain string literal, its keyword if any."""

    text: str
    value: str | None = None
    name: str | None = None
    start_byte: int = 0  # of the value (after `name=`), UTF-8 byte offsets in the parsed text
    end_byte: int = 0


class CallSite(msgspec.Struct, frozen=True):
    """A call found in source. Rows are 0-based; columns are UTF-8 byte offsets in the row (tree-sitter's)."""

    callee: str
    args: tuple[Arg, ...]
    text: str
    start_byte: int
    end_byte: int
    start: tuple[int, int]
    end: tuple[int, int]
    callee_end_byte: int = 0  # where the callee expression ends (`AutoModel.from_pretrained|(`)

    def positional(self) -> list[Arg]:
        return [a for a in self.args if a.name is None]

    def keyword(self, *names: str) -> Arg | None:
        for arg in self.args:
            if arg.name in names:
                return arg
        return None

    def moved(self, delta: int, rows: int) -> CallSite:
        """The same call `delta` bytes and `rows` lines further (a piece placed in its file, code after an edit)."""
        return msgspec.structs.replace(
            self, start_byte=self.start_byte + delta, end_byte=self.end_byte + delta,
            start=(self.start[0] + rows, self.start[1]), end=(self.end[0] + rows, self.end[1]),
            callee_end_byte=self.callee_end_byte + delta,
            args=tuple(msgspec.structs.replace(a, start_byte=a.start_byte + delta, end_byte=a.end_byte + delta)
                       for a in self.args),
        )


def _string_value(node: tree_sitter.Node) -> str | None:
    """The value of a plain string literal (no f-string, no implicit concatenation), else None."""
    if node.type != "string":
        return None
    parts: list[str] = []
    for child in node.children:
        if child.type == "string_start":
            if "f" in (child.text or b"").decode("utf-8", "replace").lower():
                return None
        elif child.type == "string_content":
            parts.append((child.text or b"").decode("utf-8", "replace"))
        elif child.type == "interpolation":
            return None
        elif child.type == "escape_sequence":
            parts.append((child.text or b"").decode("utf-8", "replace"))
    return "".join(parts)


def encode(source: bytes | str) -> bytes:
    """Text as tree-sitter reads it (lone surrogates from an editor kept, not an error)."""
    return source.encode("utf-8", "surrogatepass") if isinstance(source, str) else source


_LONE_CR = re.compile(rb"\r(?!\n)")


def for_parser(data: bytes) -> bytes:
    """The bytes tree-sitter is given: the same length and offsets, without what derails it.

    A NUL byte makes tree-sitter's error recovery swallow the code after it (Python refuses such a file anyway), and
    tree-sitter ends a line at `\\n` only, so after a lone `\\r` line end a comment would run on over the next line.
    Each becomes one byte that Python reads the same way (a space, a `\\n`).
    """
    if b"\0" in data:
        data = data.replace(b"\0", b" ")
    if b"\r" in data:
        data = _LONE_CR.sub(b"\n", data)
    return data


_BLOCK = 1 << 16


def common_prefix(a: bytes, b: bytes) -> int:
    """Length of the common prefix: block by block, then a binary search in the first block that differs."""
    limit = min(len(a), len(b))
    low = 0
    while low + _BLOCK <= limit and a[low: low + _BLOCK] == b[low: low + _BLOCK]:
        low += _BLOCK
    high = min(limit, low + _BLOCK)
    while low < high:
        middle = (low + high + 1) // 2
        if a[low:middle] == b[low:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def common_suffix(a: bytes, b: bytes, limit: int) -> int:
    """Length of the common suffix, at most `limit` bytes."""
    limit = min(limit, len(a), len(b))
    low = 0
    while low + _BLOCK <= limit and a[len(a) - low - _BLOCK: len(a) - low] == b[len(b) - low - _BLOCK: len(b) - low]:
        low += _BLOCK
    high = min(limit, low + _BLOCK)
    while low < high:
        middle = (low + high + 1) // 2
        if a[len(a) - middle: len(a) - low] == b[len(b) - middle: len(b) - low]:
            low = middle
        else:
            high = middle - 1
    return low


def changed_span(old: bytes, new: bytes) -> tuple[int, int, int]:
    """(start, old end, new end) of the one span where `new` differs from `old`."""
    start = common_prefix(old, new)
    tail = common_suffix(old, new, min(len(old), len(new)) - start)
    return start, len(old) - tail, len(new) - tail


def point(data: bytes, offset: int) -> tuple[int, int]:
    """tree-sitter's point (row, byte column) of an offset."""
    row = data.count(b"\n", 0, offset)
    return row, offset - (data.rfind(b"\n", 0, offset) + 1)


def _text(node: tree_sitter.Node) -> str:
    return (node.text or b"").decode("utf-8", "replace")


class PythonCalls:
    """A tree-sitter Python parser with the queries this project needs; build once and reuse."""

    def __init__(self) -> None:
        self.language = tree_sitter.Language(tree_sitter_python.language())
        self._calls = tree_sitter.Query(self.language, _CALL_QUERY)
        self._local = threading.local()

    @property
    def parser(self) -> tree_sitter.Parser:
        """One parser per thread: a tree-sitter parser must not be used by two threads at once."""
        parser = getattr(self._local, "parser", None)
        if parser is None:
            parser = self._local.parser = tree_sitter.Parser(self.language)
        return parser

    def parse(self, source: bytes | str) -> tree_sitter.Tree:
        return self.parser.parse(for_parser(encode(source)))

    def reparse_changes(
        self, old_source: bytes, old_tree: tree_sitter.Tree, new_source: bytes
    ) -> tuple[tree_sitter.Tree, list[tuple[int, int]], tuple[int, int, int]]:
        """Parse `new_source` (`for_parser` bytes) reusing the tree of `old_source`, so only the edited region is
        redone; with what changed: the byte ranges (in `new_source`) whose syntax changed, and the edited span (start,
        old end, new end), the span between the two texts' common prefix and common suffix."""
        start, old_end, new_end = changed_span(old_source, new_source)
        edited = old_tree.copy()
        edited.edit(
            start_byte=start, old_end_byte=old_end, new_end_byte=new_end, start_point=point(old_source, start),
            old_end_point=point(old_source, old_end), new_end_point=point(new_source, new_end),
        )
        tree = self.parser.parse(new_source, edited)
        changed = [(r.start_byte, r.end_byte) for r in edited.changed_ranges(tree)]
        return tree, changed, (start, old_end, new_end)

    def calls(
        self,
        source: bytes | str | tree_sitter.Tree,
        wanted: Callable[[str], bool] | None = None,
        ranges: list[tuple[int, int]] | None = None,
    ) -> list[CallSite]:
        """Calls in source order; `wanted(callee)` filters before arguments are read (the cheap part first).

        `ranges`: only the calls that overlap these byte ranges (what an edit changed).
        """
        tree = source if isinstance(source, tree_sitter.Tree) else self.parse(source)
        matches = []
        for span in ranges if ranges is not None else [None]:
            cursor = tree_sitter.QueryCursor(self._calls)
            if span is not None:
                cursor.set_byte_range(*span)
            matches.extend(cursor.matches(tree.root_node))
        found: list[CallSite] = []
        seen: set[tuple[int, int]] = set()
        for _, captures in matches:
            call = captures["call"][0]
            if ranges is not None:  # a call overlapping two ranges is matched twice
                if (call.start_byte, call.end_byte) in seen:
                    continue
                seen.add((call.start_byte, call.end_byte))
            fn = captures["fn"][0]
            callee = "".join(_text(fn).split())
            if wanted is not None and not wanted(callee):
                continue
            found.append(
                CallSite(
                    callee=callee,
                    args=tuple(self._arguments(captures["args"][0])),
                    text=_text(call),
                    start_byte=call.start_byte,
                    end_byte=call.end_byte,
                    start=(call.start_point.row, call.start_point.column),
                    end=(call.end_point.row, call.end_point.column),
                    callee_end_byte=fn.end_byte,
                )
            )
        found.sort(key=lambda c: c.start_byte)
        return found

    @staticmethod
    def _arguments(arguments: tree_sitter.Node) -> list[Arg]:
        args: list[Arg] = []
        for child in arguments.named_children:
            if child.type == "comment":
                continue
            if child.type == "keyword_argument":
                name = child.child_by_field_name("name")
                value = child.child_by_field_name("value")
                if name is None or value is None:
                    continue
                args.append(Arg(text=_text(value), value=_string_value(value), name=_text(name),
                                start_byte=value.start_byte, end_byte=value.end_byte))
            else:
                args.append(Arg(text=_text(child), value=_string_value(child), start_byte=child.start_byte,
                                end_byte=child.end_byte))
        return args

    def imports(self, source: bytes | str | tree_sitter.Tree) -> dict[str, str]:
        """Local name -> dotted import path, e.g. {'hub': 'tensorflow_hub', 'AutoModel': 'transformers.AutoModel'}.

        Module-level imports only (also inside top-level `try`/`if` blocks): a walk of the top statements is far
        cheaper than a query over every node of a long file.
        """
        tree = source if isinstance(source, tree_sitter.Tree) else self.parse(source)
        names: dict[str, str] = {}
        pending = list(tree.root_node.children)
        while pending:
            node = pending.pop(0)
            if node.type in ("try_statement", "if_statement", "block", "else_clause", "except_clause",
                             "finally_clause", "elif_clause"):
                pending[:0] = node.children
                continue
            if node.type not in ("import_statement", "import_from_statement"):
                continue
            module = ""
            if node.type == "import_from_statement":
                module_node = node.child_by_field_name("module_name")
                module = _text(module_node) if module_node is not None else ""
            for child in node.children_by_field_name("name"):
                if child.type == "aliased_import":
                    target = child.child_by_field_name("name")
                    alias = child.child_by_field_name("alias")
                    if target is None or alias is None:
                        continue
                    path = _text(target)
                    names[_text(alias)] = f"{module}.{path}" if module else path
                else:
                    path = _text(child)
                    if module:
                        names[path] = f"{module}.{path}"
                    else:
                        names[path.split(".")[0]] = path.split(".")[0]
        return names
