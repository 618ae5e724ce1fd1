"""Text generation with a CTranslate2-converted Gorilla model.

`GorillaGenerator` wraps one `ctranslate2.Generator` and the tokenizer stored next to it.
Its constructor follows faster-whisper's ``WhisperModel``: a model directory, ``device``
("auto", "cpu", "cuda"), ``compute_type`` ("auto" or a CTranslate2 type such as "int8",
"int8_float16", "float16"), and thread counts; invalid values raise errors that list the
valid ones.

Why streaming everywhere: the editor supersedes requests on every keystroke, so sampling
runs through CTranslate2's per-token callback. The callback checks the request's cancel
token and the stop policy (`engine.stopping`) before accepting each token and tells
CTranslate2 to stop that candidate at once. Beam search cannot stream (CTranslate2 only
calls back for ``beam_size == 1``), so beams are cancelled only before they start and the
stop policy cuts their text afterwards.
"""

from __future__ import annotations

import atexit
import functools
import json
import logging
import os
import queue
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Self

import msgspec

from engine.cancellation import CancelToken, is_cancelled
from engine.errors import (
    DeviceUnavailableError,
    EngineOutOfMemoryError,
    GenerationError,
    InvalidSettingError,
    ModelLoadError,
    PromptError,
    TokenizerLoadError,
    UnsupportedComputeTypeError,
)
from engine.prompts import DEFAULT_TEMPLATE, PromptBuilder, get_template
from engine.stopping import GORILLA_CALL_STOP, FinishReason, StopPolicy, check_stop

logger = logging.getLogger(__name__)

VALID_DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")
STRATEGIES: tuple[str, ...] = ("sample", "greedy", "beam")
MODEL_FILES: tuple[str, ...] = ("model.bin", "config.json")
TOKENIZER_FILES: tuple[str, ...] = ("tokenizer.json", "tokenizer.model", "vocab.json")
"""Any one of these next to the model makes a loadable tokenizer."""

# Preference order when compute_type="auto": the first one the device supports wins.
_AUTO_COMPUTE_TYPES: dict[str, tuple[str, ...]] = {
    "cuda": ("int8_float16", "float16", "int8", "float32"),
    "cpu": ("int8", "int8_float32", "float32"),
}
_OOM_MARKERS: tuple[str, ...] = (
    "out of memory",
    "bad_alloc",
    "cuda_error_out_of_memory",
    "cudaerrormemoryallocation",
    "cublas_status_alloc_failed",
)

Strategy = Literal["sample", "greedy", "beam"]


class GenerationOptions(msgspec.Struct, frozen=True, kw_only=True):
    """How to decode one request; hashable so that equal options can share a batch."""

    num_candidates: int = 1
    strategy: Strategy = "sample"
    temperature: float = 0.7
    top_k: int = 40
    top_p: float = 1.0
    beam_size: int = 0
    """Beam width for ``strategy="beam"``; 0 means ``num_candidates``."""
    max_new_tokens: int = 128
    min_new_tokens: int = 0
    """The end token is ignored before this many tokens (benchmarks use it for fixed lengths)."""
    repetition_penalty: float = 1.0
    stop: StopPolicy = GORILLA_CALL_STOP

    def validate(self) -> None:
        """Raise `InvalidSettingError` naming the first bad field."""
        if self.strategy not in STRATEGIES:
            raise InvalidSettingError(
                f"strategy={self.strategy!r} is not valid; expected one of {', '.join(STRATEGIES)}",
                setting="strategy",
                value=self.strategy,
                valid=STRATEGIES,
            )
        checks: list[tuple[str, object, bool, str]] = [
            ("num_candidates", self.num_candidates, self.num_candidates >= 1, "an integer >= 1"),
            ("max_new_tokens", self.max_new_tokens, self.max_new_tokens >= 1, "an integer >= 1"),
            ("temperature", self.temperature, self.temperature > 0, "a number > 0"),
            ("top_k", self.top_k, self.top_k >= 0, "an integer >= 0 (0: no top-k cut)"),
            ("top_p", self.top_p, 0 < self.top_p <= 1, "a number in (0, 1]"),
            (
                "min_new_tokens",
                self.min_new_tokens,
                0 <= self.min_new_tokens <= self.max_new_tokens,
                "an integer in [0, max_new_tokens]",
            ),
            ("beam_size", self.beam_size, self.beam_size >= 0, "an integer >= 0"),
            ("repetition_penalty", self.repetition_penalty, self.repetition_penalty > 0, "a number > 0"),
        ]
        for name, value, ok, expected in checks:
            if not ok:
                raise InvalidSettingError(
                    f"{name}={value!r} is not valid; expected {expected}", setting=name, value=value, valid=()
                )
        if self.strategy == "greedy" and self.num_candidates != 1:
            raise InvalidSettingError(
                f"num_candidates={self.num_candidates} with strategy='greedy' would repeat one "
                "candidate; use strategy='sample' or 'beam' for several candidates",
                setting="num_candidates",
                value=self.num_candidates,
                valid=("1",),
            )
        if self.strategy == "beam" and 0 < self.beam_size < self.num_candidates:
            raise InvalidSettingError(
                f"beam_size={self.beam_size} is smaller than num_candidates={self.num_candidates}",
                setting="beam_size",
                value=self.beam_size,
                valid=(),
            )


class TokenEvent(msgspec.Struct, frozen=True):
    """One accepted token of one candidate, as streamed."""

    request: int
    candidate: int
    token_id: int
    index: int
    """0-based position of this token among the candidate's generated tokens."""
    text: str
    """The candidate's whole text so far (already cut by the stop policy)."""
    finish_reason: FinishReason | None
    """Set on the candidate's last event when the policy or the length limit ended it."""


class Candidate(msgspec.Struct, frozen=True):
    """One generated answer."""

    text: str
    token_ids: list[int]
    finish_reason: FinishReason
    score: float | None = None
    """Beam search only: CTranslate2's cumulative log-probability score."""


class GenerationResult(msgspec.Struct, frozen=True):
    """All candidates for one request, with timings."""

    candidates: list[Candidate]
    prompt_tokens: int
    cancelled: bool
    time_to_first_token_s: float | None
    elapsed_s: float

    @property
    def generated_tokens(self) -> int:
        return sum(len(c.token_ids) for c in self.candidates)


class EngineInfo(msgspec.Struct, frozen=True):
    """What the engine reports about itself (shown by the server's status command)."""

    backend: str
    model_path: str
    device: str
    device_index: int
    compute_type: str
    requested_compute_type: str
    inter_threads: int
    intra_threads: int
    vocab_size: int | None


# ---------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------


def resolve_device(device: str, device_index: int = 0) -> str:
    """Map "auto" to "cuda" when CTranslate2 sees a GPU, else "cpu"; reject unavailable ones."""
    import ctranslate2

    if device not in VALID_DEVICES:
        raise InvalidSettingError(
            f"device={device!r} is not valid; expected one of {', '.join(VALID_DEVICES)}",
            setting="device",
            value=device,
            valid=VALID_DEVICES,
        )
    count = ctranslate2.get_cuda_device_count()
    if device == "auto":
        device = "cuda" if count > 0 else "cpu"
    if device == "cuda":
        if count == 0:
            raise DeviceUnavailableError(
                "device='cuda' was requested but CTranslate2 finds no CUDA device "
                "(ctranslate2.get_cuda_device_count() == 0); valid on this machine: auto, cpu",
                setting="device",
                value="cuda",
                valid=("auto", "cpu"),
            )
        if not 0 <= device_index < count:
            valid = tuple(str(i) for i in range(count))
            raise DeviceUnavailableError(
                f"device_index={device_index} is not valid; this machine has {count} CUDA "
                f"device(s): {', '.join(valid)}",
                setting="device_index",
                value=device_index,
                valid=valid,
            )
    elif device_index != 0:
        raise InvalidSettingError(
            f"device_index={device_index} is not valid on cpu; expected 0",
            setting="device_index",
            value=device_index,
            valid=("0",),
        )
    return device


def resolve_compute_type(compute_type: str, device: str, device_index: int = 0) -> str:
    """Map "auto" to int8_float16 (CUDA) / int8 (CPU); check explicit types are supported."""
    import ctranslate2

    supported = set(ctranslate2.get_supported_compute_types(device, device_index))
    if compute_type == "auto":
        for candidate in _AUTO_COMPUTE_TYPES[device]:
            if candidate in supported:
                return candidate
        return "default"
    if compute_type == "default" or compute_type in supported:
        return compute_type
    valid = ("auto", "default", *sorted(supported))
    raise UnsupportedComputeTypeError(
        f"compute_type={compute_type!r} is not supported on {device}; valid values here: {', '.join(valid)}",
        setting="compute_type",
        value=compute_type,
        valid=valid,
    )


def _check_model_dir(path: Path) -> None:
    if not path.exists():
        raise ModelLoadError(
            f"model directory {path} does not exist; expected a CTranslate2 model directory "
            f"({', '.join(MODEL_FILES)}, vocabulary.json, tokenizer files) as written by "
            "`gorilla-lsp model convert`",
            path=str(path),
        )
    if not path.is_dir():
        raise ModelLoadError(f"model path {path} is a file; expected a CTranslate2 model directory", path=str(path))
    missing = [name for name in MODEL_FILES if not (path / name).is_file()]
    if missing:
        hint = ""
        if any(path.glob("*.safetensors")) or (path / "pytorch_model.bin").exists():
            hint = (
                "; it looks like an unconverted Hugging Face checkpoint: convert it with "
                "`gorilla-lsp model convert SRC OUT`"
            )
        raise ModelLoadError(
            f"{path} is not a CTranslate2 model directory: missing {', '.join(missing)}{hint}",
            path=str(path),
        )


def _read_vocab_size(path: Path) -> int | None:
    json_vocab = path / "vocabulary.json"
    if json_vocab.is_file():
        try:
            return len(json.loads(json_vocab.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return None
    text_vocab = path / "vocabulary.txt"
    if text_vocab.is_file():
        return sum(1 for _ in text_vocab.open(encoding="utf-8"))
    return None


def load_tokenizer(path: Path) -> Any:
    """The tokenizer beside a converted model (`AutoTokenizer`, no torch); a clear error when there is none."""
    if not any((path / name).is_file() for name in TOKENIZER_FILES):
        raise TokenizerLoadError(
            f"no tokenizer in {path}: expected one of {', '.join(TOKENIZER_FILES)} "
            "(with tokenizer_config.json) next to model.bin; `gorilla-lsp model convert` copies them",
            path=str(path),
        )
    try:
        # Only tokenizers are used: transformers' advice that PyTorch is missing is noise on every start.
        os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except Exception as exc:  # transformers raises OSError, ValueError, KeyError, ...
        raise TokenizerLoadError(f"cannot load the tokenizer in {path}: {exc}", path=str(path)) from exc


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether a CTranslate2 exception means the device ran out of memory."""
    if isinstance(exc, MemoryError):
        return True
    message = str(exc).lower()
    return any(marker in message for marker in _OOM_MARKERS)


# ---------------------------------------------------------------------------
# Streaming run
# ---------------------------------------------------------------------------


class _Row:
    """Decoding state of one candidate (one row of the CTranslate2 batch).

    Text is detokenized incrementally (two short decodes per token, as in Hugging Face's
    text-generation-inference) because this runs inside CTranslate2's decoding loop: a
    full decode per token would cost O(length) there. Bytes of an incomplete character
    are held back until it completes.
    """

    __slots__ = ("_prefix", "_read", "candidate", "finish", "ids", "request", "text")

    def __init__(self, request: int, candidate: int) -> None:
        self.request = request
        self.candidate = candidate
        self.ids: list[int] = []
        self.text = ""
        self.finish: FinishReason | None = None
        self._prefix = 0
        self._read = 0

    def append(self, token_id: int, decode: Callable[[list[int]], str]) -> None:
        self.ids.append(token_id)
        before = decode(self.ids[self._prefix : self._read])
        after = decode(self.ids[self._prefix :])
        if len(after) > len(before) and not after.endswith("\ufffd"):
            self.text += after[len(before) :]
            self._prefix, self._read = self._read, len(self.ids)

    def finalize(self, decode: Callable[[list[int]], str]) -> None:
        """Exact text of all tokens, unless the stop policy already cut it."""
        if self.finish not in ("stop_string", "call_complete"):
            self.text = decode(self.ids)


_DONE = object()


class GenerationStream:
    """Iterator over `TokenEvent`s of a running batch; `results()` gives the final answers.

    Closing the stream (or leaving its ``with`` block) stops decoding of every candidate at
    its next token. Cancel tokens stop the candidates of their own request only.
    """

    def __init__(
        self,
        owner: GorillaGenerator,
        prompts_tokens: list[list[str]],
        options: GenerationOptions,
        cancels: list[CancelToken | None],
    ) -> None:
        self._owner = owner
        self._options = options
        self._cancels = cancels
        self._prompt_tokens = [len(tokens) for tokens in prompts_tokens]
        n = options.num_candidates
        self._rows = [_Row(r, c) for r in range(len(prompts_tokens)) for c in range(n)]
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._closed = threading.Event()
        self._finished = threading.Event()
        self._error: BaseException | None = None
        self._start = time.perf_counter()
        self._first_token_s: list[float | None] = [None] * len(prompts_tokens)
        self._elapsed_s: float | None = None
        self._end_ids = owner._end_token_ids(options.stop)

        batch = [tokens for tokens in prompts_tokens for _ in range(n)]
        greedy = options.strategy == "greedy"
        try:
            async_results = owner._ct2_generator().generate_batch(
                batch,
                asynchronous=True,
                beam_size=1,
                include_prompt_in_result=False,
                max_length=options.max_new_tokens,
                min_length=options.min_new_tokens,
                end_token=owner._end_tokens(options.stop),
                sampling_topk=1 if greedy else options.top_k,
                sampling_topp=1.0 if greedy else options.top_p,
                sampling_temperature=1.0 if greedy else options.temperature,
                repetition_penalty=options.repetition_penalty,
                callback=self._on_step,
            )
        except Exception as exc:
            raise owner._wrap_error(exc, rows=len(batch)) from exc
        self._waiter = threading.Thread(
            target=self._wait, args=(async_results, len(batch)), name="ct2-generation-wait", daemon=True
        )
        self._waiter.start()

    # Runs on CTranslate2's worker thread, once per generated token of each row.
    def _on_step(self, step: Any) -> bool:
        row = self._rows[step.batch_id]
        if row.finish is not None:
            return True
        if self._closed.is_set() or is_cancelled(self._cancels[row.request]):
            row.finish = "cancelled"
            return True
        token_id = int(step.token_id)
        decode = self._owner._decode
        if token_id in self._end_ids:
            row.finish = "end_token"
            row.finalize(decode)
            self._queue.put(TokenEvent(row.request, row.candidate, token_id, len(row.ids), row.text, "end_token"))
            return True
        row.append(token_id, decode)
        match = check_stop(row.text, self._options.stop)
        if match is not None:
            row.text = row.text[: match.end]
            row.finish = match.reason
        elif len(row.ids) >= self._options.max_new_tokens:
            row.finish = "length"
            row.finalize(decode)
        if self._first_token_s[row.request] is None:
            self._first_token_s[row.request] = time.perf_counter() - self._start
        self._queue.put(TokenEvent(row.request, row.candidate, token_id, len(row.ids) - 1, row.text, row.finish))
        return row.finish is not None

    def _wait(self, async_results: list[Any], rows: int) -> None:
        try:
            for result in async_results:
                result.result()
        except Exception as exc:  # noqa: BLE001 - surfaced to the consumer by __iter__
            self._error = self._owner._wrap_error(exc, rows=rows)
        self._elapsed_s = time.perf_counter() - self._start
        self._finished.set()
        self._queue.put(_DONE)

    def __iter__(self) -> Iterator[TokenEvent]:
        while True:
            item = self._queue.get()
            if item is _DONE:
                self._queue.put(_DONE)  # later iterations end at once too
                if self._error is not None:
                    raise self._error
                return
            assert isinstance(item, TokenEvent)
            yield item

    def close(self) -> None:
        """Stop decoding all candidates and wait until CTranslate2 has let go of the batch."""
        self._closed.set()
        self._finished.wait()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def results(self) -> list[GenerationResult]:
        """Wait for the end of decoding and return one result per request."""
        for _ in self:
            pass
        elapsed = self._elapsed_s if self._elapsed_s is not None else time.perf_counter() - self._start
        per_request: list[list[Candidate]] = [[] for _ in self._prompt_tokens]
        cancelled = [False] * len(self._prompt_tokens)
        for row in self._rows:
            finish = row.finish
            if finish is None:
                # CTranslate2 ended the row without calling back: the end token or the limit.
                finish = "length" if len(row.ids) >= self._options.max_new_tokens else "end_token"
            if finish == "cancelled":
                cancelled[row.request] = True
            row.finish = finish
            row.finalize(self._owner._decode)
            per_request[row.request].append(Candidate(row.text, list(row.ids), finish))
        return [
            GenerationResult(
                candidates=candidates,
                prompt_tokens=self._prompt_tokens[i],
                cancelled=cancelled[i] or is_cancelled(self._cancels[i]),
                time_to_first_token_s=self._first_token_s[i],
                elapsed_s=elapsed,
            )
            for i, candidates in enumerate(per_request)
        ]


# ---------------------------------------------------------------------------
# Generator
# ---------------------------------------------------------------------------


def _close_at_exit(ref: weakref.ReferenceType[GorillaGenerator]) -> None:
    generator = ref()
    if generator is not None:
        generator.close()


class GorillaGenerator:
    """A CTranslate2 decoder plus its tokenizer, generating API-call candidates.

    Arguments:
      model_path: directory written by `engine.convert.convert_model` (or
        `engine.tiny_model.build_tiny_model`): model.bin, config.json, vocabulary and
        tokenizer files.
      device: "auto" (CUDA when `ctranslate2.get_cuda_device_count() > 0`, else CPU),
        "cpu" or "cuda".
      device_index: which GPU (CUDA only).
      compute_type: "auto" (int8_float16 on CUDA, int8 on CPU), "default" (the type
        the model was saved in) or any type in `ctranslate2.get_supported_compute_types`.
      inter_threads: how many batches may decode in parallel.
      intra_threads: threads per batch on CPU (0: CTranslate2's default).
      max_queued_batches: CTranslate2's queue bound (0: automatic).
      template, context_tokens, max_new_tokens: how `candidates` builds prompts (see
        `engine.prompts`) and how long answers may be.

    Raises `ModelLoadError` / `TokenizerLoadError` for a bad directory,
    `DeviceUnavailableError`, `UnsupportedComputeTypeError`, `InvalidSettingError` for bad
    settings and `EngineOutOfMemoryError` when the model does not fit.
    """

    def __init__(
        self,
        model_path: str | Path,
        *,
        device: str = "auto",
        device_index: int = 0,
        compute_type: str = "auto",
        inter_threads: int = 1,
        intra_threads: int = 0,
        max_queued_batches: int = 0,
        template: str = DEFAULT_TEMPLATE,
        context_tokens: int = 2048,
        max_new_tokens: int = 128,
    ) -> None:
        import ctranslate2

        path = Path(model_path).expanduser()
        _check_model_dir(path)
        self._template = get_template(template)
        self._context_tokens = context_tokens
        self._max_new_tokens = max_new_tokens
        for name, value, minimum in (("inter_threads", inter_threads, 1), ("intra_threads", intra_threads, 0)):
            if not isinstance(value, int) or value < minimum:
                raise InvalidSettingError(
                    f"{name}={value!r} is not valid; expected an integer >= {minimum}",
                    setting=name,
                    value=value,
                    valid=(),
                )
        resolved_device = resolve_device(device, device_index)
        resolved_compute = resolve_compute_type(compute_type, resolved_device, device_index)
        self._path = path
        self._tokenizer = load_tokenizer(path)
        self._tokenizer_lock = threading.Lock()
        probe = self._tokenizer("a").input_ids
        self._adds_bos = bool(probe) and probe[0] == self._tokenizer.bos_token_id
        if self._template.kind == "chat" and not getattr(self._tokenizer, "chat_template", None):
            raise InvalidSettingError(
                f"template='chat' needs a tokenizer with a chat template, and the one in {path} has none "
                "(tokenizer_config.json has no chat_template: a base model?); use gorilla-v0 or another preset",
                setting="template",
                value="chat",
                valid=("gorilla-v0", "gorilla-openfunctions", "gorilla-openfunctions-v1"),
            )
        vocab_size = _read_vocab_size(path)
        if vocab_size is not None and len(self._tokenizer) > vocab_size:
            logger.warning(
                "tokenizer in %s has %d tokens but the model only %d: ids past the model's "
                "vocabulary cannot be generated or fed",
                path,
                len(self._tokenizer),
                vocab_size,
            )
        try:
            self._ct2: Any = ctranslate2.Generator(
                str(path),
                device=resolved_device,
                device_index=device_index,
                compute_type=resolved_compute,
                inter_threads=inter_threads,
                intra_threads=intra_threads,
                max_queued_batches=max_queued_batches,
            )
        except Exception as exc:
            if is_out_of_memory(exc):
                raise EngineOutOfMemoryError(
                    f"out of memory loading {path} on {resolved_device} with compute_type="
                    f"{resolved_compute}: {exc}; try a smaller compute type (int8, int8_float16) "
                    "or another device",
                    device=resolved_device,
                    compute_type=resolved_compute,
                    path=str(path),
                ) from exc
            raise ModelLoadError(
                f"CTranslate2 cannot load the model in {path} (model.bin missing, truncated or "
                f"written by an incompatible version?): {exc}",
                path=str(path),
            ) from exc
        self._info = EngineInfo(
            backend="ctranslate2",
            model_path=str(path),
            device=resolved_device,
            device_index=device_index,
            compute_type=str(self._ct2.compute_type),
            requested_compute_type=resolved_compute,
            inter_threads=inter_threads,
            intra_threads=intra_threads,
            vocab_size=vocab_size,
        )
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        self._eos_token: str | None = config.get("eos_token") or self._tokenizer.eos_token
        # CTranslate2's generator must be released before interpreter shutdown: destroying
        # it during finalization (after a callback was used) aborts the process.
        self._atexit: Callable[[], None] = functools.partial(_close_at_exit, weakref.ref(self))
        atexit.register(self._atexit)
        logger.info("loaded %s on %s (compute_type=%s)", path, self._info.device, self._info.compute_type)

    # -- reporting ----------------------------------------------------------

    def info(self) -> EngineInfo:
        """Backend, device, compute type actually used, model path (for status displays)."""
        return self._info

    @property
    def tokenizer(self) -> Any:
        """The `transformers` tokenizer loaded from the model directory."""
        return self._tokenizer

    # -- tokens ------------------------------------------------------------

    def tokenize(self, text: str) -> list[str]:
        """Token strings fed to CTranslate2 (special tokens such as BOS included)."""
        with self._tokenizer_lock:
            ids = self._tokenizer(text).input_ids
            return list(self._tokenizer.convert_ids_to_tokens(ids))

    def count_tokens(self, text: str) -> int:
        """Prompt length in tokens as the model will see it (the prompt builder's counter)."""
        with self._tokenizer_lock:
            return len(self._tokenizer(text).input_ids)

    def format_chat(self, messages: Sequence[Mapping[str, str]]) -> str:
        """``messages`` through the tokenizer's chat template, the assistant's turn opened, ready to generate from.

        A BOS token the template writes is dropped when the tokenizer adds one itself (it would be doubled).
        Raises `PromptError` when the tokenizer has no chat template or it cannot be applied.
        """
        if not getattr(self._tokenizer, "chat_template", None):
            raise PromptError(f"the tokenizer in {self._path} has no chat template (a base model?)")
        try:
            with self._tokenizer_lock:
                text = str(self._tokenizer.apply_chat_template(
                    [dict(m) for m in messages], tokenize=False, add_generation_prompt=True))
        except ImportError as exc:
            raise PromptError(f"chat templates need jinja2 (pip install jinja2): {exc}") from exc
        except Exception as exc:  # jinja2's TemplateError: templates raise on roles they refuse
            raise PromptError(f"the chat template in {self._path} failed: {exc}") from exc
        bos = self._tokenizer.bos_token
        if self._adds_bos and bos and text.startswith(bos):
            text = text[len(bos):]
        return text

    def _decode(self, ids: list[int]) -> str:
        with self._tokenizer_lock:
            return str(self._tokenizer.decode(ids, skip_special_tokens=True))

    def _end_tokens(self, stop: StopPolicy) -> list[str] | None:
        tokens = [t for t in ((self._eos_token,) + stop.end_tokens) if t]
        return tokens or None

    def _end_token_ids(self, stop: StopPolicy) -> frozenset[int]:
        tokens = self._end_tokens(stop) or []
        with self._tokenizer_lock:
            ids = self._tokenizer.convert_tokens_to_ids(tokens)
        unk = self._tokenizer.unk_token_id
        return frozenset(i for i in ids if i is not None and (i != unk or unk is None))

    # -- generation ----------------------------------------------------------

    def _ct2_generator(self) -> Any:
        if self._ct2 is None:
            raise GenerationError(f"the generator for {self._path} is closed")
        return self._ct2

    def _wrap_error(self, exc: BaseException, *, rows: int) -> Exception:
        if isinstance(exc, (GenerationError, EngineOutOfMemoryError)):
            return exc
        if is_out_of_memory(exc):
            return EngineOutOfMemoryError(
                f"out of memory generating {rows} sequence(s) with {self._path} on "
                f"{self._info.device} (compute_type={self._info.compute_type}): {exc}; lower "
                "num_candidates, max_new_tokens or the batch size, or use an int8 compute type",
                device=self._info.device,
                compute_type=self._info.compute_type,
                path=str(self._path),
            )
        return GenerationError(f"generation failed with {self._path}: {exc}")

    def stream_batch(
        self,
        prompts: Sequence[str],
        options: GenerationOptions | None = None,
        cancels: Sequence[CancelToken | None] | None = None,
    ) -> GenerationStream:
        """Start decoding ``num_candidates`` candidates for each prompt in one batch; stream tokens.

        Only ``strategy`` "sample" and "greedy" stream; use `generate_batch` for beams.
        """
        options = GenerationOptions() if options is None else options
        options.validate()
        if options.strategy == "beam":
            raise InvalidSettingError(
                "strategy='beam' cannot stream (CTranslate2 reports tokens only for beam_size 1); "
                "use generate()/generate_batch() or strategy 'sample' / 'greedy'",
                setting="strategy",
                value="beam",
                valid=("sample", "greedy"),
            )
        cancel_list = self._cancel_list(prompts, cancels)
        tokens = [self.tokenize(prompt) for prompt in prompts]
        return GenerationStream(self, tokens, options, cancel_list)

    def stream(
        self,
        prompt: str,
        options: GenerationOptions | None = None,
        cancel: CancelToken | None = None,
    ) -> GenerationStream:
        """`stream_batch` for a single prompt (default options: `GenerationOptions()`)."""
        return self.stream_batch([prompt], options, [cancel])

    def generate_batch(
        self,
        prompts: Sequence[str],
        options: GenerationOptions | None = None,
        cancels: Sequence[CancelToken | None] | None = None,
    ) -> list[GenerationResult]:
        """Decode several requests that arrived together in one CTranslate2 batch."""
        options = GenerationOptions() if options is None else options
        options.validate()
        if not prompts:
            return []
        if options.strategy == "beam":
            return self._generate_beam(prompts, options, self._cancel_list(prompts, cancels))
        with self.stream_batch(prompts, options, cancels) as stream:
            return stream.results()

    def generate(
        self,
        prompt: str,
        options: GenerationOptions | None = None,
        cancel: CancelToken | None = None,
    ) -> GenerationResult:
        """Decode one request (default options: `GenerationOptions()`); see `generate_batch`."""
        return self.generate_batch([prompt], options, [cancel])[0]

    def build_prompt(self, request: str, documents: Sequence[Mapping[str, Any]] = ()) -> str:
        """The prompt for one editor request: the template, with the documents shortened to the context budget.

        Raises `PromptTooLongError` when the request alone does not fit.
        """
        builder = PromptBuilder(
            self._template, self.count_tokens, context_tokens=self._context_tokens, reserve_tokens=self._max_new_tokens,
            chat=self.format_chat if self._template.kind == "chat" else None,
        )
        return builder.build(request, documents).text

    def candidate_options(self, n: int, temperature: float = 0.7) -> GenerationOptions:
        """Sampling for several candidates, greedy for one; the template's stop policy."""
        return GenerationOptions(
            num_candidates=n,
            strategy="sample" if n > 1 else "greedy",
            temperature=temperature,
            max_new_tokens=self._max_new_tokens,
            stop=self._template.stop,
        )

    def candidates(
        self,
        request: str,
        documents: Sequence[Mapping[str, Any]] = (),
        n: int = 1,
        cancelled: CancelToken | None = None,
        *,
        temperature: float = 0.7,
    ) -> list[str]:
        """Answer texts for one editor request: prompt (template, budget) + ``n`` sampled candidates.

        This is the whole model step the completion pipeline needs; candidates cut by a
        cancellation are left out. Raises `PromptTooLongError` when the request does not fit.
        """
        result = self.generate(self.build_prompt(request, documents), self.candidate_options(n, temperature), cancelled)
        return [c.text for c in result.candidates if c.finish_reason != "cancelled"]

    @staticmethod
    def _cancel_list(prompts: Sequence[str], cancels: Sequence[CancelToken | None] | None) -> list[CancelToken | None]:
        if cancels is None:
            return [None] * len(prompts)
        if len(cancels) != len(prompts):
            raise ValueError(f"{len(cancels)} cancel tokens for {len(prompts)} prompts")
        return list(cancels)

    def _generate_beam(
        self,
        prompts: Sequence[str],
        options: GenerationOptions,
        cancels: list[CancelToken | None],
    ) -> list[GenerationResult]:
        start = time.perf_counter()
        live = [i for i, cancel in enumerate(cancels) if not is_cancelled(cancel)]
        tokens = {i: self.tokenize(prompts[i]) for i in range(len(prompts))}
        results: dict[int, GenerationResult] = {}
        if live:
            beam = options.beam_size or options.num_candidates
            try:
                outputs = self._ct2_generator().generate_batch(
                    [tokens[i] for i in live],
                    beam_size=beam,
                    num_hypotheses=options.num_candidates,
                    include_prompt_in_result=False,
                    max_length=options.max_new_tokens,
                    min_length=options.min_new_tokens,
                    end_token=self._end_tokens(options.stop),
                    repetition_penalty=options.repetition_penalty,
                    return_scores=True,
                )
            except Exception as exc:
                raise self._wrap_error(exc, rows=len(live) * beam) from exc
            elapsed = time.perf_counter() - start
            for i, output in zip(live, outputs, strict=True):
                candidates = []
                for ids, score in zip(output.sequences_ids, output.scores, strict=True):
                    text = self._decode(list(ids))
                    match = check_stop(text, options.stop)
                    if match is not None:
                        text, finish = text[: match.end], match.reason
                    elif len(ids) >= options.max_new_tokens:
                        finish = "length"
                    else:
                        finish = "end_token"
                    candidates.append(Candidate(text, list(ids), finish, float(score)))
                results[i] = GenerationResult(
                    candidates=candidates,
                    prompt_tokens=len(tokens[i]),
                    cancelled=is_cancelled(cancels[i]),
                    time_to_first_token_s=None,
                    elapsed_s=elapsed,
                )
        elapsed = time.perf_counter() - start
        return [
            results.get(i)
            or GenerationResult(
                candidates=[],
                prompt_tokens=len(tokens[i]),
                cancelled=True,
                time_to_first_token_s=None,
                elapsed_s=elapsed,
            )
            for i in range(len(prompts))
        ]

    # -- lifetime ------------------------------------------------------------

    def close(self) -> None:
        """Release the model (and its device memory). Idempotent."""
        if getattr(self, "_ct2", None) is None:
            return
        self._ct2 = None
        atexit.unregister(self._atexit)
        logger.info("closed %s", self._path)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
