"""Real public code (54 files, tests/data/corpus): a warning means the id does not exist, online and offline."""

from __future__ import annotations

from pathlib import Path

from index.hubs import HubSettings, HubVerifier
from index.hubs.cache import AnswerCache
from tests.corpus import figures, judge, load_manifest
from tests.hubs.standin import StandIn


def verifier_for(tmp_path: Path, env: dict[str, str], online: bool = True) -> HubVerifier:
    settings = HubSettings.from_environ({"HOME": str(tmp_path), **env}, online=online)
    return HubVerifier(settings, AnswerCache.in_dir(tmp_path / "cache"))


def test_the_corpus_is_real_code_with_provenance() -> None:
    files = load_manifest()
    assert len(files) >= 40 and len({(f["repository"], f["path"]) for f in files}) == len(files)
    assert all(len(f["commit"]) == 40 and f["calls"] for f in files)


def test_online_every_verdict_as_expected(api_index, hub_standin: StandIn, tmp_path: Path) -> None:
    rows = judge(api_index, verifier_for(tmp_path, hub_standin.environ()), tmp_path)
    wrong = [r for r in rows if r["got"] != r["expect"]]
    assert not wrong, wrong
    counts = figures(rows)
    assert counts["false alarms"] == 0 and counts["exists"] > 0 and counts["known"] > 0


def test_offline_no_warning_on_real_code(api_index, tmp_path: Path) -> None:
    rows = judge(api_index, verifier_for(tmp_path, {"GORILLA_LSP_OFFLINE": "1"}), tmp_path, offline=True)
    wrong = [r for r in rows if r["got"] != r["expect"]]
    assert not wrong, wrong
    assert figures(rows)["hallucinated"] == 0
