"""Gorilla prompts: templates chosen by name, and a token budget that shortens documentation.

Why a budget: a retrieved API record can be longer than the model's context (Gorilla-7B has
2048 tokens, and the answer needs room too). The request, the user's own words, is never
cut; the documentation is shortened instead, least useful fields first. A request that
does not fit even without documentation raises `PromptTooLongError` with the numbers.

Templates (setting name -> format):

* ``gorilla-v0``: Gorilla's APIBench models (gorilla-7b-*-v0, gorilla-falcon-7b-hf-v0,
  gorilla-mpt-7b-hf-v0). Zero-shot ``###USER: {request}###ASSISTANT: ``; with retrieval
  the request is followed by ``\\nUse this API documentation for reference: {record as
  JSON}`` (one record, as in retriever-aware training).
* ``gorilla-openfunctions``: gorilla-openfunctions-v2, the prompt of Gorilla's
  ``openfunctions/inference_local.py``: a system line, then
  ``### Instruction: <<function>>{functions as JSON}\\n<<question>>{request}\\n### Response: ``
  (``<<question>> {request}`` without functions).
* ``gorilla-openfunctions-v1``: ``USER: <<question>> {request} <<function>> {functions}\\nASSISTANT: ``.
* ``chat``: instruct models (SmolLM2-Instruct, Llama-2-chat, Mistral-Instruct, DeepSeek-Coder-Instruct, ...) through
  the tokenizer's own chat template: one user turn holding the request, Gorilla's retriever-aware
  ``Use this API documentation for reference: {record as JSON}`` and an instruction to answer
  ``<<<api_call>>>: CALL`` (what `index.answers.parse_answer` reads first). No system turn: some templates refuse one.

APIBench records become OpenFunctions function descriptions with `record_to_function`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Literal

import msgspec

from engine.errors import InvalidSettingError, PromptError, PromptTooLongError
from engine.stopping import CHAT_CALL_STOP, GORILLA_CALL_STOP, OPENFUNCTIONS_CALL_STOP, StopPolicy

logger = logging.getLogger(__name__)

TokenCounter = Callable[[str], int]
"""Counts the tokens of a prompt with the model's tokenizer (e.g. `GorillaGenerator.count_tokens`)."""

ChatFormatter = Callable[[list[dict[str, str]]], str]
"""Applies the model's chat template to messages, assistant turn opened (e.g. `GorillaGenerator.format_chat`)."""

OPENFUNCTIONS_SYSTEM = (
    "You are an AI programming assistant, utilizing the Gorilla LLM model, developed by Gorilla LLM, "
    "and you only answer questions related to computer science. For politically sensitive questions, "
    "security and privacy issues, and other non-computer science questions, you will refuse to answer."
)
"""gorilla-openfunctions-v2's system prompt, verbatim from Gorilla's inference_local.py."""

RETRIEVAL_PREFIX = "\nUse this API documentation for reference: "

CHAT_INSTRUCTION = (
    "\nAnswer with the one Python call of a machine-learning API that does this, on one line, as: "
    "<<<api_call>>>: the call"
)
"""Closes the ``chat`` preset's user turn: asks an instruct model for the call in Gorilla's answer format."""

APIBENCH_FIELDS: tuple[str, ...] = (
    "domain",
    "framework",
    "functionality",
    "api_name",
    "api_call",
    "api_arguments",
    "python_environment_requirements",
    "example_code",
    "performance",
    "description",
)
PROTECTED_FIELDS: tuple[str, ...] = ("api_name", "api_call")
"""Never dropped: without them the documentation names no API."""

MIN_DESCRIPTION_CHARS = 40
"""A description cut shorter than this says nothing; drop more fields instead."""

_ELLIPSIS = "..."

TemplateKind = Literal["gorilla", "openfunctions-v2", "openfunctions-v1", "chat"]


class PromptTemplate(msgspec.Struct, frozen=True, kw_only=True):
    """A named prompt format."""

    name: str
    kind: TemplateKind
    description: str
    max_documents: int | None
    """How many documentation records the format takes (None: any number)."""
    stop: StopPolicy
    """The stop policy that matches the model's answer format."""


TEMPLATES: Mapping[str, PromptTemplate] = MappingProxyType(
    {
        "gorilla-v0": PromptTemplate(
            name="gorilla-v0",
            kind="gorilla",
            description="Gorilla APIBench models; ###USER/###ASSISTANT, optional retrieved record",
            max_documents=1,
            stop=GORILLA_CALL_STOP,
        ),
        "gorilla-openfunctions": PromptTemplate(
            name="gorilla-openfunctions",
            kind="openfunctions-v2",
            description="gorilla-openfunctions-v2; <<function>>/<<question>> with system prompt",
            max_documents=None,
            stop=OPENFUNCTIONS_CALL_STOP,
        ),
        "gorilla-openfunctions-v1": PromptTemplate(
            name="gorilla-openfunctions-v1",
            kind="openfunctions-v1",
            description="gorilla-openfunctions-v1; USER: <<question>> ... <<function>> ...",
            max_documents=None,
            stop=OPENFUNCTIONS_CALL_STOP,
        ),
        "chat": PromptTemplate(
            name="chat",
            kind="chat",
            description="instruct models: the tokenizer's chat template, request and retrieved record in the user turn",
            max_documents=1,
            stop=CHAT_CALL_STOP,
        ),
    }
)
DEFAULT_TEMPLATE = "gorilla-v0"


def get_template(name: str) -> PromptTemplate:
    """The template registered under ``name``; the error lists the valid names."""
    try:
        return TEMPLATES[name]
    except KeyError:
        valid = tuple(TEMPLATES)
        raise InvalidSettingError(
            f"prompt template {name!r} is unknown; valid templates: {', '.join(valid)}",
            setting="prompt_template",
            value=name,
            valid=valid,
        ) from None


def _callee(api_call: str) -> str:
    head = api_call.split("(", 1)[0].strip()
    if "=" in head:  # "model = torch.hub.load"
        head = head.rsplit("=", 1)[1].strip()
    return head


def _parameters(arguments: object) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    if isinstance(arguments, Mapping):
        for key, value in arguments.items():
            properties[str(key)] = {"type": "string", "description": str(value)}
    elif isinstance(arguments, list):
        for item in arguments:
            if isinstance(item, Mapping) and "name" in item:
                entry = {"type": str(item.get("type", "string"))}
                if item.get("description"):
                    entry["description"] = str(item["description"])
                properties[str(item["name"])] = entry
            elif isinstance(item, str) and item.isidentifier():
                properties[item] = {"type": "string"}
    return {"type": "object", "properties": properties, "required": []}


def record_to_function(record: Mapping[str, Any]) -> dict[str, Any]:
    """An OpenFunctions function description for an APIBench record.

    The function is named after the callee of ``api_call`` (``torch.hub.load``,
    ``pipeline``, ``hub.KerasLayer``), so a correct answer is a call of it; the record's
    functionality, description and example call go in the description, its
    ``api_arguments`` become the parameters. A record that already is a function
    description (``name`` and ``parameters``) is passed through.
    """
    if "name" in record and "parameters" in record:
        return dict(record)
    api_call = str(record.get("api_call") or "")
    name = _callee(api_call) or str(record.get("api_name") or "api")
    parts = []
    for key in ("functionality", "description"):
        value = record.get(key)
        if isinstance(value, str) and value.strip():
            parts.append(value.strip())
    if record.get("api_name"):
        parts.append(f"API: {record['api_name']}.")
    if api_call:
        parts.append(f"Example call: {api_call}")
    return {"name": name, "description": " ".join(parts), "parameters": _parameters(record.get("api_arguments"))}


def _json(value: object) -> str:
    return json.dumps(value, default=str)


def chat_user_turn(request: str, documents: Sequence[Mapping[str, Any]] = ()) -> str:
    """The ``chat`` preset's user message: the request, the retrieved records, the answer-format instruction."""
    docs = f"{RETRIEVAL_PREFIX}{chr(10).join(_json(dict(d)) for d in documents)}" if documents else ""
    return f"{request}{docs}{CHAT_INSTRUCTION}"


def render(
    template: PromptTemplate | str,
    request: str,
    documents: Sequence[Mapping[str, Any]] = (),
    chat: ChatFormatter | None = None,
) -> str:
    """The prompt text for ``request`` and ``documents``, without any budget.

    The ``chat`` template needs ``chat``, the model's chat template (`PromptError` without it).
    """
    t = get_template(template) if isinstance(template, str) else template
    if t.kind == "chat":
        if chat is None:
            raise PromptError("the 'chat' prompt template needs the model's tokenizer and its chat template")
        return chat([{"role": "user", "content": chat_user_turn(request, documents)}])
    if t.kind == "gorilla":
        if not documents:
            return f"###USER: {request}###ASSISTANT: "
        docs = "\n".join(_json(dict(d)) for d in documents)
        return f"###USER: {request}{RETRIEVAL_PREFIX}{docs}###ASSISTANT: "
    functions = [record_to_function(d) for d in documents]
    if t.kind == "openfunctions-v2":
        if not functions:
            return f"{OPENFUNCTIONS_SYSTEM}\n### Instruction: <<question>> {request}\n### Response: "
        return (
            f"{OPENFUNCTIONS_SYSTEM}\n### Instruction: <<function>>{_json(functions)}\n"
            f"<<question>>{request}\n### Response: "
        )
    if not functions:
        return f"USER: <<question>> {request}\nASSISTANT: "
    return f"USER: <<question>> {request} <<function>> {_json(functions)}\nASSISTANT: "


class BuiltPrompt(msgspec.Struct, frozen=True, kw_only=True):
    """A prompt that fits the budget, and what was done to the documentation to fit it."""

    text: str
    template: str
    prompt_tokens: int
    budget_tokens: int
    documents_given: int
    documents_used: int
    dropped_fields: tuple[str, ...] = ()
    truncated_fields: tuple[str, ...] = ()

    @property
    def shortened(self) -> bool:
        return bool(self.dropped_fields or self.truncated_fields or self.documents_used < self.documents_given)


class _Level(msgspec.Struct, frozen=True):
    drop: tuple[str, ...]
    truncate_description: bool
    drop_unknown: bool = True


# Cumulative shortening steps, tried in order (see `PromptBuilder.build`).
_LEVELS: tuple[_Level, ...] = (
    _Level((), False, drop_unknown=False),
    _Level(("performance",), False),
    _Level(("performance", "example_code"), False),
    _Level(("performance", "example_code", "python_environment_requirements"), False),
    _Level(("performance", "example_code", "python_environment_requirements"), True),
    _Level(("performance", "example_code", "python_environment_requirements", "api_arguments"), True),
    _Level(
        (
            "performance",
            "example_code",
            "python_environment_requirements",
            "api_arguments",
            "functionality",
            "framework",
        ),
        True,
    ),
    _Level(
        (
            "performance",
            "example_code",
            "python_environment_requirements",
            "api_arguments",
            "functionality",
            "framework",
            "description",
        ),
        False,
    ),
    _Level(
        (
            "performance",
            "example_code",
            "python_environment_requirements",
            "api_arguments",
            "functionality",
            "framework",
            "description",
            "domain",
        ),
        False,
    ),
)


def _apply_level(
    record: Mapping[str, Any], level: _Level, description_chars: int | None
) -> tuple[dict[str, Any], set[str], set[str]]:
    out: dict[str, Any] = {}
    dropped: set[str] = set()
    truncated: set[str] = set()
    for key, value in record.items():
        if key not in PROTECTED_FIELDS and (key in level.drop or (level.drop_unknown and key not in APIBENCH_FIELDS)):
            dropped.add(key)
            continue
        if (
            key == "description"
            and description_chars is not None
            and isinstance(value, str)
            and len(value) > description_chars
        ):
            value = value[:description_chars].rstrip() + _ELLIPSIS
            truncated.add(key)
        out[key] = value
    return out, dropped, truncated


class PromptBuilder:
    """Builds prompts for one template within ``context_tokens - reserve_tokens`` tokens.

    ``reserve_tokens`` is kept free for the answer (set it to the generator's
    ``max_new_tokens``). ``chat`` is the model's chat template, which the ``chat`` template needs.
    """

    def __init__(
        self,
        template: PromptTemplate | str,
        count_tokens: TokenCounter,
        *,
        context_tokens: int = 2048,
        reserve_tokens: int = 256,
        chat: ChatFormatter | None = None,
    ) -> None:
        self.template = get_template(template) if isinstance(template, str) else template
        if context_tokens <= 0 or reserve_tokens < 0 or reserve_tokens >= context_tokens:
            raise InvalidSettingError(
                f"context_tokens={context_tokens}, reserve_tokens={reserve_tokens}: expected "
                "0 <= reserve_tokens < context_tokens",
                setting="context_tokens",
                value=context_tokens,
                valid=(),
            )
        self._count = count_tokens
        self._chat = chat
        self.context_tokens = context_tokens
        self.reserve_tokens = reserve_tokens

    @property
    def budget_tokens(self) -> int:
        return self.context_tokens - self.reserve_tokens

    def build(self, request: str, documents: Sequence[Mapping[str, Any]] = ()) -> BuiltPrompt:
        """The longest prompt that fits: full documentation if possible, shortened if not.

        Order of shortening, applied to all records alike: drop ``performance`` and fields
        outside APIBench's schema, then ``example_code``, ``python_environment_requirements``;
        then cut ``description`` (keeping as much as fits); then drop ``api_arguments``,
        ``functionality`` and ``framework``, ``description``, ``domain``. ``api_name`` and
        ``api_call`` are kept. If even that does not fit, the last records are dropped,
        down to none (a zero-shot prompt). The request is never changed.
        """
        request = request.strip()
        if not request:
            raise PromptError("the request is empty; nothing to generate an API call for")
        t = self.template
        budget = self.budget_tokens
        docs = list(documents)
        given = len(docs)
        if t.max_documents is not None and len(docs) > t.max_documents:
            logger.debug(
                "template %s takes %d document(s); ignoring %d", t.name, t.max_documents, len(docs) - t.max_documents
            )
            docs = docs[: t.max_documents]

        bare = render(t, request, chat=self._chat)
        bare_tokens = self._count(bare)
        if bare_tokens > budget:
            request_tokens = self._count(request)
            template_tokens = max(bare_tokens - request_tokens, 0)
            raise PromptTooLongError(
                f"the request is {request_tokens} tokens; with the {t.name!r} template "
                f"(+{template_tokens} tokens) the prompt needs {bare_tokens} tokens but the budget "
                f"is {budget} ({self.context_tokens} context - {self.reserve_tokens} reserved for "
                "the answer); shorten the comment",
                request_tokens=request_tokens,
                template_tokens=template_tokens,
                budget_tokens=budget,
            )

        for count in range(len(docs), 0, -1):
            built = self._fit(request, docs[:count], given)
            if built is not None:
                if count < len(docs):
                    logger.info("dropped %d documentation record(s) to fit %d tokens", len(docs) - count, budget)
                return built
        if docs:
            logger.info("no documentation fits in %d tokens next to the request; prompting zero-shot", budget)
        return BuiltPrompt(
            text=bare,
            template=t.name,
            prompt_tokens=bare_tokens,
            budget_tokens=budget,
            documents_given=given,
            documents_used=0,
        )

    def _fit(self, request: str, docs: list[Mapping[str, Any]], given: int) -> BuiltPrompt | None:
        budget = self.budget_tokens

        def attempt(level: _Level, chars: int | None) -> tuple[BuiltPrompt, bool]:
            variants, dropped, truncated = [], set(), set()
            for doc in docs:
                variant, d, tr = _apply_level(doc, level, chars)
                variants.append(variant)
                dropped |= d
                truncated |= tr
            text = render(self.template, request, variants, self._chat)
            tokens = self._count(text)
            built = BuiltPrompt(
                text=text,
                template=self.template.name,
                prompt_tokens=tokens,
                budget_tokens=budget,
                documents_given=given,
                documents_used=len(docs),
                dropped_fields=tuple(sorted(dropped)),
                truncated_fields=tuple(sorted(truncated)),
            )
            return built, tokens <= budget

        for level in _LEVELS:
            built, fits = attempt(level, None)
            if fits:
                return built
            if not level.truncate_description:
                continue
            longest = max((len(d["description"]) for d in docs if isinstance(d.get("description"), str)), default=0)
            if longest <= MIN_DESCRIPTION_CHARS:
                continue
            best: BuiltPrompt | None = None
            low, high = MIN_DESCRIPTION_CHARS, longest - 1
            while low <= high:  # the longest description prefix that fits
                mid = (low + high) // 2
                candidate, fits = attempt(level, mid)
                if fits:
                    best, low = candidate, mid + 1
                else:
                    high = mid - 1
            if best is not None:
                return best
        return None


def build_prompt(
    request: str,
    documents: Sequence[Mapping[str, Any]] = (),
    *,
    template: PromptTemplate | str = DEFAULT_TEMPLATE,
    count_tokens: TokenCounter,
    context_tokens: int = 2048,
    reserve_tokens: int = 256,
    chat: ChatFormatter | None = None,
) -> BuiltPrompt:
    """One-shot form of `PromptBuilder.build`."""
    builder = PromptBuilder(template, count_tokens, context_tokens=context_tokens, reserve_tokens=reserve_tokens,
                            chat=chat)
    return builder.build(request, documents)
