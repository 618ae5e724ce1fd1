from __future__ import annotations

from pathlib import Path

import pytest

from index.answers import parse_answer, question_text
from index.evaluation import Evaluator, GorillaMetric, cut_api_call, load_questions, load_responses
from tests.conftest import APIBENCH

EVAL_FILE = {"torchhub": "torchhub_eval.json", "huggingface": "huggingface_eval.json",
             "tensorflowhub": "tensorflow_eval.json"}

# Accuracy of Gorilla's released answers under the published procedure, as the project's issue tracker states
# them (zero-shot and oracle retriever); the faithful metric must reproduce them.
PUBLISHED = {
    ("torchhub", "FT_0_shot"): 75.8, ("huggingface", "FT_0_shot"): 69.4, ("tensorflowhub", "FT_0_shot"): 83.9,
    ("torchhub", "RT_oracle"): 93.0, ("huggingface", "RT_oracle"): 89.3, ("tensorflowhub", "RT_oracle"): 93.9,
}


@pytest.mark.parametrize(("hub", "run"), sorted(PUBLISHED))
def test_faithful_metric_reproduces_the_published_accuracy(hub: str, run: str, hub_index) -> None:
    evaluator = Evaluator(hub_index(hub).db, hub)
    questions = load_questions(APIBENCH / "eval" / EVAL_FILE[hub])
    responses = load_responses(APIBENCH / "responses" / f"{hub}_Gorilla_{run}.jsonl")
    result = evaluator.run(questions, responses, "gorilla")
    assert round(100 * result.accuracy, 1) == PUBLISHED[(hub, run)]
    assert result.accuracy + result.hallucination + result.error <= 1.0 + 1e-9


def test_all_24_response_files_score_under_both_metrics(hub_index) -> None:
    files = sorted((APIBENCH / "responses").glob("*.jsonl"))
    assert len(files) == 24
    for path in files:
        hub = path.name.split("_Gorilla_")[0]
        evaluator = Evaluator(hub_index(hub).db, hub)
        questions = load_questions(APIBENCH / "eval" / EVAL_FILE[hub])
        responses = load_responses(path)
        faithful = evaluator.run(questions, responses, "gorilla")
        strict = evaluator.run(questions, responses, "strict")
        assert faithful.n == strict.n == len(responses)
        # The exact API is never more often right than the published domain-level test.
        assert strict.accuracy <= strict.domain_accuracy + 1e-9


def test_cut_api_call_follows_the_published_steps() -> None:
    text = "<<<domain>>>: X, <<<api_call>>>: hub.load('https://tfhub.dev/a/1'), <<<api_provider>>>: TF"
    assert cut_api_call(text, "tensorflowhub") == "hub.load('https://tfhub.dev/a/1')"
    assert cut_api_call("no marker here", "torchhub") is None
    assert cut_api_call("no marker here", "huggingface") == "no marker here"
    assert cut_api_call("api_call no colon and no paren", "huggingface") == " no colon and no paren"[2:-1]


def test_fallback_subtree_quirk_is_kept(parser) -> None:
    # No subtree has the record's head `torch.hub.load`, so the last subtree of the walk is used instead: here a
    # string that merely holds the key values, which the published procedure counts as a match.
    metric = GorillaMetric(["torch.hub.load(repo_or_dir='a/b', model='m')"], ["D"], "torchhub", parser)
    assert metric.match("['a/b m']") == 0
    assert metric.match("['x/y m']") == -1
    assert metric.match("torch.hub.load('a/b', 'm')") == 0


def test_answer_formats() -> None:
    marked = "<<<domain>>>: Classification\n<<<api_call>>>: model = torch.hub.load('a/b', 'c', pretrained=True)\n"
    assert parse_answer(marked).api_call == "torch.hub.load('a/b', 'c', pretrained=True)"
    assert parse_answer(marked).domain == "Classification"
    dict_like = "{'domain': 'X', 'api_call': \"model = hub.KerasLayer('https://tfhub.dev/a/1')\", 'api_provider': 'TF'}"
    assert parse_answer(dict_like).api_call == "hub.KerasLayer('https://tfhub.dev/a/1')"
    escaped = "<<<api_call>>>: hub.load(\\'https://tfhub.dev/a/1\\'), <<<api_provider>>>: TF"
    assert parse_answer(escaped).api_call == "hub.load('https://tfhub.dev/a/1')"
    twice = "<<<api_call>>>: torch.hub.load(\\\\'pytorch/vision\\\\', \\\\'alexnet\\\\'), <<<api_provider>>>: PyTorch"
    assert parse_answer(twice).api_call == "torch.hub.load('pytorch/vision', 'alexnet')"
    free = "You can use the following:\nclassifier = pipeline('sentiment-analysis') to classify."
    assert parse_answer(free).api_call == "pipeline('sentiment-analysis')"


def test_question_text_tolerates_spacing() -> None:
    assert question_text("### Instruction: Find a model.\n### Output: x") == "Find a model."
    assert question_text("###Instruction: Q?\n###Output: {}") == "Q?"


def test_bad_responses_file_is_a_clear_error(tmp_path: Path) -> None:
    from index.evaluation import EvalError

    bad = tmp_path / "r.jsonl"
    bad.write_text('{"question_id": 1, "text": "x"}\n{"question_id": "two"}\n')
    with pytest.raises(EvalError, match=r"r.jsonl:2:1: `question_id` must be an integer"):
        load_responses(bad)
