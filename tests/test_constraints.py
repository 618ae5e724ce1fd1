from __future__ import annotations

import pytest

from engine.pipeline import CompletionPipeline
from index.api_index import ApiIndex
from index.constraints import Constraints, check, parse_constraints
from index.records import Performance


@pytest.mark.parametrize(
    ("request_text", "expected"),
    [
        ("segment people in a video, under 10M parameters", Constraints(max_params_m=10)),
        ("fewer than 10M parameters but at least 70% ImageNet accuracy",
             Constraints(max_params_m=10, min_top1=70, dataset="ImageNet")),
        ("under 5 million parameters", Constraints(max_params_m=5)),
        ("less than 500k params", Constraints(max_params_m=0.5)),
        ("at least 70%", Constraints(min_top1=70)),
        ("above 84 percent top-1", Constraints(min_top1=84)),
        ("top-5 accuracy of at least 95%", Constraints(min_top5=95)),
        ("the smallest image classifier", Constraints(prefer="smallest")),
        ("the most accurate image classifier", Constraints(prefer="most_accurate")),
        ("translate english to french", Constraints()),
    ],
)
def test_parse(request_text: str, expected: Constraints) -> None:
    assert parse_constraints(request_text) == expected


def test_check_marks_met_unknown_violated() -> None:
    limits = Constraints(max_params_m=10, min_top1=70)
    assert check(limits, Performance(params_m=5.3, top1=77.0)).status == "met"
    assert check(limits, Performance(params_m=5.3)).status == "unknown"
    assert check(limits, Performance(params_m=25.6, top1=80.0)).status == "violated"


def test_constraint_aware_ranking_uses_the_databases_facts(api_index: ApiIndex) -> None:
    result = CompletionPipeline(api_index).complete(
        "image classification with fewer than 10M parameters but at least 70% top-1 accuracy", n=5,
        hub="torchhub", hub_filter=True,
    )
    first = result.suggestions[0]
    assert first.constraints.status == "met"
    perf = api_index.db.apis[first.api].performance
    assert perf.params_m is not None and perf.params_m <= 10 and perf.top1 >= 70
    statuses = [s.constraints.status for s in result.suggestions]
    order = {"met": 0, "unknown": 1, "violated": 2}
    assert [order[s] for s in statuses] == sorted(order[s] for s in statuses)


def test_smallest_prefers_fewest_parameters(api_index: ApiIndex) -> None:
    result = CompletionPipeline(api_index).complete(
        "smallest ImageNet classification model under 30M parameters", n=5, hub="torchhub", hub_filter=True
    )
    met = [api_index.db.apis[s.api].performance.params_m for s in result.suggestions if s.constraints.status == "met"]
    assert len(met) >= 2 and met == sorted(met)
    assert result.suggestions[0].constraints.status == "met"
