"""Hub verification: the real-code corpus's figures, and `gorilla-lsp check` at scale against the stand-in hubs.

    python benchmarks/verification.py            # both tables (about a minute)
    python benchmarks/verification.py --files 200 --latency-ms 50

1. The corpus (tests/data/corpus, 54 public files): verdicts with the database alone (what `check` said before hub
   verification), online (the stand-in hubs), offline; false alarms = warnings on real models.
2. `check` over N files holding 3N distinct ids (HF repos, TF Hub handles, TorchHub entrypoints, a quarter of them
   invented) against the stand-in on 127.0.0.1 with added latency per request: a cold answers cache, then a warm one.
   The warm run must send no request. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
API_DIR = REPO.parent / "shared" / "apibench" / "api"

from tests.hubs.standin import Fixtures, StandIn  # noqa: E402


def corpus_table(standin: StandIn) -> list[str]:
    from index.api_index import ApiIndex
    from index.hubs import HubSettings, HubVerifier
    from index.hubs.cache import AnswerCache
    from tests.corpus import STATUSES, figures, judge, load_manifest, write_corpus

    index = ApiIndex.load([API_DIR])
    rows = ["| corpus (54 files) | calls | known | exists | hallucinated | unverified | not judged | false alarms |",
            "|---|---|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        # before: the database alone (the check as it was: every id the database lacks is "hallucinated")
        before = Counter()
        real_flagged = 0
        (folder / "before").mkdir()
        files = write_corpus(folder / "before")
        for (path, spans), entry in zip(files, load_manifest()):
            findings = list(index.checker.findings(path.read_bytes()))
            for first, last, expect in spans:
                got = next((f.verdict.status for f in findings if first <= f.call.start[0] <= last), "none")
                before[got] += 1
                real_flagged += got == "hallucinated" and expect != "hallucinated"
        rows.append(f"| database only (before) | {sum(before.values())} | {before['known']} | - | "
                    f"{before['hallucinated']} | - | {before['none']} | {real_flagged} |")
        for label, env, offline in (("online (stand-in hubs)", standin.environ(), False),
                                    ("offline", {"GORILLA_LSP_OFFLINE": "1"}, True)):
            home = folder / label.split()[0]
            home.mkdir()
            verifier = HubVerifier(HubSettings.from_environ({"HOME": str(home), **env}),
                                   AnswerCache.in_dir(home / "cache"))
            f = figures(judge(index, verifier, home, offline=offline))
            rows.append(f"| {label} | {f['calls']} | " + " | ".join(str(f[s]) for s in STATUSES[:4])
                        + f" | {f['none']} | {f['false alarms']} |")
    return rows


def scale_fixture(folder: Path, n_files: int) -> tuple[Path, list[str]]:
    """A stand-in fixture and N files with 3N distinct ids: 2 per file on Hugging Face or TF Hub, 1 TorchHub entry."""
    repos = max(1, n_files // 20)
    torchhub = {}
    for r in range(repos):
        hubconf = folder / "hubconfs" / f"hub{r}.py"
        hubconf.parent.mkdir(parents=True, exist_ok=True)
        hubconf.write_text("".join(f"def m{e}(pretrained=False):\n    pass\n\n\n" for e in range(15)))
        torchhub[f"bench-org/hub-{r}"] = {"main": str(hubconf.relative_to(folder))}
    fixture = {"huggingface_patterns": [["bench-org/real-.*", "exists"]], "torchhub": torchhub,
               "url_patterns": [["tfhub/bench-org/real-.*", "exists"]]}
    (folder / "fixtures.json").write_text(json.dumps(fixture))
    sources = []
    for i in range(n_files):
        kind = "real" if i % 4 else "fake"  # a quarter of the ids are invented
        entry = f"m{i % 20}"  # entries m15..m19 are not in any hubconf.py
        sources.append(
            "import torch\nimport tensorflow_hub as hub\nfrom transformers import AutoModel\n\n"
            f"a = AutoModel.from_pretrained('bench-org/{kind}-hf-{i}')\n"
            f"b = hub.KerasLayer('https://tfhub.dev/bench-org/{kind}-tf-{i}/1')\n"
            f"c = torch.hub.load('bench-org/hub-{i % repos}', '{entry}')\n"
        )
    return folder / "fixtures.json", sources


def run_check(project: Path, env: dict[str, str]) -> tuple[float, int, str]:
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "lsp_server", "check", str(project), "--api-db", str(API_DIR)],
                         capture_output=True, text=True, env=env, timeout=3600)
    return time.perf_counter() - started, out.returncode, out.stderr.strip().splitlines()[-1]


def scale_table(n_files: int, latency: float) -> list[str]:
    rows = [f"| check, {n_files} files, {3 * n_files} distinct ids, +{latency * 1000:.0f} ms per request | wall s "
            "| requests sent | exit | summary |", "|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        fixture, sources = scale_fixture(folder, n_files)
        project = folder / "project"
        project.mkdir()
        for i, source in enumerate(sources):
            (project / f"file{i:04d}.py").write_text(source)
        with StandIn(Fixtures.load(fixture), latency=latency) as standin:
            env = {**os.environ, **standin.environ(), "GORILLA_LSP_CACHE_DIR": str(folder / "cache"),
                   "HOME": str(folder), "TORCH_HOME": str(folder / "torch"), "HF_HOME": str(folder / "hf"),
                   "NO_PROXY": "127.0.0.1", "PYTHONPATH": str(REPO)}
            env.pop("GORILLA_LSP_OFFLINE", None)
            for label in ("cold cache", "warm cache"):
                before = standin.total()
                seconds, code, summary = run_check(project, env)
                rows.append(f"| {label} | {seconds:.1f} | {standin.total() - before} | {code} | {summary} |")
            offline = {**env, "GORILLA_LSP_OFFLINE": "1", "GORILLA_LSP_CACHE_DIR": str(folder / "empty")}
            before = standin.total()
            seconds, code, summary = run_check(project, offline)
            rows.append(f"| offline, empty cache | {seconds:.1f} | {standin.total() - before} | {code} | {summary} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    args = parser.parse_args()
    with StandIn(Fixtures.load()) as standin:
        print("\n".join(corpus_table(standin)))
    print()
    print("\n".join(scale_table(args.files, args.latency_ms / 1000)))


if __name__ == "__main__":
    main()
