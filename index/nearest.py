"""The nearest real APIs to an invented hub id: a trigram index, so a lookup touches only the ids that share text.

`difflib.get_close_matches` over every id of a hub cost 8.7 ms per invented call (1,000 invented calls: 8.7 s), and
difflib on whole TF Hub URLs costs 0.2 ms a pair. Here candidates are scored by the Dice coefficient of character
trigrams, counted from posting lists in one `bincount`, plus a bonus for the same organisation / repository and for
the same model family, so `acme/bert-large-v9` suggests BERTs and `pytorch/vision:resnet9000` the vision repo's
ResNets; the best few are then ordered by the characters their model names share. Placeholder records (`model_id`,
`<name>`, `{ticker}`, `your_model`) are never suggested: they are documentation, not APIs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np

CUTOFF = 0.3  # score (Dice coefficient of trigrams + bonuses) below which an id is not "near"
MIN_SHARED = 0.1  # and an id must share this much text beyond its bonuses
RERANKED = 10  # the best this many by trigrams are ordered by the characters their model names share
SAME_OWNER_BONUS = 0.25
SAME_FAMILY_BONUS = 0.15

_PLACEHOLDER = re.compile(
    r"[<>{}\[\]$]|(?:^|[^a-z0-9])(?:model|repo|dataset|module)[_\- ]?(?:id|name|handle|path)(?:[^a-z0-9]|$)"
    r"|(?:^|[^a-z0-9])your[_\-]|path/to/|(?:^|[^a-z0-9])(?:placeholder|xxx+)(?:[^a-z0-9]|$)",
    re.I,
)
_FAMILY = re.compile(r"[a-z]{2,}")


def is_placeholder(text: str) -> bool:
    """True for an id or call that stands for "put a model here" (`hub.load('https://tfhub.dev/google/model_id/1')`)."""
    return bool(_PLACEHOLDER.search(text))


def owner_and_name(namespace: str, primary: str) -> tuple[str, str]:
    """(organisation or repository, model name) of a hub id."""
    if namespace == "torchhub":
        owner, _, name = primary.partition(":")
        return owner, name
    if namespace == "tfhub":
        path = re.sub(r"^https?://[^/]+/", "", primary)
        owner, _, rest = path.partition("/")
        return owner, re.sub(r"/\d+$", "", rest)
    owner, slash, name = primary.partition("/")
    return (owner, name) if slash else ("", owner)


def family(name: str) -> str:
    """A model's family: the first word of its name (`resnet9000` -> `resnet`, `bert-base-uncased` -> `bert`)."""
    match = _FAMILY.search(name.lower())
    return match.group(0) if match else ""


def _histogram(text: str) -> np.ndarray:
    """How many times each character occurs (folded to 128 buckets)."""
    codes = np.frombuffer(text.lower().encode("utf-32-le", "surrogatepass"), dtype=np.uint32) % 128
    return np.bincount(codes, minlength=128).astype(np.int32)


def _trigrams(text: str) -> set[str]:
    padded = f"  {text.lower()} "
    return {padded[i: i + 3] for i in range(len(padded) - 2)}


class _Namespace:
    def __init__(self, namespace: str, keys: list[str]) -> None:
        self.namespace = namespace
        self.keys = keys
        self.sizes = np.array([len(_trigrams(k)) for k in keys], dtype=np.float32)
        postings: dict[str, list[int]] = {}
        for i, key in enumerate(keys):
            for gram in _trigrams(key):
                postings.setdefault(gram, []).append(i)
        self.postings = {g: np.array(ids, dtype=np.int32) for g, ids in postings.items()}
        parts = [owner_and_name(namespace, k) for k in keys]
        # Owners and families as small integers: comparing them is one vectorised `==`.
        self.owner_codes: dict[str, int] = {}
        self.owners = np.array([self.owner_codes.setdefault(o, len(self.owner_codes)) for o, _ in parts], np.int32)
        self.family_codes: dict[str, int] = {}
        self.families = np.array([self.family_codes.setdefault(family(n), len(self.family_codes)) for _, n in parts],
                                 np.int32)
        self.histograms = np.stack([_histogram(name) for _, name in parts]) if parts else np.zeros((0, 128))

    def nearest(self, primary: str, n: int) -> list[str]:
        grams = _trigrams(primary)
        hits = [self.postings[g] for g in grams if g in self.postings]
        if not hits:
            return []
        shared = np.bincount(np.concatenate(hits), minlength=len(self.keys)).astype(np.float32)
        dice = 2 * shared / (self.sizes + len(grams))
        owner, name = owner_and_name(self.namespace, primary)
        kind = family(name)
        score = dice.copy()
        if owner and owner in self.owner_codes:
            score += SAME_OWNER_BONUS * (self.owners == self.owner_codes[owner])
        if kind and kind in self.family_codes:
            score += SAME_FAMILY_BONUS * (self.families == self.family_codes[kind])
        score[(dice < MIN_SHARED) | (score < CUTOFF)] = -1.0
        count = min(RERANKED, int(np.count_nonzero(score > 0)))
        if count == 0:
            return []
        best = np.argpartition(-score, count - 1)[:count]
        # The few best by trigrams, ordered by how many characters their model names share (difflib's quick_ratio,
        # on character histograms), which separates trigram ties: `resnet9000` is nearer `resnet50` than `resnet18`.
        query = _histogram(name)
        shared_chars = np.minimum(self.histograms[best], query).sum(axis=1)
        closeness = 2 * shared_chars / np.maximum(1, self.histograms[best].sum(axis=1) + query.sum())
        total = score[best] + closeness
        order = best[np.lexsort((best, -total))]  # ties in database order
        return [self.keys[int(i)] for i in order[:n]]


class NearestIndex:
    """Per hub namespace, the ids of the real APIs, indexed by trigram."""

    def __init__(self, primaries: Iterable[tuple[str, str]]) -> None:
        by_namespace: dict[str, list[str]] = {}
        for namespace, primary in primaries:
            if not is_placeholder(primary):
                by_namespace.setdefault(namespace, []).append(primary)
        self._namespaces = {ns: _Namespace(ns, keys) for ns, keys in by_namespace.items()}

    def nearest(self, namespace: str, primary: str, n: int = 3) -> list[str]:
        """Up to `n` real ids nearest to `primary`, nearest first."""
        index = self._namespaces.get(namespace)
        return index.nearest(primary, n) if index is not None else []
