"""`gorilla-lsp check` as users run it, with hub verification (against the stand-in) and a directory walk that skips
what it must: a real process, its stdout, stderr and exit code."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from tests.conftest import API_DIR
from tests.hubs.standin import StandIn
from tests.test_cli import run

REAL_AND_INVENTED = '''import torch
from transformers import BertModel
from sentence_transformers import SentenceTransformer
ok = torch.hub.load('facebookresearch/detr:main', 'detr_resnet50', pretrained=True)
bad = torch.hub.load(
    'pytorch/vision',
    'resnet9000',
)
gated = BertModel.from_pretrained("meta-llama/Llama-2-7b-hf")
legacy = BertModel.from_pretrained("bert-base-uncased-v7")
st = SentenceTransformer("all-MiniLM-L66-v3")
slow = BertModel.from_pretrained("slow/timeout-model")
'''


def check(*args: str, env: dict[str, str] | None = None):
    return run("check", *args, "--api-db", str(API_DIR), env=env)


def test_verdicts_messages_and_exit_status(tmp_path: Path) -> None:
    file = tmp_path / "models.py"
    file.write_text(REAL_AND_INVENTED)
    out = check(str(file), "--format", "json", env={"GORILLA_LSP_HUB_TIMEOUT": "2"})  # `slow/...` times out
    assert out.returncode == 1, out.stderr
    found = {(d["line"], d["status"]) for d in json.loads(out.stdout)}
    assert found == {(6, "hallucinated"), (9, "hallucinated"), (10, "hallucinated"), (11, "unverified")}
    by_line = {d["line"]: d for d in json.loads(out.stdout)}
    # the whole multi-line call on one line, the range on the model id, the hub that said so
    assert by_line[6]["message"].startswith("`torch.hub.load('pytorch/vision', 'resnet9000')` is hallucinated: "
                                            "pytorch/vision has no entrypoint `resnet9000` (closest: resnet")
    assert (by_line[6]["character"], by_line[6]["end_character"]) == (4, 16)
    assert by_line[9]["evidence"]["source"] == "Hugging Face" and "bert-base-uncased-v7" in by_line[9]["message"]
    assert "no model `sentence-transformers/all-MiniLM-L66-v3` or `all-MiniLM-L66-v3`" in by_line[10]["message"]
    assert by_line[11]["severity"] == "information" and "timed out after 2 s" in by_line[11]["message"]
    assert "2 confirmed on a hub" in out.stderr  # detr_resnet50, the gated Llama


def test_unverified_alone_exits_zero(tmp_path: Path) -> None:
    file = tmp_path / "slow.py"
    file.write_text("from transformers import AutoModel\nm = AutoModel.from_pretrained('broken/server-error')\n")
    out = check(str(file))
    assert out.returncode == 0, out.stderr
    assert ": information: " in out.stdout and "HTTP 500" in out.stdout and "[unverified-api]" in out.stdout


def test_offline_asks_no_hub(tmp_path: Path, hub_standin: StandIn) -> None:
    file = tmp_path / "models.py"
    file.write_text(REAL_AND_INVENTED)
    before = hub_standin.total()
    empty = {"GORILLA_LSP_CACHE_DIR": str(tmp_path / "empty-cache")}  # no earlier answer either
    for out in (check(str(file), "--offline", env=empty),
                check(str(file), env={**empty, "GORILLA_LSP_OFFLINE": "1"})):
        assert out.returncode == 0, out.stdout  # nothing can be shown not to exist: unverified, never a failure
        assert "offline: no hub asked" in out.stderr and "0 hub request(s)" in out.stderr
        assert out.stdout.count("[unverified-api]") == 6
    assert hub_standin.total() == before


def test_offline_torch_hub_cache_is_evidence(tmp_path: Path) -> None:
    cached = tmp_path / "torch" / "hub" / "pytorch_vision_main"
    cached.mkdir(parents=True)
    (cached / "hubconf.py").write_text("from torchvision.models.resnet import resnet18, resnet50\n")
    file = tmp_path / "m.py"
    file.write_text("import torch\nm = torch.hub.load('pytorch/vision', 'resnet9000')\n")
    out = check(str(file), "--offline", env={"TORCH_HOME": str(tmp_path / "torch"),
                                             "GORILLA_LSP_CACHE_DIR": str(tmp_path / "cache")})
    assert out.returncode == 1 and "(torch hub cache: " in out.stdout and "has no entrypoint" in out.stdout


def test_a_warm_cache_sends_no_request(tmp_path: Path, hub_standin: StandIn) -> None:
    file = tmp_path / "m.py"
    file.write_text("from transformers import AutoModel\nm = AutoModel.from_pretrained('acme/never-asked-before')\n")
    env = {"GORILLA_LSP_CACHE_DIR": str(tmp_path / "cache")}
    cold = check(str(file), env=env)
    assert cold.returncode == 1 and "1 hub request(s)" in cold.stderr
    before = hub_standin.total()
    warm = check(str(file), env=env)
    assert warm.returncode == 1 and "0 hub request(s)" in warm.stderr and hub_standin.total() == before


def test_directory_walk_skips_what_it_must(tmp_path: Path) -> None:
    root = tmp_path / "project"
    code = "import torch\nm = torch.hub.load('pytorch/vision', 'resnet9000')\n"
    for folder in (".git", ".venv/lib", "env/lib/python3.11/site-packages/pkg", "node_modules/x", "build", "src/gen"):
        (root / folder).mkdir(parents=True)
        (root / folder / "m.py").write_text(code)
    (root / "env" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (root / ".gitignore").write_text("build/\n/src/gen/*.py\n!src/gen/keep.py\n*.tmp.py\n")
    (root / "src" / "gen" / "keep.py").write_text(code)
    (root / "src" / "draft.tmp.py").write_text(code)
    (root / "src" / "main.py").write_text(code)
    (root / "src" / "blob.py").write_bytes(b"\x00\x01binary" * 100)
    os.mkfifo(root / "src" / "pipe.py")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(root / "src" / "sock.py"))
    (root / "src" / "dangling.py").symlink_to(root / "nowhere.py")
    (root / "src" / "loop.py").symlink_to(root / "src" / "loop.py")
    (root / "src" / "null.py").symlink_to("/dev/null")
    try:
        out = check(str(root), "--format", "json")
    finally:
        sock.close()
    assert out.returncode == 1, out.stderr
    entries = json.loads(out.stdout)
    flagged = sorted(Path(d["path"]).relative_to(root).as_posix() for d in entries if d["code"] == "hallucinated-api")
    assert flagged == ["src/gen/keep.py", "src/main.py"]
    skipped = {Path(d["path"]).name: d["message"] for d in entries if d["code"] == "skipped-file"}
    assert skipped == {
        "blob.py": "skipped: binary file", "pipe.py": "skipped: a FIFO", "sock.py": "skipped: a socket",
        "dangling.py": f"skipped: dangling symbolic link (to {root / 'nowhere.py'})",
        "loop.py": "skipped: symbolic link loop", "null.py": "skipped: a device",
    }
    assert "2 file(s) checked, 6 skipped" in out.stderr
    text = check(str(root))
    assert f"{root / 'src' / 'pipe.py'}: skipped: a FIFO" in text.stderr


def test_paths_given_directly(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo.py")
    (tmp_path / "gone.py").symlink_to(tmp_path / "missing.py")
    out = check(str(tmp_path / "fifo.py"), str(tmp_path / "gone.py"))
    assert out.returncode == 0 and "fifo.py: skipped: a FIFO" in out.stderr and "dangling symbolic link" in out.stderr
    assert "Traceback" not in out.stderr
