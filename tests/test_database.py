from __future__ import annotations

import shutil
import time
from pathlib import Path

from index.api_index import ApiIndex
from index.database import ApiDatabase, default_database_paths
from tests.conftest import API_DIR


def test_records_with_the_same_call_are_merged(api_index: ApiIndex) -> None:
    db = api_index.db
    assert len(db.records) == 1726
    tf = [a for a in db.apis if a.hub == "tensorflowhub"]
    # 696 TF Hub records hold 80 distinct call strings; identities also ignore quote styles and optional args.
    assert 60 <= len(tf) <= 80
    use = next(a for a in tf if a.api_call == "hub.load('https://tfhub.dev/google/universal-sentence-encoder/4')")
    assert len(use.also_at) >= 200
    assert len(db.record_api) == len(db.records)


def test_loaders_are_derived_from_the_records(api_index: ApiIndex) -> None:
    db = api_index.db
    for callee in ("torch.hub.load", "hub.load", "hub.KerasLayer", "pipeline", "SentenceTransformer",
                   "AutoModel.from_pretrained", "AnyClassAtAll.from_pretrained"):
        assert db.is_loader(callee), callee
    for callee in ("json.load", "joblib.load", "np.load", "print", "open"):
        assert not db.is_loader(callee), callee


def test_reload_follows_file_changes(tmp_path: Path, parser) -> None:
    target = tmp_path / "torchhub_api.jsonl"
    shutil.copyfile(API_DIR / "torchhub_api.jsonl", target)
    db = ApiDatabase.load([tmp_path], parser)
    assert db.reload_if_changed() is None
    time.sleep(0.01)
    with target.open("a") as f:
        f.write('{"api_call": "torch.hub.load(repo_or_dir=\'me/new\', model=\'fresh\')", "domain": "New"}\n')
    fresh = db.reload_if_changed()
    assert fresh is not None and len(fresh.records) == len(db.records) + 1
    assert fresh.apis[-1].domain == "New"


def test_database_resolution_order(tmp_path: Path) -> None:
    assert default_database_paths(["a", "b"], {"GORILLA_LSP_API_DB": "c"}) == [Path("a"), Path("b")]
    assert default_database_paths(None, {"GORILLA_LSP_API_DB": f"c{__import__('os').pathsep}d"}) == [Path("c"), Path("d")]
    fallback = default_database_paths(None, {})
    assert fallback[0].name == "api" and "gorilla-lsp" in str(fallback[0])
