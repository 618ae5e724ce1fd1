"""The hallucination checker: every hub-loading call in a piece of code gets a verdict.

Against the database alone (the paper's AST check, what evaluation uses): `known` when the call names an API in the
database, else `hallucinated` with the nearest real APIs. With hub verification (`HubCheck`, what the editor and
`gorilla-lsp check` use), "hallucinated" means "does not exist": an id that is not in the database is `exists` when its
hub (or a cache on this machine) confirms it, `hallucinated` when the hub says there is no such model or the library
has no such loader, and `unverified` when nothing answered. Calls whose identity cannot be known statically (a
variable, an f-string, a local path) are not judged: flagging them would be noise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import msgspec
import tree_sitter

from index.calls import Arg, CallSite
from index.database import ApiDatabase
from index.hubs.answers import HUB_NAMES, HubAnswer, Target
from index.hubs.surface import TENSORFLOW_HUB, TORCH_HUB
from index.hubs.targets import hf_target, library_of, torchhub_target, url_target
from index.identity import (
    HUB_LOADER_METHODS, HUB_LOADERS, CallIdentity, call_identity, canonical_callee, identifying_arg, looks_like_hub_id,
)
from index.nearest import NearestIndex, is_placeholder

if TYPE_CHECKING:
    from index.hubs.verifier import HubVerifier

Status = Literal["known", "exists", "hallucinated", "unverified"]  # "wrong" exists in evaluation only
Span = tuple[int, int]  # UTF-8 byte offsets from the start of the call (they move with it)
_MAX_SHOWN = 160


class Evidence(msgspec.Struct, frozen=True, omit_defaults=True):
    """Who said so: a hub, a cache on this machine, or a library's loader surface; where; and what exactly."""

    source: str
    where: str = ""
    detail: str = ""


class Verdict(msgspec.Struct, frozen=True):
    status: Status
    identity: CallIdentity
    api: int | None = None  # index into ApiDatabase.apis
    alternatives: tuple[int, ...] = ()
    evidence: Evidence | None = None
    target: Target | None = None  # what a hub is (or would be) asked
    pending: bool = False  # unverified only because the hub has not been asked yet


class Finding(msgspec.Struct, frozen=True):
    call: CallSite
    callee: str  # canonical
    verdict: Verdict
    focus: Span | None = None  # what a diagnostic underlines (the model id, the invented name); None: the call

    @property
    def focus_bytes(self) -> tuple[int, int]:
        """What a diagnostic underlines, as byte offsets in the text."""
        if self.focus is None:
            return self.call.start_byte, self.call.end_byte
        return self.call.start_byte + self.focus[0], self.call.start_byte + self.focus[1]


class HubCheck:
    """Hub verification for one check: the verifier (lookups only, never the network, inside `findings`) and the
    folders a relative id may be a path in (the file's folder, the workspace)."""

    def __init__(self, verifier: HubVerifier, base_dirs: Sequence[Path] = (), wait_surface: bool = True) -> None:
        self.verifier = verifier
        self.base_dirs = tuple(base_dirs)
        self.wait_surface = wait_surface  # False (the editor): until transformers' names are read, do not judge them


def one_line(call: CallSite) -> str:
    """The whole call on one line, however it is laid out (`torch.hub.load(\n 'a',\n 'b')` -> `torch.hub.load('a', 'b')`)."""
    args = [(f"{a.name}=" if a.name else "") + " ".join(a.text.split()) for a in call.args]
    text = f"{call.callee}({', '.join(args)})"
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 1] + "…"


def _span(call: CallSite, arg: Arg | None) -> Span | None:
    if arg is None or arg.end_byte <= arg.start_byte:
        return None
    return arg.start_byte - call.start_byte, arg.end_byte - call.start_byte


class ApiChecker:
    """Checks calls against one database snapshot; lookups are dictionary hits, the nearest-API search is cached."""

    def __init__(self, db: ApiDatabase) -> None:
        self.db = db
        self._nearest_index = NearestIndex(db.by_primary)
        self.nearest = lru_cache(maxsize=4096)(self._nearest)
        # A repository's entrypoints, indexed for "closest" hints (difflib took 1.75 ms per invented entry).
        self._entry_indexes = lru_cache(maxsize=64)(
            lambda names: NearestIndex(("entry", n) for n in names if not n.startswith("_")))
        self._receivers = frozenset(c.split(".", 1)[0] for c in db.loader_callees if "." in c)

    def _wanted(self, imports: dict[str, str], hubs: bool) -> Callable[[str], bool]:
        seen: dict[str, bool] = {}  # a long file calls `print` and `range` hundreds of times: decide each once

        def wanted(callee: str) -> bool:
            answer = seen.get(callee)
            if answer is None:
                canonical = canonical_callee(callee, imports)
                answer = self.db.is_loader(canonical)
                if hubs and not answer:
                    answer = (canonical in HUB_LOADERS or canonical.rsplit(".", 1)[-1] in HUB_LOADER_METHODS
                              or self._hub_library(callee, canonical, imports) is not None)
                seen[callee] = answer
            return answer

        return wanted

    def findings(
        self, source: str | bytes, alternatives: bool = True, tree: tree_sitter.Tree | None = None,
        hubs: HubCheck | None = None, imports: dict[str, str] | None = None,
        ranges: list[tuple[int, int]] | None = None,
    ) -> Iterator[Finding]:
        """Verdicts for every judged loader call in `source` (any Python text, broken or not).

        `tree`: the source already parsed (an editor re-parses incrementally after each change). `hubs`: verify ids
        that are not in the database (from what is already known: `findings` never waits on the network).
        `imports`: the file's imports when `source` is one piece of it (`index.chunked`) or when they are known
        unchanged. `ranges`: only the calls overlapping these byte ranges (what an edit changed).
        """
        tree = tree if tree is not None else self.db.parser.parse(source)
        imports = imports if imports is not None else self.db.parser.imports(tree)
        for call in self.db.parser.calls(tree, self._wanted(imports, hubs is not None), ranges):
            callee = canonical_callee(call.callee, imports)
            if hubs is None:
                verdict = self.check_call(call, callee, alternatives)
                if verdict is not None:
                    yield Finding(call=call, callee=callee, verdict=verdict)
                continue
            finding = self._check_with_hubs(call, callee, imports, hubs, alternatives)
            if finding is not None:
                yield finding

    def check_call(self, call: CallSite, callee: str | None = None, alternatives: bool = True) -> Verdict | None:
        callee = callee or call.callee
        identity = call_identity(call, callee)
        if identity is None:
            return None
        return self.check_identity(identity, callee in self.db.loader_callees, alternatives)

    def _known(self, identity: CallIdentity, wildcard: bool = True) -> int | None:
        exact = self.db.by_identity.get(identity.exact)
        if exact is not None:
            return exact
        for primary in (identity.primary, *identity.aliases):
            if not wildcard and primary.endswith(":*") and primary != identity.primary:
                continue
            same = self.db.by_primary.get((identity.namespace, primary))
            if same:
                return same[0]
        return None

    def check_identity(
        self, identity: CallIdentity, exact_callee: bool = True, alternatives: bool = True
    ) -> Verdict | None:
        """The database alone: known, or hallucinated."""
        api = self._known(identity)
        if api is not None:
            return Verdict("known", identity, api)
        # A bare name (`'t5'`) given to a one-off loader is too weak a sign of a hub id to flag.
        bare_ok = identity.namespace != "hf" or not exact_callee or identity.callee == "pipeline"
        if not looks_like_hub_id(identity, bare_names=bare_ok):
            return None
        return Verdict("hallucinated", identity, None, self._alternatives(identity, alternatives))

    def _alternatives(self, identity: CallIdentity, wanted: bool = True) -> tuple[int, ...]:
        return self.nearest(identity.namespace, identity.primary, identity.callee) if wanted else ()

    # --- with hub verification -------------------------------------------------------------------------------

    def _hub_library(self, callee: str, canonical: str, imports: dict[str, str]) -> str | None:
        """'torch.hub' / 'tensorflow_hub' / 'transformers' when the call's receiver is that hub library."""
        if canonical.startswith("torch.hub.") and canonical.count(".") == 2:
            return "torch.hub"
        library = library_of(callee, imports)
        if canonical.startswith("hub.") and canonical.count(".") == 1 and (
            library == "tensorflow_hub" or (not imports and callee.startswith("hub."))
        ):
            return "tensorflow_hub"
        if library == "transformers" or callee.startswith("transformers."):
            return "transformers"
        return None

    def _invented(self, call: CallSite, canonical: str, imports: dict[str, str], hubs: HubCheck) -> Evidence | None:
        """Evidence that the call's function or class does not exist in its hub library, or None."""
        library = self._hub_library(call.callee, canonical, imports)
        if library == "torch.hub":
            name = canonical.rsplit(".", 1)[1]
            if name not in TORCH_HUB and not name.startswith("_"):
                return Evidence("torch.hub", detail=f"torch.hub has no `{name}` (it has load, list, help, ...)")
            return None
        if library == "tensorflow_hub":
            name = canonical.split(".", 1)[1]
            if name not in TENSORFLOW_HUB and not name.startswith("_"):
                return Evidence("tensorflow_hub", detail=f"tensorflow_hub has no `{name}` (it has load, KerasLayer, "
                                                        "Module, resolve, ...)")
            return None
        receiver = canonical.split(".", 1)[0]
        if library == "transformers":
            name = receiver if not call.callee.startswith("transformers.") else call.callee.split(".")[1]
        elif not imports and canonical.endswith(".from_pretrained") and receiver not in self._receivers:
            name = receiver  # a snippet without imports (generated code): judge transformers-shaped names only
        else:
            return None
        surface = hubs.verifier.surface.transformers(wait=hubs.wait_surface)
        if surface is None or name in self._receivers:
            return None
        if library is None and not surface.shaped_like_transformers(name):
            return None
        if surface.real(name) is False:
            return Evidence(f"transformers {surface.version}", detail=f"transformers has no `{name}`")
        return None

    def _check_with_hubs(
        self, call: CallSite, callee: str, imports: dict[str, str], hubs: HubCheck, alternatives: bool
    ) -> Finding | None:
        identity = call_identity(call, callee)
        invented = self._invented(call, callee, imports, hubs)
        if invented is not None:
            # The nearest real APIs are those for the same id loaded the real way (`torch.hub.load_model(repo, m)`
            # -> `torch.hub.load(repo, m)`).
            real = {"torch.hub": "torch.hub.load", "tensorflow_hub": "hub.load"}.get(invented.source)
            identity = (call_identity(call, real) if real else identity) or CallIdentity(callee, (), "api", callee)
            verdict = Verdict("hallucinated", identity, None, self._alternatives(identity, alternatives), invented)
            return Finding(call, callee, verdict, (0, call.callee_end_byte - call.start_byte))
        if identity is None:
            return None
        torchhub_entry = identity.namespace == "torchhub" and len(identity.key) > 1
        api = self._known(identity, wildcard=not torchhub_entry)
        if api is not None:
            return Finding(call, callee, Verdict("known", identity, api), _span(call, identifying_arg(call, callee)))
        if identity.namespace == "hf-task" or not looks_like_hub_id(identity, bare_names=True):
            return None
        if identity.namespace == "torchhub":
            target = torchhub_target(call, identity)
        elif identity.namespace == "tfhub":
            target = url_target(identity.raw or identity.primary)
            if target is None:
                verdict = Verdict("unverified", identity, evidence=Evidence(
                    "gorilla-lsp", identity.raw, "only tfhub.dev and kaggle.com/models handles can be checked"))
                return Finding(call, callee, verdict, _span(call, identifying_arg(call, callee)))
        else:
            target = hf_target(call, identity, imports, hubs.base_dirs, self._transformers_name(hubs))
        if target is None:
            return None
        verdict = self.judge_target(identity, target, hubs.verifier.lookup(target), alternatives)
        return Finding(call, callee, verdict, self._focus(call, callee, verdict))

    def _transformers_name(self, hubs: HubCheck) -> Callable[[str], bool]:
        def check(name: str) -> bool:
            surface = hubs.verifier.surface.transformers(wait=hubs.wait_surface)
            return surface is not None and (surface.real(name) is True)

        return check

    @staticmethod
    def _focus(call: CallSite, callee: str, verdict: Verdict) -> Span | None:
        """The model id; for TorchHub, the repository when the verdict is about it (no such repository, a list)."""
        target = verdict.target
        repository = target is not None and target.hub == "torchhub" and (
            not target.entry or (verdict.evidence is not None and verdict.evidence.detail.startswith("no repository"))
        )
        return _span(call, identifying_arg(call, callee, torchhub_repo=repository))

    def judge_target(
        self, identity: CallIdentity, target: Target, answer: HubAnswer | None, alternatives: bool = True
    ) -> Verdict:
        """The verdict for an id the database lacks, from what its hub answered (None: not asked yet)."""
        hub = HUB_NAMES[target.hub]
        if answer is None:
            return Verdict("unverified", identity, evidence=Evidence(hub, detail="not checked yet"), target=target,
                           pending=True)
        status = answer.entry_status(target.entry) if target.hub == "torchhub" else answer.status
        evidence = Evidence(answer.source, answer.where, self._detail(target, answer, status))
        if status == "exists":
            return Verdict("exists", identity, evidence=evidence, target=target)
        if status == "missing":
            return Verdict("hallucinated", identity, None, self._alternatives(identity, alternatives), evidence,
                           target)
        return Verdict("unverified", identity, evidence=evidence, target=target)

    def rejudge(self, finding: Finding, verifier: HubVerifier, alternatives: bool = True) -> Finding:
        """A pending finding again, now that its hub may have answered (the editor's background verification)."""
        verdict = finding.verdict
        if not verdict.pending or verdict.target is None:
            return finding
        verdict = self.judge_target(verdict.identity, verdict.target, verifier.lookup(verdict.target), alternatives)
        return msgspec.structs.replace(finding, verdict=verdict, focus=self._focus(finding.call, finding.callee,
                                                                                    verdict) or finding.focus)

    # --- what users read -------------------------------------------------------------------------------------

    def alternative_calls(self, verdict: Verdict) -> list[str]:
        return [self.db.apis[i].api_call for i in verdict.alternatives]

    def message(self, finding: Finding) -> str:
        """What the editor and the linter say about a flagged call (hallucinated or unverified), on one line."""
        call = one_line(finding.call) if finding.call.text else finding.callee
        verdict = finding.verdict
        evidence = verdict.evidence
        where = f": {evidence.where}" if evidence is not None and evidence.where else ""
        if verdict.status == "unverified":
            assert evidence is not None
            return (f"`{call}` is not in the API database and could not be verified: {evidence.detail} "
                    f"({evidence.source}{where})")
        if verdict.status == "exists":
            assert evidence is not None
            return f"`{call}` is not in the API database; {evidence.source} confirms it ({evidence.detail}{where})"
        if evidence is None:
            text = f"`{call}` matches no API in the database (hallucinated)"
        else:
            text = f"`{call}` is hallucinated: {evidence.detail} ({evidence.source}{where})"
        alternatives = self.alternative_calls(verdict)
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

    def _detail(self, target: Target, answer: HubAnswer, status: str) -> str:
        """What the answer means for this target, in words."""
        if target.hub == "torchhub":
            repo = target.names[0] + (f":{target.ref}" if target.ref else "")
            if answer.status == "missing":
                return f"no repository {repo}, or it has no hubconf.py"
            if answer.status == "unknown":
                return answer.detail or "no answer"
            if not target.entry:
                return f"{repo} exists"
            if status == "exists":
                return f"{repo} defines `{target.entry}`"
            if status == "missing":
                closest = self._entry_indexes(tuple(answer.entrypoints)).nearest("entry", target.entry, 3)
                hint = f" (closest: {', '.join(closest)})" if closest else ""
                return f"{repo} has no entrypoint `{target.entry}`{hint}"
            return (f"{repo} builds its entrypoints at import time; `{target.entry}` cannot be checked without "
                    "running it")
        name = target.names[0]
        if status == "exists":
            found = answer.found or name
            gated = " (gated)" if answer.detail == "gated" else ""
            return f"`{found}` exists{gated}"
        if status == "missing":
            names = " or ".join(f"`{n}`" for n in target.names)
            return f"no model {names}" + (f" ({answer.detail})" if answer.detail else "")
        return answer.detail or "no answer"
