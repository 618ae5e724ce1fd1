"""The nearest real APIs to an invented id (index.nearest): an index, never a placeholder, the same owner first."""

from __future__ import annotations

from index.api_index import ApiIndex
from index.nearest import NearestIndex, family, is_placeholder, owner_and_name


def alternatives(api_index: ApiIndex, call: str) -> list[str]:
    finding = next(api_index.checker.findings(call))
    assert finding.verdict.status == "hallucinated"
    return api_index.checker.alternative_calls(finding.verdict)


def test_placeholders_are_recognised() -> None:
    for text in ("https://tfhub.dev/google/model_id/1", "https://tfhub.dev/google/Video_classification_model_id/1",
                 "hub.KerasLayer(model_id)", "<org>/<model>", "yfinance.Ticker({ticker})", "your_org/your-model",
                 "path/to/model"):
        assert is_placeholder(text), text
    for text in ("https://tfhub.dev/google/universal-sentence-encoder/4", "sheldonxxxx/ofa_model_weights",
                 "pytorch/vision:resnet50", "facebook/bart-large-cnn"):
        assert not is_placeholder(text), text


def test_placeholder_records_are_never_suggested(api_index: ApiIndex) -> None:
    assert any("model_id" in a.api_call for a in api_index.db.apis)  # they are in APIBench
    found = alternatives(api_index, "hub.load('https://tfhub.dev/google/video_classification_model_id/2')")
    found += alternatives(api_index, "hub.KerasLayer('https://tfhub.dev/google/model_idx/1')")
    assert found and not any(is_placeholder(a) for a in found)


def test_same_repository_and_family_first(api_index: ApiIndex) -> None:
    found = alternatives(api_index, "torch.hub.load('pytorch/vision', 'resnet9000')")
    assert len(found) == 3 and all("pytorch/vision" in a and "resnet" in a for a in found)
    assert "resnet50" in found[0]
    found = alternatives(api_index, "AutoModel.from_pretrained('facebook/bart-large-cnn-v9')")
    assert "facebook/bart-large-cnn" in found[0] and all("facebook/" in a for a in found)
    found = alternatives(api_index, "AutoModel.from_pretrained('acme/bert-invented-1')")
    assert found and all("bert" in a.lower() for a in found)
    url = "https://tfhub.dev/google/imagenet/mobilenet_v9_1/feature_vector/4"
    found = alternatives(api_index, f"hub.KerasLayer('{url}')")
    assert all("mobilenet" in a and "feature_vector" in a for a in found)


def test_owner_name_and_family() -> None:
    assert owner_and_name("torchhub", "pytorch/vision:resnet50") == ("pytorch/vision", "resnet50")
    url = "https://tfhub.dev/google/imagenet/mobilenet_v2/4"
    assert owner_and_name("tfhub", url) == ("google", "imagenet/mobilenet_v2")
    assert owner_and_name("hf", "bert-base-uncased") == ("", "bert-base-uncased")
    assert family("resnet9000") == "resnet" and family("bert-base-uncased") == "bert"


def test_an_index_not_a_scan() -> None:
    keys = [f"org{i % 7}/model-{i}-base" for i in range(5000)] + ["acme/sentiment-roberta-large"]
    index = NearestIndex(("hf", k) for k in keys)
    assert index.nearest("hf", "acme/sentiment-roberta-lrge") == ["acme/sentiment-roberta-large"]
    assert index.nearest("hf", "zzzz/qqqq") == [] and index.nearest("tfhub", "x") == []
