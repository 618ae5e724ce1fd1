"""The `gorillaLsp` settings: typed, validated once, and applied field by field.

A client can send any JSON. Each field is validated on its own, so one bad value is reported (naming the setting and
what was expected) and keeps its previous value while the rest of the update still applies.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

SECTION = "gorillaLsp"

Device = Literal["auto", "cpu", "cuda"]
ComputeType = Literal[
    "auto", "default", "int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16", "float16", "bfloat16",
    "float32",
]
Severity = Literal["error", "warning", "information", "hint"]
Hallucinated = Literal["warn", "hide"]
UnverifiedSeverity = Literal["information", "hint", "off"]


class _Section(msgspec.Struct, frozen=True, rename="camel", forbid_unknown_fields=True):
    pass


class ModelSettings(_Section, frozen=True):
    path: str | None = None
    device: Device = "auto"
    compute_type: ComputeType = "auto"
    template: str = "gorilla-v0"


class RetrievalSettings(_Section, frozen=True):
    top_k: Annotated[int, msgspec.Meta(ge=1, le=50)] = 5
    hybrid: bool = True  # BM25 + the sentence encoder; False: BM25 alone (less memory)


class CompletionSettings(_Section, frozen=True):
    max_candidates: Annotated[int, msgspec.Meta(ge=1, le=20)] = 5
    hallucinated: Hallucinated = "warn"


class DiagnosticsSettings(_Section, frozen=True):
    enabled: bool = True
    severity: Severity = "warning"  # hallucinated calls
    unverified: UnverifiedSeverity = "information"  # ids no hub could confirm or deny: never a warning


class VerificationSettings(_Section, frozen=True):
    online: bool = True  # ask the hubs about ids the database lacks (only ids and hub URLs leave the machine)


class Settings(_Section, frozen=True):
    api_database: list[str] = []
    model: ModelSettings = ModelSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    completion: CompletionSettings = CompletionSettings()
    diagnostics: DiagnosticsSettings = DiagnosticsSettings()
    verification: VerificationSettings = VerificationSettings()


class SettingProblem(msgspec.Struct, frozen=True):
    """One rejected setting: its dotted name (as the user writes it) and why."""

    setting: str
    message: str

    def __str__(self) -> str:
        return f"setting `{self.setting}`: {self.message}"


def section_of(payload: Any) -> Any:
    """The `gorillaLsp` section of `initializationOptions` or `didChangeConfiguration` (or the bare dict)."""
    if isinstance(payload, dict) and SECTION in payload:
        return payload[SECTION]
    return payload


def apply_settings(current: Settings, payload: Any) -> tuple[Settings, list[SettingProblem]]:
    """`current` updated by `payload` (a partial settings dict); rejected fields keep their value."""
    problems: list[SettingProblem] = []
    payload = section_of(payload)
    if payload is None:
        return current, problems
    updated = _apply(current, payload, SECTION, problems)
    return updated, problems


def _apply(current: _Section, payload: Any, prefix: str, problems: list[SettingProblem]) -> Any:
    if not isinstance(payload, dict):
        problems.append(SettingProblem(prefix, f"expected an object, got {_json_type(payload)}"))
        return current
    fields = {f.encode_name: f for f in msgspec.structs.fields(type(current))}
    changes: dict[str, Any] = {}
    for key, value in payload.items():
        name = f"{prefix}.{key}"
        field = fields.get(key)
        if field is None:
            known = ", ".join(sorted(fields))
            problems.append(SettingProblem(name, f"unknown setting (expected one of: {known})"))
            continue
        old = getattr(current, field.name)
        if isinstance(old, _Section):
            changes[field.name] = type(old)() if value is None else _apply(old, value, name, problems)
            continue
        if value is None and field.type is not type(None) and not _nullable(field.type):
            changes[field.name] = field.default  # null: back to the default, as editors send for a cleared value
            continue
        try:
            changes[field.name] = msgspec.convert(value, field.type, strict=True)
        except msgspec.ValidationError as exc:
            problems.append(SettingProblem(name, f"{_describe(exc, field.type)}, got {_show(value)}"))
    return msgspec.structs.replace(current, **changes) if changes else current


def _nullable(tp: Any) -> bool:
    return type(None) in getattr(tp, "__args__", ())


def _describe(exc: msgspec.ValidationError, tp: Any) -> str:
    """msgspec's reason, said as what was expected (`Invalid enum value` lists the allowed values instead)."""
    choices = [a for a in getattr(tp, "__args__", ()) if isinstance(a, str)]
    if choices and getattr(tp, "__origin__", None) is Literal:
        return "expected one of " + ", ".join(f"'{c}'" for c in choices)
    text = str(exc).split(", got ")[0].split(" - at ")[0]
    return "expected" + text[len("Expected"):] if text.startswith("Expected") else text


def _show(value: Any) -> str:
    shown = msgspec.json.encode(value).decode(errors="replace") if _encodable(value) else repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def _encodable(value: Any) -> bool:
    try:
        msgspec.json.encode(value)
        return True
    except (TypeError, msgspec.EncodeError, UnicodeEncodeError):
        return False


def _json_type(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "a number",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)

