"""Tokenizers rebuilt from GGUF metadata: byte-level BPE and SentencePiece vocabularies, specials, chat template."""

from __future__ import annotations

from pathlib import Path

import pytest
from transformers import AutoTokenizer

from engine.gguf_model import GGUFModel
from engine.gguf_tokenizer import build_tokenizer
from tests.engine.gguf_files import CHATML, TinyGeometry, byte_level_vocabulary, write_tiny_gguf

TEXTS = [
    "The capital of France is Paris.",
    "model = torch.hub.load('pytorch/vision', 'resnet50', pretrained=True)\n",
    "  two  spaces\tand a tab\n\n\nthree newlines",
    "café naïve résumé, 日本語のテキスト, emoji 😀👍 and 12345 digits",
    "",
]


@pytest.fixture(scope="module")
def byte_level(tmp_path_factory: pytest.TempPathFactory):
    tokens, merges, original = byte_level_vocabulary()
    path = tmp_path_factory.mktemp("gguf") / "bpe.gguf"
    write_tiny_gguf(path, TinyGeometry(layers=1), tokens=tokens, merges=merges)
    files = build_tokenizer(GGUFModel(path))
    out = path.parent / "tokenizer"
    out.mkdir()
    files.save(out)
    return original, files, out


def test_byte_level_bpe_encodes_as_the_original(byte_level) -> None:
    original, files, _ = byte_level
    for text in TEXTS:
        assert files.tokenizer.encode(text).ids == original.encode(text).ids, text
        assert files.tokenizer.decode(files.tokenizer.encode(text).ids) == text


def test_autotokenizer_loads_it_with_specials_and_chat_template(byte_level) -> None:
    _, files, out = byte_level
    tokenizer = AutoTokenizer.from_pretrained(str(out), local_files_only=True)
    assert (tokenizer.bos_token, tokenizer.eos_token, tokenizer.unk_token) == ("<|im_start|>", "<|im_end|>",
                                                                               "<|endoftext|>")
    ids = tokenizer("<|im_start|>user\nhi<|im_end|>").input_ids
    assert ids[0] == 1 and ids[-1] == 2  # matched whole, never split into characters
    assert tokenizer.decode(ids, skip_special_tokens=True) == "user\nhi"
    assert tokenizer("hi").input_ids[0] != 1  # add_bos_token false, as the file says
    chat = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False,
                                         add_generation_prompt=True)
    assert chat == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert files.config["chat_template"] == CHATML
    assert files.vocabulary(len(tokenizer) + 3)[-3:] == ["<extra_id_0>", "<extra_id_1>", "<extra_id_2>"]


def test_pre_tokenizer_follows_the_file(tmp_path: Path) -> None:
    tokens, merges, _ = byte_level_vocabulary(corpus=["12345 1 22 333 digits and words"] * 5)
    results = {}
    for pre in ("gpt2", "smollm", "llama3", "qwen2", "deepseek-coder"):
        path = tmp_path / f"{pre}.gguf"
        write_tiny_gguf(path, TinyGeometry(layers=1), tokens=tokens, merges=merges, pre=pre)
        tokenizer = build_tokenizer(GGUFModel(path)).tokenizer
        results[pre] = [piece for piece, _ in tokenizer.pre_tokenizer.pre_tokenize_str("12345 ab")]
        assert tokenizer.decode(tokenizer.encode(TEXTS[3]).ids) == TEXTS[3]
    assert results["gpt2"] == ["12345", "Ġab"]
    assert results["smollm"] == ["1", "2", "3", "4", "5", "Ġab"] == results["qwen2"]
    assert results["llama3"] == ["123", "45", "Ġab"]
    assert results["deepseek-coder"] == ["1", "2", "3", "4", "5", "Ġab"]
    path = tmp_path / "none.gguf"
    write_tiny_gguf(path, TinyGeometry(layers=1), tokens=tokens, merges=merges, pre=None)  # llama.cpp: GPT-2's
    pieces = build_tokenizer(GGUFModel(path)).tokenizer.pre_tokenizer.pre_tokenize_str("12345 ab")
    assert [piece for piece, _ in pieces] == results["gpt2"]


def sentencepiece_vocabulary() -> tuple[list[str], list[float], list[int]]:
    """A small Llama-style vocabulary: unk, BOS, EOS, the 256 byte tokens, pieces with scores."""
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [2, 3, 3] + [6] * 256
    pieces = ["\u2581", "t", "h", "e", "c", "a", "s", "\u2581t", "he", "\u2581the", "\u2581c", "at", "\u2581cat",
              "\u2581s", "\u2581sat", "\u2581a"]
    scores = [0.0] * len(tokens) + [-float(i) for i in range(len(pieces))]
    scores[len(tokens) + pieces.index("\u2581the")] = -1.5  # merge order comes from scores, not position
    return tokens + pieces, scores, types + [1] * len(pieces)


def test_sentencepiece_vocabulary_with_byte_fallback(tmp_path: Path) -> None:
    tokens, scores, types = sentencepiece_vocabulary()
    path = tmp_path / "spm.gguf"
    write_tiny_gguf(path, TinyGeometry(layers=1), tokens=tokens, merges=None, pre=None, token_types=types,
                    extra={"tokenizer.ggml.model": "llama", "tokenizer.ggml.scores": scores,
                           "tokenizer.ggml.add_bos_token": True, "tokenizer.ggml.bos_token_id": 1,
                           "tokenizer.ggml.eos_token_id": 2})
    files = build_tokenizer(GGUFModel(path))
    files.save(tmp_path)
    tokenizer = AutoTokenizer.from_pretrained(str(tmp_path), local_files_only=True)
    encoded = tokenizer("the cat sat é")
    assert tokenizer.convert_ids_to_tokens(encoded.input_ids) == [
        "<s>", "\u2581the", "\u2581cat", "\u2581sat", "\u2581", "<0xC3>", "<0xA9>"]
    assert tokenizer.decode(encoded.input_ids, skip_special_tokens=True) == "the cat sat é"
    assert files.vocabulary(len(tokens)) == tokens
