"""The tokenizer a GGUF file describes, rebuilt as ``tokenizer.json`` + ``tokenizer_config.json``.

Why: a GGUF carries no ``tokenizer.json``, only llama.cpp's metadata (``tokenizer.ggml.*``): the tokens in id order,
their types, BPE merges or SentencePiece scores, the special token ids and the chat template. The engine loads its
tokenizer with `transformers.AutoTokenizer`, so the converter writes the files that class reads, built with the
`tokenizers` library (no torch, no sentencepiece package):

* ``tokenizer.ggml.model == "gpt2"``: byte-level BPE. The text is split the way the vocabulary's merges were learned,
  which the file names in ``tokenizer.ggml.pre`` (the regular expressions llama.cpp's ``llama-vocab.cpp`` uses for
  that name); a file without the key gets GPT-2's split, as in llama.cpp.
* ``tokenizer.ggml.model == "llama"``: a SentencePiece BPE vocabulary (Llama 1/2, Mistral, CodeLlama): merges
  recovered from the token scores, ``▁`` for spaces, byte fallback (``<0x0A>``) for characters outside it.

Tokens the file marks as control (type 3) or user-defined (type 4) become added tokens, so they are matched whole.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from engine.gguf_model import GGUFError, GGUFModel

logger = logging.getLogger(__name__)

SUPPORTED_TOKENIZERS: tuple[str, ...] = ("gpt2", "llama")

_GPT2_SPLIT = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)"
_LLAMA3_SPLIT = (r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
                 r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
_QWEN2_SPLIT = _LLAMA3_SPLIT.replace(r"\p{N}{1,3}", r"\p{N}")

PRE_TOKENIZER_SPLITS: dict[str, tuple[str, ...]] = {
    "default": (_GPT2_SPLIT,),
    "gpt2": (_GPT2_SPLIT,),
    "mpt": (_GPT2_SPLIT,),
    "olmo": (_GPT2_SPLIT,),
    "jais": (_GPT2_SPLIT,),
    "starcoder": (r"\p{N}", _GPT2_SPLIT),
    "refact": (r"\p{N}", _GPT2_SPLIT),
    "command-r": (r"\p{N}", _GPT2_SPLIT),
    "smollm": (r"\p{N}", _GPT2_SPLIT),
    "codeshell": (r"\p{N}", _GPT2_SPLIT),
    "exaone": (r"\p{N}", _GPT2_SPLIT),
    "llama3": (_LLAMA3_SPLIT,),
    "llama-v3": (_LLAMA3_SPLIT,),
    "llama-bpe": (_LLAMA3_SPLIT,),
    "falcon3": (_LLAMA3_SPLIT,),
    "dbrx": (_LLAMA3_SPLIT,),
    "smaug-bpe": (_LLAMA3_SPLIT,),
    "qwen2": (_QWEN2_SPLIT,),
    "deepseek-r1-qwen": (_QWEN2_SPLIT,),
    "deepseek-coder": (r"[\r\n]", r"\s?\p{L}+", r"\s?\p{P}+", "[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+", r"\p{N}"),
}
"""``tokenizer.ggml.pre`` -> the split expressions, applied in turn (each piece is split again by the next)."""

_CONTROL, _USER_DEFINED = 3, 4


class TokenizerFiles:
    """What `build_tokenizer` made: the `tokenizers.Tokenizer` and the ``tokenizer_config.json`` contents."""

    def __init__(self, tokenizer: Any, config: dict[str, Any]) -> None:
        self.tokenizer = tokenizer
        self.config = config

    def vocabulary(self, size: int) -> list[str]:
        """Token strings in id order, padded to the model's ``size`` rows (CTranslate2's vocabulary)."""
        count = self.tokenizer.get_vocab_size(with_added_tokens=True)
        tokens = [self.tokenizer.id_to_token(i) for i in range(count)]
        tokens = [t if t is not None else f"<unused_{i}>" for i, t in enumerate(tokens)]
        if len(tokens) > size:
            raise GGUFError(f"the tokenizer has {len(tokens)} tokens but the model only {size} embedding rows",
                            path="")
        return tokens + [f"<extra_id_{i}>" for i in range(size - len(tokens))]

    def save(self, out_dir: str | Path) -> None:
        out = Path(out_dir)
        self.tokenizer.save(str(out / "tokenizer.json"))
        (out / "tokenizer_config.json").write_text(json.dumps(self.config, indent=2, ensure_ascii=False) + "\n",
                                                   encoding="utf-8")


def _unique(tokens: list[str]) -> list[str]:
    """Token strings made unique (a vocabulary maps strings to ids); later duplicates get a placeholder."""
    seen: set[str] = set()
    out = []
    for i, token in enumerate(tokens):
        if token in seen:
            logger.warning("token %d %r repeats an earlier token; renamed <dup_%d>", i, token, i)
            token = f"<dup_{i}>"
        seen.add(token)
        out.append(token)
    return out


def _sentencepiece_merges(tokens: list[str], scores: list[float]) -> list[tuple[str, str]]:
    """BPE merges implied by a SentencePiece vocabulary: every split of a token into two tokens, best score first."""
    ids = {t: i for i, t in enumerate(tokens)}
    merges: list[tuple[float, int, int, str, str]] = []
    for token, score in zip(tokens, scores, strict=True):
        for cut in range(1, len(token)):
            left, right = token[:cut], token[cut:]
            if left in ids and right in ids:
                merges.append((-score, ids[left], ids[right], left, right))
    merges.sort()
    return [(left, right) for _, _, _, left, right in merges]


def build_tokenizer(model: GGUFModel) -> TokenizerFiles:
    """The `tokenizers.Tokenizer` and tokenizer config the GGUF file describes; `GGUFError` when it cannot."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, Regex

    kind = model.get("tokenizer.ggml.model")
    if kind not in SUPPORTED_TOKENIZERS:
        raise GGUFError(f"{model.path}: tokenizer type {kind!r} (tokenizer.ggml.model) is not supported; "
                        f"supported: {', '.join(SUPPORTED_TOKENIZERS)}", path=str(model.path))
    raw_tokens = model.require("tokenizer.ggml.tokens")
    tokens = _unique([str(t) for t in raw_tokens])
    types = list(model.get("tokenizer.ggml.token_type", [1] * len(tokens)))

    def token_of(key: str) -> str | None:
        index = model.get(f"tokenizer.ggml.{key}")
        return tokens[int(index)] if index is not None and 0 <= int(index) < len(tokens) else None

    bos, eos, unk, pad = (token_of(k) for k in ("bos_token_id", "eos_token_id", "unknown_token_id",
                                                "padding_token_id"))
    vocab = {t: i for i, t in enumerate(tokens)}
    if kind == "gpt2":
        pre = str(model.get("tokenizer.ggml.pre", "default"))
        splits = PRE_TOKENIZER_SPLITS.get(pre)
        if splits is None:
            raise GGUFError(f"{model.path}: pre-tokenizer {pre!r} (tokenizer.ggml.pre) is not supported; supported: "
                            f"{', '.join(sorted(PRE_TOKENIZER_SPLITS))}", path=str(model.path))
        merges = [tuple(m.split(" ", 1)) for m in model.require("tokenizer.ggml.merges")]
        tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=merges, ignore_merges=pre in ("llama3", "llama-bpe",
                                                                                            "llama-v3")))
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.Split(Regex(s), behavior="isolated") for s in splits]
            + [pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
        tokenizer.decoder = decoders.ByteLevel()
        add_bos_default = False
    else:
        scores = [float(s) for s in model.get("tokenizer.ggml.scores", [0.0] * len(tokens))]
        merges = _sentencepiece_merges(tokens, scores)
        tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token=unk, fuse_unk=True,
                                         byte_fallback=True))
        steps = [normalizers.Replace(" ", "\u2581")]
        if model.get("tokenizer.ggml.add_space_prefix", True):
            steps.insert(0, normalizers.Prepend("\u2581"))
        tokenizer.normalizer = normalizers.Sequence(steps)
        strip = [decoders.Strip(" ", 1, 0)] if model.get("tokenizer.ggml.add_space_prefix", True) else []
        tokenizer.decoder = decoders.Sequence(
            [decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse(), *strip])
        add_bos_default = True  # llama.cpp adds BOS to a SentencePiece vocabulary that does not say otherwise

    special = [AddedToken(t, special=True, normalized=False) for t, k in zip(tokens, types, strict=False)
               if k == _CONTROL]
    user = [AddedToken(t, special=False, normalized=False) for t, k in zip(tokens, types, strict=False)
            if k == _USER_DEFINED]
    for name in (bos, eos, unk, pad):
        if name is not None and all(a.content != name for a in special):
            special.append(AddedToken(name, special=True, normalized=False))
    tokenizer.add_special_tokens(special)
    tokenizer.add_tokens(user)

    add_bos = bool(model.get("tokenizer.ggml.add_bos_token", add_bos_default)) and bos is not None
    add_eos = bool(model.get("tokenizer.ggml.add_eos_token", False)) and eos is not None
    if add_bos or add_eos:
        single = " ".join(([f"{bos}:0"] if add_bos else []) + ["$A:0"] + ([f"{eos}:0"] if add_eos else []))
        pair = single + " " + single.replace("$A:0", "$B:1").replace(":0", ":1")
        ids = [(t, vocab[t]) for t, on in ((bos, add_bos), (eos, add_eos)) if on and t is not None]
        tokenizer.post_processor = processors.TemplateProcessing(single=single, pair=pair, special_tokens=ids)

    config: dict[str, Any] = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": model.config.context_length,
        "clean_up_tokenization_spaces": False,
        "add_bos_token": add_bos,
        "add_eos_token": add_eos,
        "bos_token": bos,
        "eos_token": eos,
        "unk_token": unk,
        "pad_token": pad,
    }
    template = model.get("tokenizer.chat_template")
    if template:
        config["chat_template"] = str(template)
    return TokenizerFiles(tokenizer, {k: v for k, v in config.items() if v is not None})
