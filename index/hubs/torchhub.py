"""TorchHub: a repository's `hubconf.py`, fetched from GitHub (or a torch hub cache) and read for its entrypoints.

`torch.hub.load('owner/repo:ref', 'name')` works when `hubconf.py` at that ref defines `name`: a top-level `def` or
class, a name bound by `from X import a, b` or an assignment, or one listed in `__all__`. A hubconf.py that makes
names at import time (`globals()[...] = ...`, `from X import *`, `setattr(sys.modules[__name__], ...)`) may define
more than it shows; then a name it does not show is unknown, not missing.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import tree_sitter
import tree_sitter_python

from index.hubs import http
from index.hubs.answers import HubAnswer
from index.hubs.config import HubSettings

SOURCE = "TorchHub"
DEFAULT_REFS = ("main", "master")
_CONTAINERS = ("if_statement", "try_statement", "block", "else_clause", "elif_clause", "except_clause",
               "finally_clause", "with_statement", "expression_statement", "decorated_definition")
_DYNAMIC_CALLS = ("globals()", "setattr(", "exec(", "vars()", "locals()")


@lru_cache(maxsize=1)
def _parser() -> tree_sitter.Parser:
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_python.language()))


def _text(node: tree_sitter.Node | None) -> str:
    return (node.text or b"").decode("utf-8", "replace") if node is not None else ""


def _strings(node: tree_sitter.Node) -> list[str]:
    out = []
    for child in node.named_children:
        if child.type == "string":
            out.extend(_text(c) for c in child.named_children if c.type == "string_content")
    return out


def entrypoints(source: bytes) -> tuple[tuple[str, ...], bool]:
    """(names the hubconf defines, whether it also builds names at import time)."""
    tree = _parser().parse(source)
    names: set[str] = set()
    dynamic = False
    pending = list(tree.root_node.children)
    while pending:
        node = pending.pop()
        kind = node.type
        if kind in _CONTAINERS:
            pending.extend(node.children)
        elif kind in ("function_definition", "class_definition"):
            names.add(_text(node.child_by_field_name("name")))
        elif kind == "import_from_statement":
            if any(c.type == "wildcard_import" for c in node.children):
                dynamic = True
            for child in node.children_by_field_name("name"):
                alias = child.child_by_field_name("alias") if child.type == "aliased_import" else None
                target = alias or (child.child_by_field_name("name") if child.type == "aliased_import" else child)
                names.add(_text(target).split(".")[-1])
        elif kind == "import_statement":
            continue  # `import torch` binds a module: not callable, so not an entrypoint
        elif kind == "assignment":
            left = node.child_by_field_name("left")
            right = node.child_by_field_name("right")
            targets = [left] if left is not None and left.type == "identifier" else (
                [c for c in left.named_children if c.type == "identifier"] if left is not None else [])
            for target in targets:
                names.add(_text(target))
            if left is not None and left.type == "identifier" and _text(left) == "__all__" and right is not None:
                names.update(_strings(right))
            if left is not None and left.type == "subscript" and "globals()" in _text(left):
                dynamic = True
        elif kind == "augmented_assignment":
            left = node.child_by_field_name("left")
            right = node.child_by_field_name("right")
            if _text(left) == "__all__" and right is not None:
                names.update(_strings(right))
        elif kind in ("call", "for_statement", "while_statement"):
            pending.extend(node.children)
        if kind in ("call", "for_statement", "expression_statement") and any(
            d in _text(node) for d in _DYNAMIC_CALLS
        ):
            dynamic = True
    names.discard("")
    names.discard("dependencies")  # the list of pip packages torch.hub checks, not an entrypoint
    return tuple(sorted(names)), dynamic


def _answer(source: bytes, where: str, ref: str, local: bool, origin: str) -> HubAnswer:
    names, dynamic = entrypoints(source)
    detail = f"hubconf.py at {ref}" if ref else "hubconf.py"
    return HubAnswer("exists", origin, where, detail, entrypoints=names, dynamic=dynamic, local=local)


def refs_for(ref: str) -> tuple[str, ...]:
    return (ref,) if ref else DEFAULT_REFS


def local_answer(settings: HubSettings, repo: str, ref: str) -> HubAnswer | None:
    """A hubconf.py already in the torch hub cache (`$TORCH_HOME/hub/OWNER_REPO_REF/`)."""
    if settings.torch_hub_dir is None:
        return None
    owner, _, name = repo.partition("/")
    for candidate in refs_for(ref):
        folder: Path = settings.torch_hub_dir / f"{owner}_{name}_{candidate.replace('/', '_')}"
        hubconf = folder / "hubconf.py"
        try:
            if hubconf.is_file():
                return _answer(hubconf.read_bytes(), str(hubconf), candidate, True, "torch hub cache")
        except OSError:
            continue
    return None


def remote_answer(settings: HubSettings, repo: str, ref: str) -> tuple[HubAnswer, int]:
    """Fetch `{GORILLA_LSP_TORCHHUB_URL}/{owner}/{repo}/{ref}/hubconf.py` (main, then master, without a ref).

    404 on every ref: no such repository (or no hubconf.py, which torch.hub cannot load either).
    """
    sent = 0
    last = HubAnswer("unknown", SOURCE)
    for candidate in refs_for(ref):
        url = f"{settings.torchhub_url}/{repo}/{candidate}/hubconf.py"
        sent += 1
        result = http.fetch(url, settings.timeout)
        if result.status is not None and 200 <= result.status < 300:
            return _answer(result.body, url, candidate, False, SOURCE), sent
        if result.status == 404:
            last = HubAnswer("missing", SOURCE, url, "no such repository, ref or hubconf.py")
            continue
        reason = result.error or f"HTTP {result.status}"
        return HubAnswer("unknown", SOURCE, url, reason), sent
    return last, sent
