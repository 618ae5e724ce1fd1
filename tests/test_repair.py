"""Every API the engine can suggest runs as inserted: it parses, and each free name is imported or a placeholder."""

from __future__ import annotations

import ast

import pytest

from engine.pipeline import CompletionPipeline
from index.api_index import ApiIndex
from index.repair import repair_call, short_label


def _free_names(call: str) -> set[str]:
    tree = ast.parse(call)
    assert len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr) and isinstance(tree.body[0].value, ast.Call)
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _bound(import_line: str) -> str:
    words = import_line.replace(",", " ").split()
    if "as" in words:
        return words[words.index("as") + 1]
    return words[words.index("import") + 1] if words[0] == "from" else words[1].split(".")[0]


def test_every_suggestable_api_parses_and_has_only_imported_or_placeholder_names(api_index: ApiIndex) -> None:
    pipeline = CompletionPipeline(api_index)
    checked = 0
    for api, record in enumerate(api_index.db.apis):
        if api_index.db.unsuggestable[api]:
            continue
        suggestion = pipeline._known(api, "retrieval", 1.0, __import__("index.constraints").constraints.ConstraintCheck("none"))
        free = _free_names(suggestion.api_call)
        bound = {_bound(line) for line in suggestion.imports}
        assert free <= bound | set(suggestion.placeholders), (suggestion.api_call, free - bound)
        checked += 1
    assert checked == len(api_index.db.apis) - int(api_index.db.unsuggestable.sum()) > 1000


def test_counts_of_repaired_and_dropped_records(api_index: ApiIndex) -> None:
    counts = api_index.db.repairs()
    assert counts.repaired >= 30 and counts.dropped >= 20
    assert counts.with_params > 11  # TorchHub's performance fields alone gave 11


@pytest.mark.parametrize(("call", "expected"), [
    ("torch.hub.load(repo_or_dir='szq0214/MEAL-V2', 'meal_v2', model='mealv2_resnest50', pretrained=True)",
     "torch.hub.load('szq0214/MEAL-V2', 'meal_v2', model='mealv2_resnest50', pretrained=True)"),
    ("BlipForConditionalGeneration.from_pretrained(Salesforce/blip-image-captioning-large)",
     "BlipForConditionalGeneration.from_pretrained('Salesforce/blip-image-captioning-large')"),
    ("pipeline(sentiment-analysis, model='cardiffnlp/twitter-xlm-roberta-base-sentiment')",
     "pipeline('sentiment-analysis', model='cardiffnlp/twitter-xlm-roberta-base-sentiment')"),
    ("DDPMPipeline.from_pretrained('google/ddpm-cifar10-32').", "DDPMPipeline.from_pretrained('google/ddpm-cifar10-32')"),
    ("translation_pipeline('translation_de_to_en', model='Helsinki-NLP/opus-mt-de-en')",
     "pipeline('translation_de_to_en', model='Helsinki-NLP/opus-mt-de-en')"),
])
def test_repairs(call: str, expected: str) -> None:
    repaired = repair_call(call)
    assert repaired.call == expected and repaired.changes and repaired.dropped is None


def test_placeholders_imports_and_drops() -> None:
    gan = repair_call("torch.hub.load(repo_or_dir='facebookresearch/pytorch_GAN_zoo:hub', model='DCGAN', "
                      "pretrained=True, useGPU=use_gpu)")
    assert gan.placeholders == ["use_gpu"] and gan.imports == ["import torch"]
    example = "model_id = 'https://tfhub.dev/google/imagenet/inception_v3/classification/1'\n"
    layer = repair_call("tf.keras.Sequential([hub.KerasLayer(model_id)])", example)
    assert "hub.KerasLayer('https://tfhub.dev/google/imagenet/inception_v3/classification/1')" in layer.call
    assert set(layer.imports) == {"import tensorflow as tf", "import tensorflow_hub as hub"}
    assert repair_call("hub.load('https://tfhub.dev/google/model_id/1')").dropped
    assert repair_call("./run.sh --skip_data_prep false --download_model mio/amadeus").dropped
    assert repair_call("mystery_helper('x/y')").dropped


def test_short_labels() -> None:
    assert short_label("torch.hub.load('pytorch/vision', 'resnet50', pretrained=True)") == "resnet50"
    assert short_label("torch.hub.load(repo_or_dir='facebookresearch/pytorchvideo', model='x3d_s')") == "x3d_s"
    assert short_label("hub.load('https://tfhub.dev/tensorflow/ssd_mobilenet_v2/2')") == "tensorflow/ssd_mobilenet_v2/2"
    assert short_label("pipeline('fill-mask', model='bert-base-uncased')") == "bert-base-uncased"
    assert short_label("AutoModel.from_pretrained('facebook/bart-base')") == "facebook/bart-base"


def test_the_published_metric_still_reads_the_records_as_published(api_index: ApiIndex) -> None:
    record = next(r for r in api_index.db.records if r.api_call.endswith(")."))
    assert record.runnable.call != record.api_call  # suggested repaired, evaluated as published
