"""The hub clients against the stand-in on 127.0.0.1 (the real client code runs), the hubconf.py reader, the answers
cache under concurrent writers, local evidence, and the loader surfaces."""

from __future__ import annotations

import multiprocessing
import socket
import threading
from pathlib import Path

import pytest

from index.checker import HubCheck
from index.hubs import HubSettings, HubVerifier, Target
from index.hubs.answers import HubAnswer
from index.hubs.cache import AnswerCache
from index.hubs.surface import TransformersSurface
from index.hubs.torchhub import entrypoints
from tests.hubs.standin import Fixtures, StandIn


def settings(tmp_path: Path, standin: StandIn | None = None, **changes) -> HubSettings:
    env = {"HOME": str(tmp_path), "GORILLA_LSP_CACHE_DIR": str(tmp_path / "cache"), "GORILLA_LSP_HUB_TIMEOUT": "1"}
    if standin is not None:
        env.update(standin.environ())
    base = HubSettings.from_environ(env)
    return base if not changes else HubSettings(**{**{f: getattr(base, f) for f in base.__struct_fields__}, **changes})


def hf(name: str, *more: str) -> Target:
    return Target("huggingface", "hf:" + "|".join((name, *more)), (name, *more))


@pytest.fixture
def verifier(tmp_path: Path, hub_standin: StandIn) -> HubVerifier:
    s = settings(tmp_path, hub_standin)
    return HubVerifier(s, AnswerCache.in_dir(tmp_path / "cache"))


@pytest.mark.parametrize(("repo_id", "status", "detail"), [
    ("bert-base-uncased", "exists", ""),  # a bare legacy id
    ("meta-llama/Llama-2-7b-chat-hf", "exists", "gated"),
    ("acme/bert-that-does-not-exist", "missing", "if it is private, set HF_TOKEN"),
    ("acme/private-model", "missing", "if it is private, set HF_TOKEN"),  # 401 without a token: the same answer
    ("slow/timeout-model", "unknown", "timed out after 1 s"),
    ("broken/server-error", "unknown", "HTTP 500"),
    ("busy/rate-limited", "unknown", "rate limited (HTTP 429)"),
])
def test_hugging_face_answers(verifier: HubVerifier, repo_id: str, status: str, detail: str) -> None:
    answer = verifier.verify(hf(repo_id))
    assert (answer.status, answer.detail) == (status, detail)
    assert answer.where.endswith(f"/hf/api/models/{repo_id}") and answer.where.startswith("http://127.0.0.1:")


def test_sentence_transformers_bare_name_is_tried_under_its_organisation(verifier: HubVerifier,
                                                                         hub_standin: StandIn) -> None:
    answer = verifier.verify(hf("sentence-transformers/all-MiniLM-L6-v2", "all-MiniLM-L6-v2"))
    assert answer.status == "exists" and answer.found == "sentence-transformers/all-MiniLM-L6-v2"
    missing = verifier.verify(hf("sentence-transformers/all-MiniLM-L66-v3", "all-MiniLM-L66-v3"))
    assert missing.status == "missing" and verifier.requests == 3  # one, then both names


def test_connection_refused_is_unknown(tmp_path: Path) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    s = settings(tmp_path, hf_endpoint=url, torchhub_url=url, tfhub_url=url)
    v = HubVerifier(s, None)
    assert v.verify(hf("org/model")).status == "unknown"
    answer = v.verify(Target("torchhub", "torchhub:pytorch/vision@", ("pytorch/vision",), entry="resnet50"))
    assert (answer.status, answer.detail) == ("unknown", "connection refused")
    assert v.verify(Target("tfhub", "tfhub:google/elmo/2", ("google/elmo/2",))).detail == "connection refused"


def test_torchhub_refs_main_then_master(verifier: HubVerifier, hub_standin: StandIn) -> None:
    hub_standin.reset()
    yolo = verifier.verify(Target("torchhub", "torchhub:ultralytics/yolov5@", ("ultralytics/yolov5",), entry="yolov5s"))
    assert yolo.status == "exists" and yolo.where.endswith("/ultralytics/yolov5/master/hubconf.py")
    assert yolo.entry_status("yolov5s") == "exists" and yolo.entry_status("yolov5z") == "missing"
    assert verifier.requests == 2  # main was 404
    nvidia = verifier.verify(Target("torchhub", "torchhub:nvidia/deeplearningexamples@torchhub",
                                    ("NVIDIA/DeepLearningExamples",), ref="torchhub", entry="nvidia_tts_utils"))
    assert nvidia.entry_status("nvidia_tts_utils") == "exists"
    gone = verifier.verify(Target("torchhub", "torchhub:nobody/nothing@", ("nobody/nothing",), entry="x"))
    assert gone.status == "missing" and verifier.requests == 5
    slow = verifier.verify(Target("torchhub", "torchhub:slow/torchhub-repo@", ("slow/torchhub-repo",), entry="x"))
    broken = verifier.verify(Target("torchhub", "torchhub:broken/torchhub-repo@", ("broken/torchhub-repo",), entry="x"))
    assert (slow.status, broken.status, broken.detail) == ("unknown", "unknown", "HTTP 500")


def test_tfhub_and_kaggle_head_get_redirects_and_query(verifier: HubVerifier, hub_standin: StandIn) -> None:
    hub_standin.reset()
    elmo = verifier.verify(Target("tfhub", "tfhub:google/elmo/2", ("google/elmo/2",)))
    assert elmo.status == "exists"  # via a redirect to the Kaggle page
    assert hub_standin.requests["HEAD /kaggle/models/google/elmo/tensorFlow1/elmo/2"] == 1
    movenet = verifier.verify(Target("tfhub", "tfhub:google/movenet/multipose/lightning/1",
                                     ("google/movenet/multipose/lightning/1",)))
    assert movenet.status == "exists"  # HEAD refused (405), GET answered
    assert hub_standin.requests["GET /tfhub/google/movenet/multipose/lightning/1"] == 1
    assert verifier.verify(Target("tfhub", "tfhub:google/nothing/1", ("google/nothing/1",))).status == "missing"
    kaggle = verifier.verify(Target("kaggle", "kaggle:google/movenet/TensorFlow2/multipose-lightning/1",
                                    ("google/movenet/TensorFlow2/multipose-lightning/1",)))
    assert kaggle.status == "exists" and "/kaggle/models/google/movenet" in kaggle.where
    assert verifier.verify(Target("tfhub", "tfhub:google/broken-model/1", ("google/broken-model/1",))).detail == "HTTP 500"


def test_answers_are_cached_on_disk_but_errors_are_not(tmp_path: Path, hub_standin: StandIn) -> None:
    s = settings(tmp_path, hub_standin)
    first = HubVerifier(s, AnswerCache.in_dir(tmp_path / "cache"))
    for target in (hf("gpt2"), hf("acme/nope"), hf("broken/server-error")):
        first.verify(target)
    assert first.requests == 3
    second = HubVerifier(s, AnswerCache.in_dir(tmp_path / "cache"))  # another process, the same cache file
    assert second.verify(hf("gpt2")).status == "exists" and second.verify(hf("acme/nope")).status == "missing"
    assert second.requests == 0
    assert second.verify(hf("broken/server-error")).status == "unknown" and second.requests == 1


def test_cache_expiry(tmp_path: Path) -> None:
    cache = AnswerCache.in_dir(tmp_path)
    cache.put("a", HubAnswer("exists", "x"), now=0.0)
    cache.put("b", HubAnswer("missing", "x"), now=0.0)
    cache.put("c", HubAnswer("unknown", "x"), now=0.0)
    day = 86_400
    assert cache.get("a", now=29 * day) is not None and cache.get("a", now=31 * day) is None
    assert cache.get("b", now=0.5 * day) is not None and cache.get("b", now=1.5 * day) is None
    assert cache.get("c", now=0) is None


def test_corrupt_cache_is_replaced(tmp_path: Path) -> None:
    (tmp_path / "hub-answers.sqlite3").write_bytes(b"this is not a database" * 100)
    cache = AnswerCache.in_dir(tmp_path)
    cache.put("k", HubAnswer("exists", "x"))
    assert cache.get("k") is not None and list(tmp_path.glob("hub-answers.sqlite3.corrupt-*"))


def _write_many(folder: str, worker: int, n: int) -> None:
    cache = AnswerCache.in_dir(Path(folder))
    for i in range(n):
        cache.put(f"w{worker}-{i}", HubAnswer("exists", "Hugging Face", found=f"org/m{i}"))


def test_several_processes_write_the_cache_at_once(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_many, args=(str(tmp_path), w, 200)) for w in range(4)]
    for p in workers:
        p.start()
    threads = [threading.Thread(target=_write_many, args=(str(tmp_path), 10 + t, 200)) for t in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for p in workers:
        p.join(60)
        assert p.exitcode == 0
    cache = AnswerCache.in_dir(tmp_path)
    assert all(cache.get(f"w{w}-{i}") is not None for w in (0, 1, 2, 3, 10, 11) for i in range(200))


def test_same_key_is_asked_once_at_a_time(tmp_path: Path, hub_standin: StandIn) -> None:
    slow = StandIn(Fixtures.load(), latency=0.3).__enter__()
    try:
        v = HubVerifier(settings(tmp_path, slow), None)
        threads = [threading.Thread(target=v.verify, args=(hf("gpt2"),)) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert v.requests == 1 and slow.total() == 1
    finally:
        slow.__exit__(None, None, None)


def test_offline_local_evidence(tmp_path: Path) -> None:
    hub = tmp_path / "torch" / "hub" / "pytorch_vision_main"
    hub.mkdir(parents=True)
    (hub / "hubconf.py").write_text("from torchvision.models.resnet import resnet18, resnet50\n")
    snapshot = tmp_path / "hf" / "hub" / "models--google--vit-base" / "snapshots"
    snapshot.mkdir(parents=True)
    env = {"HOME": str(tmp_path), "TORCH_HOME": str(tmp_path / "torch"), "HF_HOME": str(tmp_path / "hf"),
           "GORILLA_LSP_OFFLINE": "1"}
    v = HubVerifier(HubSettings.from_environ(env), None)
    vision = Target("torchhub", "torchhub:pytorch/vision@", ("pytorch/vision",), entry="resnet9000")
    answer = v.lookup(vision)
    assert answer is not None and answer.local and answer.entry_status("resnet9000") == "missing"
    assert v.lookup(hf("google/vit-base")).status == "exists"
    offline = v.lookup(hf("google/other"))
    assert (offline.status, offline.detail) == ("unknown", "offline") and v.requests == 0


def test_hf_hub_offline_only_stops_hugging_face(tmp_path: Path, hub_standin: StandIn) -> None:
    env = {"HOME": str(tmp_path), "HF_HUB_OFFLINE": "1", **hub_standin.environ()}
    v = HubVerifier(HubSettings.from_environ(env), None)
    assert v.lookup(hf("gpt2")).detail == "HF_HUB_OFFLINE is set"
    assert v.lookup(Target("tfhub", "tfhub:google/elmo/2", ("google/elmo/2",))) is None  # TF Hub may still be asked


HUBCONF_STATIC = b'''
dependencies = ["torch"]
import torch
from models.a import alpha, beta as gamma
from models.b import (
    delta,
    epsilon,
)
__all__ = ["zeta"]
__all__ += ["eta"]
theta = functools.partial(alpha, 1)
def _private(): pass
def iota(pretrained=False): pass
class Kappa: pass
if True:
    def lam(): pass
'''


def test_hubconf_entrypoints() -> None:
    names, dynamic = entrypoints(HUBCONF_STATIC)
    assert set(names) >= {"alpha", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "Kappa", "lam",
                          "_private"}
    assert "beta" not in names and "torch" not in names and "dependencies" not in names and not dynamic
    assert entrypoints(b"from hub_models import *\n")[1]
    assert entrypoints(b"for n in names:\n    globals()[n] = make(n)\n")[1]
    assert entrypoints(b"import sys\nsetattr(sys.modules[__name__], 'x', 1)\n")[1]
    assert entrypoints(b"def broken(:\n")[0] == ("broken",)  # broken Python: what tree-sitter recovers, no crash


def test_transformers_surface_rules() -> None:
    surface = TransformersSurface("5.0", frozenset({"AutoModel", "AutoModelForCausalLM", "BertModel", "BertTokenizer",
                                                    "ViTImageProcessor", "ViTModel", "pipeline"}))
    assert surface.real("AutoModel") and surface.real("TFAutoModel") and surface.real("FlaxBertModel")
    assert surface.real("BertTokenizerFast") and surface.real("ViTFeatureExtractor")
    assert surface.real("AutoModelWithLMHead")  # removed in 5.x, still in 4.x code
    assert surface.real("AutoModelForMagic") is False and surface.real("BertForMagic") is False
    assert surface.real("TransfoXLLMHeadModel") is None  # a family this version lacks: not judged


def test_surface_of_the_installed_transformers(verifier: HubVerifier) -> None:
    surface = verifier.surface.transformers()
    assert surface is not None and "AutoModelForCausalLM" in surface.names and len(surface.names) > 1000
    import sys

    assert "torch" not in sys.modules  # read in a child process


def test_checker_with_hubs_end_to_end(api_index, verifier: HubVerifier) -> None:
    source = '''import torch
import tensorflow_hub as tfhub
from transformers import AutoModelForMagic, BertModel
from sentence_transformers import SentenceTransformer
a = torch.hub.load('pytorch/vision', 'resnet9000')
b = torch.hub.load_model('pytorch/vision', 'resnet50')
c = tfhub.load_module('https://tfhub.dev/google/elmo/2')
d = AutoModelForMagic.from_pretrained('bert-base-uncased')
e = BertModel.from_pretrained("bert-base-uncased-v7")
f = SentenceTransformer("all-MiniLM-L66-v3")
g = tfhub.Module("https://tfhub.dev/google/elmo/2")
h = torch.hub.load('facebookresearch/dinov2', 'dinov2_vits14')
i = BertModel.from_pretrained("my_model")
j = BertModel.from_pretrained("checkpoints/run-3")
'''
    hubs = HubCheck(verifier)
    # before any hub answered: invented loaders are already hallucinated, the ids wait for their hubs
    first = [(f.verdict.status, f.verdict.pending) for f in api_index.checker.findings(source, hubs=hubs)]
    assert first == [("unverified", True), ("hallucinated", False), ("hallucinated", False), ("hallucinated", False),
                     ("unverified", True), ("unverified", True), ("unverified", True), ("unverified", True)]
    pending = [f.verdict.target for f in api_index.checker.findings(source, hubs=hubs) if f.verdict.pending]
    assert {t.key for t in pending} == {"torchhub:pytorch/vision@", "hf:bert-base-uncased-v7",
                                        "hf:sentence-transformers/all-MiniLM-L66-v3|all-MiniLM-L66-v3",
                                        "tfhub:google/elmo/2", "torchhub:facebookresearch/dinov2@"}
    for target in pending:
        verifier.verify(target)
    verdicts = [(f.callee, f.verdict.status) for f in api_index.checker.findings(source, hubs=hubs)]
    assert verdicts == [
        ("torch.hub.load", "hallucinated"), ("torch.hub.load_model", "hallucinated"),
        ("hub.load_module", "hallucinated"), ("AutoModelForMagic.from_pretrained", "hallucinated"),
        ("BertModel.from_pretrained", "hallucinated"), ("SentenceTransformer", "hallucinated"),
        ("hub.Module", "exists"), ("torch.hub.load", "exists"),
    ]  # `my_model` and `checkpoints/run-3` look like local folders: not judged


def test_only_the_model_id_reaches_the_hugging_face_endpoint(tmp_path: Path) -> None:
    own = StandIn(Fixtures.load()).__enter__()
    try:
        v = HubVerifier(settings(tmp_path, own), None)
        for name in ("gpt2", "acme/nope", "meta-llama/Llama-2-7b-hf"):
            v.verify(hf(name))
        assert sorted(own.requests) == ["GET /hf/api/models/acme/nope", "GET /hf/api/models/gpt2",
                                        "GET /hf/api/models/meta-llama/Llama-2-7b-hf"]  # no telemetry request
    finally:
        own.__exit__(None, None, None)


def test_which_calls_are_asked_about(api_index, verifier: HubVerifier) -> None:
    source = '''import timm
import paddlehub as hub
from huggingface_hub import hf_hub_download
from transformers import TFAutoModel, BertTokenizerFast, set_seed
from efficientnet_pytorch import EfficientNet
a = timm.create_model('hf_hub:timm/made-up-model', pretrained=True)
b = timm.create_model('resnet50', pretrained=True)
c = hf_hub_download(repo_id="acme/made-up-repo", filename="model.bin")
d = hf_hub_download(repo_id="acme/some-dataset", filename="x.csv", repo_type="dataset")
e = hub.Module(name="ernie_tiny")
f = TFAutoModel.from_pretrained("gpt2")
g = BertTokenizerFast.from_pretrained("bert-base-uncased")
h = EfficientNet.from_pretrained("efficientnet-b0")
set_seed(42)
'''
    hubs = HubCheck(verifier)
    for finding in api_index.checker.findings(source, hubs=hubs):
        if finding.verdict.pending:
            verifier.verify(finding.verdict.target)
    judged = {f.call.text.split("(")[0] + "@" + str(f.call.start[0]): f.verdict.status
              for f in api_index.checker.findings(source, hubs=hubs)}
    assert judged == {
        "timm.create_model@5": "hallucinated",  # an hf_hub: id the Hub lacks; plain timm names are not hub ids
        "hf_hub_download@7": "hallucinated",  # a dataset is not asked about as a model
        "TFAutoModel.from_pretrained@10": "known",  # a 4.x class: not an invented one
        "BertTokenizerFast.from_pretrained@11": "known",
    }  # paddlehub's hub.Module and efficientnet_pytorch's bare names belong to other hubs: not judged
