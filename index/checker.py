"""The hallucination checker: every hub-loading call in a piece of code gets a verdict against the database.

known: the call names an API in the database. hallucinated: a loader call whose identifying argument is a hub id
that no record has (the nearest real APIs come with it). Calls whose identity cannot be known statically (a
variable, an f-string, a local path) are not judged: flagging them would be noise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Literal

import msgspec
import tree_sitter

from index.calls import CallSite
from index.database import ApiDatabase
from index.identity import CallIdentity, call_identity, canonical_callee, looks_like_hub_id
from index.nearest import NearestIndex, is_placeholder

Status = Literal["known", "hallucinated"]  # "wrong" (a known API, not the asked one) exists in evaluation only


class Verdict(msgspec.Struct, frozen=True):
    status: Status
    identity: CallIdentity
    api: int | None = None  # index into ApiDatabase.apis
    alternatives: tuple[int, ...] = ()


class Finding(msgspec.Struct, frozen=True):
    call: CallSite
    callee: str  # canonical
    verdict: Verdict


class ApiChecker:
    """Checks calls against one database snapshot; lookups are dictionary hits, the nearest-API search is cached."""

    def __init__(self, db: ApiDatabase) -> None:
        self.db = db
        self._nearest_index = NearestIndex(db.by_primary)
        self.nearest = lru_cache(maxsize=4096)(self._nearest)

    def _wanted(self, imports: dict[str, str]) -> Callable[[str], bool]:
        seen: dict[str, bool] = {}  # a long file calls `print` and `range` hundreds of times: decide each once

        def wanted(callee: str) -> bool:
            answer = seen.get(callee)
            if answer is None:
                answer = seen[callee] = self.db.is_loader(canonical_callee(callee, imports))
            return answer

        return wanted

    def findings(
        self, source: str | bytes, alternatives: bool = True, tree: tree_sitter.Tree | None = None,
        imports: dict[str, str] | None = None, ranges: list[tuple[int, int]] | None = None,
    ) -> Iterator[Finding]:
        """Verdicts for every judged loader call in `source` (any Python text, broken or not).

        `tree`: the source already parsed (an editor re-parses incrementally after each change). `imports`: the
        file's imports when `source` is one piece of it (`index.chunked`) or when they are known unchanged.
        `ranges`: only the calls overlapping these byte ranges (what an edit changed).
        """
        tree = tree if tree is not None else self.db.parser.parse(source)
        imports = imports if imports is not None else self.db.parser.imports(tree)
        for call in self.db.parser.calls(tree, self._wanted(imports), ranges):
            callee = canonical_callee(call.callee, imports)
            verdict = self.check_call(call, callee, alternatives)
            if verdict is not None:
                yield Finding(call=call, callee=callee, verdict=verdict)

    def check_call(self, call: CallSite, callee: str | None = None, alternatives: bool = True) -> Verdict | None:
        callee = callee or call.callee
        identity = call_identity(call, callee)
        if identity is None:
            return None
        return self.check_identity(identity, callee in self.db.loader_callees, alternatives)

    def check_identity(
        self, identity: CallIdentity, exact_callee: bool = True, alternatives: bool = True
    ) -> Verdict | None:
        exact = self.db.by_identity.get(identity.exact)
        if exact is not None:
            return Verdict("known", identity, exact)
        for primary in (identity.primary, *identity.aliases):
            same = self.db.by_primary.get((identity.namespace, primary))
            if same:
                return Verdict("known", identity, same[0])
        # A bare name (`'t5'`) given to a one-off loader is too weak a sign of a hub id to flag.
        bare_ok = identity.namespace != "hf" or not exact_callee or identity.callee == "pipeline"
        if not looks_like_hub_id(identity, bare_names=bare_ok):
            return None
        nearest = self.nearest(identity.namespace, identity.primary, identity.callee) if alternatives else ()
        return Verdict("hallucinated", identity, None, nearest)

    def alternative_calls(self, verdict: Verdict) -> list[str]:
        return [self.db.apis[i].api_call for i in verdict.alternatives]

    def message(self, finding: Finding) -> str:
        """What the editor and the linter say about a hallucinated call."""
        call = finding.call.text.splitlines()[0] if finding.call.text else finding.callee
        text = f"`{call}` matches no API in the database (hallucinated)"
        alternatives = self.alternative_calls(finding.verdict)
        if alternatives:
            text += "; nearest real APIs: " + ", ".join(alternatives)
        return text

    def _nearest(self, namespace: str, primary: str, callee: str, n: int = 3) -> tuple[int, ...]:
        """Up to `n` known APIs nearest by id (`index.nearest`), for each id the record with the same callee."""
        out: list[int] = []
        for match in self._nearest_index.nearest(namespace, primary, n * 2):
            indices = [i for i in self.db.by_primary[(namespace, match)]
                       if not is_placeholder(self.db.apis[i].api_call)]
            if not indices:
                continue
            best = next((i for i in indices if getattr(self.db.identities[i], "callee", None) == callee), indices[0])
            if best not in out:
                out.append(best)
        return tuple(out[:n])
