"""Prompt templates and the context budget (documentation shortened, request never)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from transformers import AutoTokenizer

from engine.errors import InvalidSettingError, PromptError, PromptTooLongError
from engine.prompts import (
    CHAT_INSTRUCTION,
    OPENFUNCTIONS_SYSTEM,
    RETRIEVAL_PREFIX,
    TEMPLATES,
    PromptBuilder,
    build_prompt,
    get_template,
    record_to_function,
    render,
)

REQUEST = "I need an API that classifies images of animals with a small model."


def chatml(messages: list[dict[str, str]]) -> str:
    """A ChatML chat template (SmolLM2's, Qwen's), written out by hand."""
    turns = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return turns + "<|im_start|>assistant\n"


@pytest.fixture(scope="module")
def count(tiny_model) -> Callable[[str], int]:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model.path)
    return lambda text: len(tokenizer(text).input_ids)


@pytest.fixture(scope="module")
def long_record(apibench_records: list[dict]) -> dict:
    return max(apibench_records, key=lambda r: len(json.dumps(r)))


@pytest.fixture(scope="module")
def torchhub_record(apibench_records: list[dict]) -> dict:
    return next(r for r in apibench_records if r["api_call"].startswith("torch.hub.load"))


def test_gorilla_zero_shot_format() -> None:
    assert render("gorilla-v0", "load resnet") == "###USER: load resnet###ASSISTANT: "


def test_gorilla_retrieval_format(torchhub_record: dict) -> None:
    expected = (
        "###USER: load resnet\nUse this API documentation for reference: "
        + json.dumps(torchhub_record)
        + "###ASSISTANT: "
    )
    assert render("gorilla-v0", "load resnet", [torchhub_record]) == expected


def test_openfunctions_v2_format(torchhub_record: dict) -> None:
    functions = [record_to_function(torchhub_record)]
    assert render("gorilla-openfunctions", "load resnet", [torchhub_record]) == (
        f"{OPENFUNCTIONS_SYSTEM}\n### Instruction: <<function>>{json.dumps(functions)}\n"
        "<<question>>load resnet\n### Response: "
    )
    assert render("gorilla-openfunctions", "load resnet") == (
        f"{OPENFUNCTIONS_SYSTEM}\n### Instruction: <<question>> load resnet\n### Response: "
    )


def test_openfunctions_v1_format(torchhub_record: dict) -> None:
    functions = json.dumps([record_to_function(torchhub_record)])
    assert (
        render("gorilla-openfunctions-v1", "q", [torchhub_record])
        == f"USER: <<question>> q <<function>> {functions}\nASSISTANT: "
    )
    assert render("gorilla-openfunctions-v1", "q") == "USER: <<question>> q\nASSISTANT: "


def test_record_to_function_names_the_callee(torchhub_record: dict) -> None:
    function = record_to_function(torchhub_record)
    assert function["name"] == "torch.hub.load"
    assert torchhub_record["api_call"] in function["description"]
    assert set(function["parameters"]["properties"]) == set(torchhub_record["api_arguments"])
    native = {"name": "f", "description": "d", "parameters": {"type": "object", "properties": {}}}
    assert record_to_function(native) == native


def test_unknown_template_lists_valid_names() -> None:
    with pytest.raises(InvalidSettingError) as info:
        get_template("gorilla-v9")
    for name in TEMPLATES:
        assert name in str(info.value)


def test_full_documentation_when_it_fits(count, torchhub_record: dict) -> None:
    built = build_prompt(REQUEST, [torchhub_record], count_tokens=count, context_tokens=100_000, reserve_tokens=0)
    assert built.text == render("gorilla-v0", REQUEST, [torchhub_record])
    assert not built.shortened
    assert built.prompt_tokens == count(built.text)


def test_documentation_is_shortened_least_important_first(count, long_record: dict) -> None:
    full = count(render("gorilla-v0", REQUEST, [long_record]))
    built = build_prompt(REQUEST, [long_record], count_tokens=count, context_tokens=full - 1, reserve_tokens=0)
    assert built.prompt_tokens <= full - 1
    assert built.documents_used == 1
    assert built.shortened
    assert "performance" in built.dropped_fields
    assert "api_call" not in built.dropped_fields and "api_name" not in built.dropped_fields
    assert long_record["api_call"] in built.text


def test_request_is_never_shortened(count, long_record: dict) -> None:
    full = count(render("gorilla-v0", REQUEST, [long_record]))
    bare = count(render("gorilla-v0", REQUEST))
    previous = 0
    for budget in range(bare, full + 50, max((full - bare) // 25, 1)):
        built = build_prompt(REQUEST, [long_record], count_tokens=count, context_tokens=budget + 64, reserve_tokens=64)
        assert built.text.startswith(f"###USER: {REQUEST}")
        assert built.text.endswith("###ASSISTANT: ")
        assert built.prompt_tokens <= budget
        assert built.prompt_tokens == count(built.text)
        assert built.prompt_tokens >= previous  # more room never means less documentation
        previous = built.prompt_tokens


def test_description_is_truncated_before_arguments_are_dropped(count) -> None:
    record = {
        "domain": "Classification",
        "api_name": "resnet50",
        "api_call": "torch.hub.load(repo_or_dir='pytorch/vision', model='resnet50', pretrained=True)",
        "api_arguments": {"repo_or_dir": "pytorch/vision", "model": "resnet50", "pretrained": "True"},
        "performance": {"dataset": "ImageNet", "accuracy": {"top_1": 76.13}},
        "description": "ResNet-50 is a residual network. " * 40,
    }
    without_description = count(render("gorilla-v0", REQUEST, [{**record, "description": "x" * 60}]))
    built = build_prompt(
        REQUEST, [record], count_tokens=count, context_tokens=without_description + 40, reserve_tokens=0
    )
    assert built.truncated_fields == ("description",)
    assert "api_arguments" not in built.dropped_fields
    assert "..." in built.text
    assert "'pytorch/vision'" in built.text


def test_documentation_dropped_when_nothing_fits(count, long_record: dict) -> None:
    bare = count(render("gorilla-v0", REQUEST))
    built = build_prompt(REQUEST, [long_record], count_tokens=count, context_tokens=bare + 3, reserve_tokens=0)
    assert built.text == render("gorilla-v0", REQUEST)
    assert built.documents_used == 0
    assert built.documents_given == 1
    assert built.shortened


def test_too_long_request_is_an_error_with_token_counts(count) -> None:
    request = "please find a model " * 200
    with pytest.raises(PromptTooLongError) as info:
        build_prompt(request, [], count_tokens=count, context_tokens=512, reserve_tokens=128)
    error = info.value
    assert error.budget_tokens == 384
    assert error.request_tokens > 384
    assert str(error.request_tokens) in str(error)
    assert "384" in str(error)


def test_empty_request_is_an_error(count) -> None:
    with pytest.raises(PromptError, match="empty"):
        build_prompt("   ", [], count_tokens=count)


def test_gorilla_template_takes_one_record(count, apibench_records: list[dict]) -> None:
    built = build_prompt(REQUEST, apibench_records[:3], count_tokens=count, context_tokens=100_000, reserve_tokens=0)
    assert built.documents_given == 3
    assert built.documents_used == 1
    assert built.text == render("gorilla-v0", REQUEST, apibench_records[:1])


def test_openfunctions_drops_trailing_records_to_fit(count, apibench_records: list[dict]) -> None:
    records = apibench_records[:6]
    two = count(render("gorilla-openfunctions", REQUEST, records[:2]))
    built = build_prompt(
        REQUEST, records, template="gorilla-openfunctions", count_tokens=count, context_tokens=two, reserve_tokens=0
    )
    assert built.prompt_tokens <= two
    assert 2 <= built.documents_used < 6
    assert f"<<question>>{REQUEST}" in built.text


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_every_apibench_record_fits_a_small_budget(count, apibench_records: list[dict], template: str) -> None:
    builder = PromptBuilder(template, count, context_tokens=640, reserve_tokens=128,
                            chat=chatml if template == "chat" else None)
    for record in apibench_records[::7]:  # messy data: lists, nulls, nested objects
        built = builder.build(REQUEST, [record])
        assert built.prompt_tokens <= 512
        assert REQUEST in built.text


def test_bad_budget_settings(count) -> None:
    with pytest.raises(InvalidSettingError):
        PromptBuilder("gorilla-v0", count, context_tokens=100, reserve_tokens=100)


def test_chat_preset_puts_request_documents_and_instruction_in_one_user_turn(torchhub_record: dict) -> None:
    seen: list[list[dict[str, str]]] = []

    def template(messages: list[dict[str, str]]) -> str:
        seen.append(messages)
        return chatml(messages)

    text = render("chat", REQUEST, [torchhub_record], chat=template)
    assert [m["role"] for m in seen[0]] == ["user"]  # no system turn: some templates refuse one
    content = seen[0][0]["content"]
    assert content.startswith(REQUEST + RETRIEVAL_PREFIX)
    assert json.loads(content[len(REQUEST + RETRIEVAL_PREFIX):-len(CHAT_INSTRUCTION)]) == torchhub_record
    assert content.endswith(CHAT_INSTRUCTION) and "<<<api_call>>>" in CHAT_INSTRUCTION
    assert text == chatml(seen[0]) and text.endswith("<|im_start|>assistant\n")
    bare = render("chat", REQUEST, chat=chatml)
    assert RETRIEVAL_PREFIX not in bare and CHAT_INSTRUCTION in bare


def test_chat_preset_needs_the_model_chat_template() -> None:
    with pytest.raises(PromptError, match="chat template"):
        render("chat", REQUEST)
    assert get_template("chat").stop.call_marker == "<<<api_call>>>"


def test_chat_preset_is_shortened_inside_the_template(count, long_record: dict) -> None:
    full = count(render("chat", REQUEST, [long_record], chat=chatml))
    built = build_prompt(REQUEST, [long_record], template="chat", count_tokens=count, context_tokens=full - 1,
                         reserve_tokens=0, chat=chatml)
    assert built.prompt_tokens <= full - 1 and built.shortened and built.documents_used == 1
    assert built.text.startswith("<|im_start|>user\n" + REQUEST) and built.text.endswith("<|im_start|>assistant\n")
