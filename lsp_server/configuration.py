"""Settings from the client: `initializationOptions`, `workspace/didChangeConfiguration` and `workspace/configuration`.

Rejected values are shown to the user (what was wrong, what was expected) and keep their previous value; the
accepted ones take effect at once (database reload, model load, diagnostics refresh).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from lsp_server.settings import SECTION, Settings, SettingProblem, apply_settings

if TYPE_CHECKING:
    from lsp_server.server import GorillaLanguageServer

log = logging.getLogger("gorilla_lsp.configuration")


def parse(current: Settings, payload: Any) -> tuple[Settings, list[SettingProblem]]:
    settings, problems = apply_settings(current, payload)
    for problem in problems:
        log.warning("%s", problem)
    return settings, problems


async def did_change_configuration(ls: GorillaLanguageServer, params: types.DidChangeConfigurationParams) -> None:
    payload = params.settings
    if isinstance(payload, dict) and SECTION not in payload and ls.supports("workspace.configuration"):
        payload = None  # another section's change, or a bare "something changed": ask for ours
    if not payload and ls.supports("workspace.configuration"):
        try:
            result = await ls.workspace_configuration_async(
                types.ConfigurationParams(items=[types.ConfigurationItem(section=SECTION)])
            )
            payload = result[0] if result else None
        except Exception as exc:
            log.warning("workspace/configuration failed: %s", exc)
            return
    if payload is None:
        return
    await apply(ls, payload)


async def apply(ls: GorillaLanguageServer, payload: Any) -> None:
    """Apply a settings payload and act on what changed."""
    from lsp_server import diagnostics, lifecycle, model

    old = ls.settings
    ls.settings, problems = parse(old, payload)
    for problem in problems:
        ls.show(f"{problem}; keeping the previous value")
    new = ls.settings
    if new.api_database != old.api_database:
        await lifecycle.reload_database(ls, reason="apiDatabase setting changed")
    if new.model != old.model:
        ls.spawn(model.configure(ls))
    if new.retrieval.hybrid != old.retrieval.hybrid:
        await lifecycle.set_hybrid(ls, new.retrieval.hybrid)
    if new.verification != old.verification:
        ls.verification.invalidate(ls)  # judged with the other setting: judge again
    if new.diagnostics != old.diagnostics or new.verification != old.verification:
        diagnostics.refresh_all(ls)
