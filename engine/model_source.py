"""The model as the completion pipeline sees it: candidates for a request, and what to show about the engine.

One loading function for the CLI and the server, so both report the same errors for a bad model setting.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from engine.batcher import RequestBatcher
from engine.errors import EngineError, ModelLoadError
from engine.generator import GorillaGenerator
from engine.pipeline import EngineInfo


class ModelSource:
    """Adapts `GorillaGenerator` to the pipeline's `CandidateSource`; concurrent requests are batched."""

    def __init__(self, generator: GorillaGenerator) -> None:
        self.generator = generator
        self.batcher = RequestBatcher(generator)

    def info(self) -> EngineInfo:
        info = self.generator.info()
        return EngineInfo(backend="ctranslate2", device=info.device, compute_type=info.compute_type,
                          model=info.model_path)

    def candidates(
        self,
        request: str,
        documents: Sequence[Mapping[str, Any]],
        n: int,
        cancelled: Callable[[], bool] | None,
    ) -> list[str]:
        return self.batcher.candidates(request, documents, n, cancelled)

    def close(self) -> None:
        self.batcher.close()
        self.generator.close()


def load_model_source(path: str, device: str = "auto", compute_type: str = "auto",
                      template: str = "gorilla-v0") -> ModelSource:
    """Load a converted model; every failure is a `ModelLoadError` whose message names the path or setting."""
    try:
        return ModelSource(GorillaGenerator(path, device=device, compute_type=compute_type, template=template))
    except ModelLoadError:
        raise
    except (EngineError, ValueError) as exc:
        raise ModelLoadError(f"cannot use the model in {path}: {exc}", path=path) from exc
