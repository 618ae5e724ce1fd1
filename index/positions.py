"""Positions: tree-sitter counts UTF-8 bytes, people and LSP count characters or UTF-16 code units."""

from __future__ import annotations

from typing import Literal

Encoding = Literal["utf-8", "utf-16", "utf-32"]


def byte_to_column(line: bytes, byte_column: int, encoding: Encoding = "utf-32") -> int:
    """A byte offset within a line as a column in `encoding` units (utf-32: code points, as editors show)."""
    prefix = line[:byte_column]
    if encoding == "utf-8":
        return len(prefix)
    text = prefix.decode("utf-8", "replace")
    if encoding == "utf-16":
        return len(text.encode("utf-16-le", "surrogatepass")) // 2
    return len(text)
