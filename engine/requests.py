"""Is this comment a request for an API? The part that needs no database: what a comment is when it asks for nothing.

Tool directives, TODO notes, licence headers, commented-out code and separators are recognised by their form. What
is left is a request only if it is about some task well enough (the relevance floor, applied by the pipeline with the
task router's evidence), which is what silences prose notes and nonsense. Both live below the editor, so
`gorilla-lsp complete` and the language server decide alike.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
import warnings
from typing import Literal

import msgspec

Kind = Literal["request", "empty", "directive", "note", "licence", "code", "separator", "not-relevant"]

_DIRECTIVE = re.compile(
    r"^(?:!|-\*-|\s*(?:type|noqa|pylint|pyright|mypy|fmt|isort|ruff|flake8|pragma|nosec|vim?|ex|pyre|pytype|"
    r"coding|cython|distutils|black|yapf|autopep8|nolint|lgtm|codespell|spell-?checker|sourcery)\b\s*[:=]|"
    r"\s*(?:noqa|nosec|fmt:\s*(?:on|off|skip)|pragma\b|type:\s*ignore)\b)",
    re.I,
)
_NOTE = re.compile(r"^\s*(?:TODO|FIXME|XXX|HACK|BUG|NOTE|NB|N\.B\.|WARNING|WARN|OPTIMIZE|REVIEW|DEPRECATED|TBD)\b", re.I)
_LICENCE = re.compile(
    r"\b(?:copyright|\(c\)|©|licen[cs]ed?|licen[cs]es|spdx|all rights reserved|warrant(?:y|ies)|apache|gnu|"
    r"general public|mit license|bsd|redistribut\w*|permission is hereby|without limitation|"
    r"merchantability|liability|authors? (?:and|or) contributors|www\.apache\.org)\b",
    re.I,
)
_SEPARATOR = re.compile(r"^[\W_]*$")
_URL_ONLY = re.compile(r"^\s*(?:see:?\s*|ref:?\s*|from:?\s*|source:?\s*)?<?https?://\S+>?\s*$", re.I)
_CODE_HINT = re.compile(r"[=()\[\]{}:]|^\s*(?:import|from|def|class|return|if|for|while|with|print|assert|raise|yield)\b")
_WORD = re.compile(r"[A-Za-z]{2,}")
_PROSE = re.compile(r"(?:\b[A-Za-z]{2,}\b,? ){6,}")
_STRINGS = re.compile(r"'[^'\n]*'|\"[^\"\n]*\"")
# An explicit ask: long scenario requests may name no task phrase, but they do say that they want something.
_ASK = re.compile(
    r"\b(?:i|we)(?:'d| would)? (?:need|want|like|am looking|are looking|have to|must|wish)\b|\b(?:need|want) (?:an?|the|some)\b|"
    r"\b(?:please|help me|help us|can you|could you|recommend|suggest|provide|find me|give me|show me|looking for)\b|"
    r"\b(?:which|what) (?:api|model|library)\b|\bhow (?:can|do|could|should) (?:i|we)\b|\?\s*$", re.I)

# Words of the machinery around a model (tensors, checkpoints, arguments): a comment that uses them talks about the code
# it sits in. None of them names a task of the database.
_CODE_WORDS = re.compile(
    r"\b(?:tokeni[sz]ers?|dataloaders?|checkpoints?|scripts?|cuda|numpy|tensors?|shapes?|arrays?|layers?|args|"
    r"arguments?|epochs?|logits|logging|config|directory|function|variable|warmup|seed|upload)\b", re.I)


class RequestKind(msgspec.Struct, frozen=True):
    """What a comment is; `reason` says it in words for the CLI and the logs."""

    kind: Kind
    reason: str = ""

    @property
    def is_request(self) -> bool:
        return self.kind == "request"


def classify_form(text: str) -> RequestKind:
    """The verdict from the comment's form alone: `request` means "not ruled out" (the floor still applies)."""
    stripped = text.strip()
    if not stripped:
        return RequestKind("empty", "the comment is empty")
    if _DIRECTIVE.match(stripped):
        return RequestKind("directive", "a tool directive (type checker, linter, formatter, encoding)")
    if _NOTE.match(stripped):
        return RequestKind("note", "a TODO/FIXME-style note")
    if _SEPARATOR.match(stripped) or _URL_ONLY.match(stripped):
        return RequestKind("separator", "a separator or a bare link")
    if _LICENCE.search(stripped) and not _asks(stripped):
        return RequestKind("licence", "a licence or copyright header")
    if looks_like_code(stripped) and not explicit_ask(_STRINGS.sub("''", stripped)):
        # "please fix this call: torch.hub.load(...)" asks about code; "model = torch.hub.load(...)" is code.
        return RequestKind("code", "commented-out code")
    return RequestKind("request")


def _asks(text: str) -> bool:
    """A licence word inside a request ("an Apache-licensed model to translate ...") does not make it a header."""
    return explicit_ask(text) or bool(re.search(
        r"\b(?:model|api|classif\w*|detect\w*|translat\w*|generat\w*|segment\w*|transcri\w*)\b", text, re.I))


def code_words(text: str) -> int:
    """How many words of code machinery the text uses ("tensor", "checkpoint", "arguments")."""
    return len(_CODE_WORDS.findall(text))


def explicit_ask(text: str) -> bool:
    """Whether the text says it wants something ("I need ...", "we want ...", "recommend ...", a question)."""
    return _ASK.search(text) is not None


def looks_like_code(text: str) -> bool:
    """Python that parses and is more than a few bare words (`x = f(y)`, `import os`, `model.eval()`)."""
    if not _CODE_HINT.search(text) and not re.search(r"\w\.\w+\(|\w+\(", text):
        return False
    if _PROSE.search(_STRINGS.sub("''", text)):  # a run of plain words outside strings is a sentence
        return False
    source = text.rstrip(":") + ("\n    pass" if text.rstrip().endswith(":") else "")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences in commented-out code
            tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return _mostly_code_tokens(text)
    if not tree.body:
        return False
    statement = tree.body[0]
    if isinstance(statement, ast.Expr):
        value = statement.value
        # Prose that happens to parse: a bare name, a string, a comparison of words ("a < b").
        if isinstance(value, (ast.Name, ast.Constant)):
            return False
        if isinstance(value, ast.Call) and len(_WORD.findall(text)) > 8 and not re.search(r"[=.]", text):
            return False
    return True


def _mostly_code_tokens(text: str) -> bool:
    """Code that does not parse alone (`else:`, `return x,`, an open bracket): many operators, few words."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return False
    ops = sum(1 for t in tokens if t.type == tokenize.OP)
    names = sum(1 for t in tokens if t.type == tokenize.NAME)
    if re.match(r"^\s*(?:else|elif|try|except|finally|return|raise|break|continue|pass|def|class|import|from)\b", text):
        return True
    return ops >= 3 and ops >= names / 2
