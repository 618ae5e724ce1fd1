"""Generation through the real CTranslate2 code path, on CPU, with the tiny model."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from engine.cancellation import SupersedingRequests
from engine.errors import InvalidSettingError
from engine.generator import GenerationOptions, GenerationStream, GorillaGenerator
from engine.stopping import NO_STOP, StopPolicy

PROMPT = "###USER: I need a model that classifies images of dogs.###ASSISTANT: "


def fixed_length(n: int, **kwargs: object) -> GenerationOptions:
    """Options that always decode exactly n tokens (end token suppressed, no stop strings)."""
    return GenerationOptions(max_new_tokens=n, min_new_tokens=n, stop=NO_STOP, **kwargs)  # type: ignore[arg-type]


def held_until(event: threading.Event, after: int) -> Callable[[], bool]:
    """A cancel token that, after ``after`` accepted tokens, pauses decoding until ``event`` is set.

    Why: it makes cancellation tests independent of how fast the model decodes compared
    with the test thread (the tiny model could otherwise finish before the test cancels).
    """
    checks = 0

    def token() -> bool:
        nonlocal checks
        checks += 1
        if checks > after:
            assert event.wait(timeout=30), "the test never cancelled"
        return event.is_set()

    return token


def test_engine_reports_backend_device_and_compute_type(generator: GorillaGenerator, tiny_model) -> None:
    info = generator.info()
    assert info.backend == "ctranslate2"
    assert info.device == "cpu"
    assert info.requested_compute_type == "int8"
    assert info.compute_type.startswith("int8")
    assert info.model_path == tiny_model.path
    assert info.vocab_size == tiny_model.geometry.vocab_size


def test_sampling_returns_n_candidates(generator: GorillaGenerator) -> None:
    result = generator.generate(PROMPT, fixed_length(12, num_candidates=4, temperature=1.5, top_k=0))
    assert len(result.candidates) == 4
    assert result.prompt_tokens == generator.count_tokens(PROMPT)
    assert not result.cancelled
    assert result.time_to_first_token_s is not None and result.time_to_first_token_s <= result.elapsed_s
    for candidate in result.candidates:
        assert len(candidate.token_ids) == 12
        assert candidate.finish_reason == "length"
        assert candidate.text == generator.tokenizer.decode(candidate.token_ids, skip_special_tokens=True)
    # Sampling at temperature 1.5 from a near-uniform random model: candidates differ.
    assert len({tuple(c.token_ids) for c in result.candidates}) > 1


def test_greedy_is_deterministic(generator: GorillaGenerator) -> None:
    options = fixed_length(10, strategy="greedy")
    first = generator.generate(PROMPT, options)
    second = generator.generate(PROMPT, options)
    assert first.candidates[0].token_ids == second.candidates[0].token_ids


def test_beam_search_returns_ranked_candidates(generator: GorillaGenerator) -> None:
    result = generator.generate(PROMPT, fixed_length(8, strategy="beam", num_candidates=3))
    assert len(result.candidates) == 3
    scores = [c.score for c in result.candidates]
    assert all(score is not None for score in scores)
    assert scores == sorted(scores, reverse=True)
    assert len({tuple(c.token_ids) for c in result.candidates}) == 3


def test_max_new_tokens_bounds_every_candidate(generator: GorillaGenerator) -> None:
    result = generator.generate(PROMPT, GenerationOptions(num_candidates=3, max_new_tokens=5, stop=NO_STOP))
    for candidate in result.candidates:
        assert 0 <= len(candidate.token_ids) <= 5
        assert candidate.finish_reason in ("length", "end_token")


def test_stream_yields_each_token_with_growing_text(generator: GorillaGenerator) -> None:
    with generator.stream(PROMPT, fixed_length(10, num_candidates=2)) as stream:
        events = list(stream)
        results = stream.results()
    assert len(events) == 20
    for candidate in (0, 1):
        mine = [e for e in events if e.candidate == candidate]
        assert [e.index for e in mine] == list(range(10))
        assert [e.token_id for e in mine] == results[0].candidates[candidate].token_ids
        assert mine[-1].text == results[0].candidates[candidate].text
        assert mine[-1].finish_reason == "length"
        assert all(e.finish_reason is None for e in mine[:-1])


def test_cancel_after_k_tokens_stops_decoding(generator: GorillaGenerator) -> None:
    k = 3
    checks = 0

    def cancelled() -> bool:  # checked once per generated token, before it is accepted
        nonlocal checks
        checks += 1
        return checks > k

    result = generator.generate(PROMPT, fixed_length(200, strategy="greedy"), cancel=cancelled)
    assert result.cancelled
    assert result.candidates[0].finish_reason == "cancelled"
    assert len(result.candidates[0].token_ids) == k
    assert checks == k + 1  # decoding stopped at once: no token was asked for after the cancel


def test_cancel_event_from_consumer_stops_all_candidates(generator: GorillaGenerator) -> None:
    cancel = threading.Event()
    seen = 0
    with generator.stream(PROMPT, fixed_length(400, num_candidates=2), held_until(cancel, 4)) as stream:
        for _ in stream:
            seen += 1
            if seen == 4:
                cancel.set()
        result = stream.results()[0]
    assert result.cancelled
    assert all(c.finish_reason == "cancelled" for c in result.candidates)
    assert sum(len(c.token_ids) for c in result.candidates) == 4
    assert seen == 4


def test_candidates_builds_the_prompt_and_returns_texts(tiny_model, apibench_records: list[dict]) -> None:
    with GorillaGenerator(tiny_model.path, device="cpu", template="gorilla-v0", context_tokens=512, max_new_tokens=6) as gen:
        texts = gen.candidates("classify images of dogs", apibench_records[:1], n=3)
        assert len(texts) == 3 and all(isinstance(t, str) for t in texts)
        cancelled = threading.Event()
        cancelled.set()
        assert gen.candidates("classify images of dogs", [], n=2, cancelled=cancelled) == []
    with pytest.raises(InvalidSettingError, match="gorilla-v0"):
        GorillaGenerator(tiny_model.path, device="cpu", template="nope")


def test_closing_a_stream_stops_decoding(generator: GorillaGenerator) -> None:
    streams: list[GenerationStream] = []
    created = threading.Event()
    checks = 0

    def token() -> bool:  # never cancels; after one token, waits until the stream is closed
        nonlocal checks
        checks += 1
        if checks > 1:
            assert created.wait(timeout=30)
            assert streams[0]._closed.wait(timeout=30), "the stream was never closed"
        return False

    stream = generator.stream(PROMPT, fixed_length(400), token)
    streams.append(stream)
    created.set()
    next(iter(stream))
    stream.close()
    result = stream.results()[0]
    assert result.candidates[0].finish_reason == "cancelled"
    # The first token, perhaps the held one (if the worker reached it before close), no more.
    assert 1 <= len(result.candidates[0].token_ids) <= 2


def test_superseded_request_stops_and_new_one_completes(generator: GorillaGenerator) -> None:
    requests = SupersedingRequests()
    first_cancel = requests.start("file:///a.py")
    with generator.stream(PROMPT, fixed_length(300), held_until(first_cancel, 2)) as first:
        iterator = iter(first)
        next(iterator)
        next(iterator)
        second_cancel = requests.start("file:///a.py")  # the user typed again
        assert first_cancel.is_set()
        first_result = first.results()[0]
    second_result = generator.generate(PROMPT + " small", fixed_length(6), cancel=second_cancel)
    requests.finish("file:///a.py", second_cancel)
    assert first_result.cancelled
    assert len(first_result.candidates[0].token_ids) == 2
    assert not second_result.cancelled
    assert len(second_result.candidates[0].token_ids) == 6


def test_batch_of_requests_decodes_together(generator: GorillaGenerator) -> None:
    prompts = [PROMPT, "###USER: translate English to French###ASSISTANT: ", "###USER: hi###ASSISTANT: "]
    results = generator.generate_batch(prompts, fixed_length(7, num_candidates=2))
    assert len(results) == 3
    for prompt, result in zip(prompts, results, strict=True):
        assert result.prompt_tokens == generator.count_tokens(prompt)
        assert len(result.candidates) == 2
        assert all(len(c.token_ids) == 7 for c in result.candidates)


def test_cancelling_one_request_of_a_batch_spares_the_others(generator: GorillaGenerator) -> None:
    cancelled = threading.Event()
    cancelled.set()
    results = generator.generate_batch([PROMPT, PROMPT, PROMPT], fixed_length(9), [None, cancelled, None])
    assert [r.cancelled for r in results] == [False, True, False]
    assert results[1].candidates[0].token_ids == []
    assert len(results[0].candidates[0].token_ids) == 9
    assert len(results[2].candidates[0].token_ids) == 9


def test_stop_string_cuts_text_and_stops_decoding(generator: GorillaGenerator) -> None:
    baseline = generator.generate(PROMPT, fixed_length(40, strategy="greedy")).candidates[0]
    text = baseline.text
    # A stop string from the middle of the greedy answer (printable ASCII, first seen late).
    stop = next(
        (
            text[i : i + 3]
            for i in range(6, len(text) - 3)
            if text[i : i + 3].isascii() and text[i : i + 3].isprintable() and text.find(text[i : i + 3]) >= 6
        ),
        None,
    )
    assert stop is not None, f"no usable stop string in {text!r}"
    cut = text.find(stop)
    options = GenerationOptions(
        strategy="greedy", max_new_tokens=40, min_new_tokens=0, stop=StopPolicy(stop_strings=(stop,))
    )
    result = generator.generate(PROMPT, options).candidates[0]
    assert result.finish_reason == "stop_string"
    assert result.text == text[:cut]
    assert len(result.token_ids) < 40
    assert result.token_ids == baseline.token_ids[: len(result.token_ids)]


def test_end_token_ends_a_candidate(generator: GorillaGenerator, tiny_model) -> None:
    # Make the model's first greedy token an end token: decoding ends with no text.
    first = generator.generate(PROMPT, fixed_length(1, strategy="greedy")).candidates[0].token_ids[0]
    token = generator.tokenizer.convert_ids_to_tokens(first)
    options = GenerationOptions(strategy="greedy", max_new_tokens=20, stop=StopPolicy(end_tokens=(token,)))
    result = generator.generate(PROMPT, options).candidates[0]
    assert result.finish_reason == "end_token"
    assert result.token_ids == []
    assert result.text == ""


@pytest.mark.parametrize(
    "options",
    [
        GenerationOptions(strategy="greedy", num_candidates=2),
        GenerationOptions(temperature=0),
        GenerationOptions(max_new_tokens=0),
        GenerationOptions(max_new_tokens=4, min_new_tokens=5),
        GenerationOptions(strategy="beam", num_candidates=4, beam_size=2),
        GenerationOptions(strategy="nucleus"),  # type: ignore[arg-type]
    ],
)
def test_invalid_options_are_rejected(generator: GorillaGenerator, options: GenerationOptions) -> None:
    with pytest.raises(InvalidSettingError):
        generator.generate(PROMPT, options)


def test_beam_search_cannot_stream(generator: GorillaGenerator) -> None:
    with pytest.raises(InvalidSettingError, match="beam"):
        generator.stream(PROMPT, GenerationOptions(strategy="beam", num_candidates=2))


def test_prompt_builder_counts_with_the_generator(generator: GorillaGenerator) -> None:
    from engine.prompts import PromptBuilder

    built = PromptBuilder("gorilla-v0", generator.count_tokens, context_tokens=256, reserve_tokens=16).build(
        "classify dogs"
    )
    result = generator.generate(built.text, fixed_length(3))
    assert result.prompt_tokens == built.prompt_tokens
