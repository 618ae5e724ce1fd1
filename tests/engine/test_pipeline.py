"""The completion pipeline with a real (tiny) CTranslate2 model: every candidate is checked before it is shown."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.errors import ModelLoadError
from engine.model_source import load_model_source
from engine.pipeline import CompletionPipeline, clean_request
from index.api_index import ApiIndex
from index.constraints import Constraints
from tests.conftest import API_DIR


@pytest.fixture(scope="module")
def source(tiny_model):
    model = load_model_source(tiny_model.path, device="cpu", compute_type="auto")
    yield model
    model.close()


def test_every_suggestion_carries_a_verdict_and_a_source(api_index: ApiIndex, source) -> None:
    pipeline = CompletionPipeline(api_index, source)
    result = pipeline.complete("# segment people in a video", n=5, top_k=3)
    assert result.engine.backend == "ctranslate2" and result.engine.device == "cpu"
    assert result.engine.model == str(Path(source.generator.info().model_path))
    assert len(result.suggestions) == 5
    for suggestion in result.suggestions:
        assert suggestion.verdict in ("known", "hallucinated")
        assert suggestion.source in ("model", "retrieval")
        if suggestion.verdict == "known":
            assert suggestion.api is not None and api_index.db.apis[suggestion.api].api_call == suggestion.api_call


def test_generated_answers_are_parsed_and_checked(api_index: ApiIndex) -> None:
    pipeline = CompletionPipeline(api_index)
    invented = pipeline._from_model(
        "<<<domain>>>: Classification, <<<api_call>>>: torch.hub.load('pytorch/vision', 'resnet9000'), "
        "<<<api_provider>>>: PyTorch", Constraints())
    assert invented is not None and invented.verdict == "hallucinated" and invented.source == "model"
    assert invented.alternatives and all("pytorch/vision" in a for a in invented.alternatives)
    known = pipeline._from_model("{'api_call': \"model = torch.hub.load('pytorch/vision', 'resnet50', "
                                 "pretrained=True)\", 'api_provider': 'PyTorch'}", Constraints(max_params_m=10))
    assert known is not None and known.verdict == "known"
    assert known.api_call == "torch.hub.load(repo_or_dir='pytorch/vision', model='resnet50', pretrained=True)"
    assert known.constraints.status in ("unknown", "met", "violated")
    assert pipeline._from_model("I am not sure which model fits.", Constraints()) is None


class RecordedAnswers:
    """A model's answers recorded as text: the pipeline's ranking and policies, apart from generation."""

    def __init__(self, answers: list[str]) -> None:
        self.answers = answers

    def info(self):
        from engine.pipeline import EngineInfo

        return EngineInfo(backend="ctranslate2", device="cpu", compute_type="int8", model="recorded")

    def candidates(self, request, documents, n, cancelled):  # noqa: ANN001
        assert documents, "the prompt must carry the retrieved documents"
        return self.answers[:n]


ANSWERS = [
    "<<<api_call>>>: torch.hub.load('pytorch/vision', 'resnet9000')",
    "<<<api_call>>>: torch.hub.load('pytorch/vision', 'resnet50', pretrained=True)",
    "<<<api_call>>>: torch.hub.load(repo_or_dir='pytorch/vision', model='resnet50')",
]


def test_known_first_duplicates_merged_and_hallucinated_kept_with_a_warning(api_index: ApiIndex) -> None:
    result = CompletionPipeline(api_index, RecordedAnswers(ANSWERS)).complete("classify images", n=5)
    verdicts = [(s.source, s.verdict) for s in result.suggestions]
    assert verdicts[0] == ("model", "known")
    assert verdicts.count(("model", "known")) == 1  # two spellings of one API are one suggestion
    assert ("model", "hallucinated") in verdicts
    assert len(result.suggestions) == 5 and verdicts[-1] == ("model", "hallucinated")  # invented calls last
    assert ("retrieval", "known") in verdicts


def test_hallucinated_hidden_by_setting(api_index: ApiIndex) -> None:
    result = CompletionPipeline(api_index, RecordedAnswers(ANSWERS)).complete("classify images", n=5,
                                                                               hallucinated="hide")
    assert all(s.verdict == "known" for s in result.suggestions)


def test_broken_model_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=str(tmp_path / "missing")):
        load_model_source(str(tmp_path / "missing"))


def test_cli_complete_with_a_model(tiny_model) -> None:
    out = subprocess.run([sys.executable, "-m", "lsp_server", "complete", "detect objects in street photos",
                          "--api-db", str(API_DIR), "--model", tiny_model.path, "--device", "cpu", "--retriever",
                          "bm25", "--format", "json", "-n", "3"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["engine"]["backend"] == "ctranslate2" and data["engine"]["device"] == "cpu"
    assert data["engine"]["compute_type"] and data["engine"]["model"] == tiny_model.path
    assert len(data["suggestions"]) == 3 and all(s["verdict"] in ("known", "hallucinated") for s in data["suggestions"])


def test_clean_request() -> None:
    assert clean_request("# I need an API that can segment people in videos") == "segment people in videos"
    assert clean_request("## detect objects\n# in street photos") == "detect objects in street photos"


def test_requests_arriving_together_are_decoded_in_one_batch(tiny_model) -> None:
    import threading

    from engine.batcher import RequestBatcher
    from engine.generator import GorillaGenerator

    generator = GorillaGenerator(tiny_model.path, device="cpu", compute_type="auto", max_new_tokens=16)
    batcher = RequestBatcher(generator, window_s=0.2)
    results: dict[int, list[str]] = {}
    cancelled = threading.Event()
    cancelled.set()

    def ask(i: int) -> None:
        results[i] = batcher.candidates(f"request number {i}", [], n=2, cancelled=cancelled if i == 3 else None)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    batcher.close()
    generator.close()
    assert sorted(results) == [0, 1, 2, 3]
    assert all(len(results[i]) == 2 for i in range(3)) and results[3] == []
    assert max(batcher.batch_sizes) >= 2 and sum(batcher.batch_sizes) == 3


def test_a_chat_answer_gives_the_call_in_the_body_not_the_definition(api_index: ApiIndex) -> None:
    answer = ("Here is a Python function that does this:\n```python\nimport torch\n\ndef load_model():\n"
              "    return torch.hub.load('pytorch/vision', 'resnet9000')\n```")
    suggestion = CompletionPipeline(api_index)._from_model(answer, Constraints())
    assert suggestion is not None and suggestion.verdict == "hallucinated"
    assert suggestion.api_call == "torch.hub.load('pytorch/vision', 'resnet9000')"
