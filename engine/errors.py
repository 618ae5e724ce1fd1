"""Exception types raised by the inference engine.

They live in one module so that callers (the language server, the CLI) can catch
engine failures without importing the heavy modules that raise them. Every message
names the path or setting at fault and what was expected instead.
"""

from __future__ import annotations


class EngineError(Exception):
    """Base class for every error raised by the `engine` package."""


class ModelLoadError(EngineError):
    """The model directory is missing, incomplete or unreadable."""

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message)
        self.path = path


class TokenizerLoadError(ModelLoadError):
    """The tokenizer next to the model is missing or cannot be loaded."""


class InvalidSettingError(EngineError, ValueError):
    """A setting has a value outside the allowed set; the message lists the valid ones."""

    def __init__(self, message: str, *, setting: str, value: object, valid: tuple[str, ...]) -> None:
        super().__init__(message)
        self.setting = setting
        self.value = value
        self.valid = valid


class DeviceUnavailableError(InvalidSettingError):
    """The requested device (e.g. CUDA) is not available on this machine."""


class UnsupportedComputeTypeError(InvalidSettingError):
    """The requested compute type is not supported on the chosen device."""


class EngineOutOfMemoryError(EngineError, MemoryError):
    """The device ran out of memory while loading the model or generating."""

    def __init__(self, message: str, *, device: str, compute_type: str, path: str) -> None:
        super().__init__(message)
        self.device = device
        self.compute_type = compute_type
        self.path = path


class GenerationError(EngineError):
    """CTranslate2 failed while generating for another reason than memory."""


class PromptError(EngineError, ValueError):
    """The prompt cannot be built from the given request and documents."""


class PromptTooLongError(PromptError):
    """The request alone does not fit in the model's context budget."""

    def __init__(
        self,
        message: str,
        *,
        request_tokens: int,
        template_tokens: int,
        budget_tokens: int,
    ) -> None:
        super().__init__(message)
        self.request_tokens = request_tokens
        self.template_tokens = template_tokens
        self.budget_tokens = budget_tokens


class ConversionError(EngineError):
    """Converting a Hugging Face checkpoint to CTranslate2 failed."""


class ConversionDependencyError(ConversionError, ImportError):
    """The optional dependencies needed to convert (torch) are not installed."""
