from __future__ import annotations

from index.api_index import ApiIndex
from index.calls import PythonCalls

HAND_WRITTEN = '''\
import torch
import tensorflow_hub as tfhub
from transformers import AutoModel, AutoTokenizer, pipeline

resnet = torch.hub.load('pytorch/vision', 'resnet50', pretrained=True)
same = torch.hub.load(repo_or_dir="pytorch/vision:v0.10.0", model="resnet50")
invented = torch.hub.load('pytorch/vision', 'resnet9000')
# torch.hub.load('pytorch/vision', 'in_a_comment')
text = "torch.hub.load('pytorch/vision', 'in_a_string')"
use = tfhub.load('https://tfhub.dev/google/universal-sentence-encoder/4')
fake_use = tfhub.KerasLayer("https://tfhub.dev/google/universal-sentence-encoder/99")
bert = AutoModel.from_pretrained('YituTech/conv-bert-base')
tok = AutoTokenizer.from_pretrained('YituTech/conv-bert-base')
local = AutoModel.from_pretrained('./checkpoints/mine')
var = AutoModel.from_pretrained(path)
fill = pipeline('fill-mask', model='bert-base-uncased')
made_up = pipeline('fill-mask', model='acme/bert-that-does-not-exist')
data = json.load(open('data.json'))
weights = np.load('weights.npy')
def broken(:
    inner = torch.hub.load('pytorch/vision', 'resnet_invented')
'''


def test_calls_skip_comments_and_strings(parser: PythonCalls) -> None:
    callees = [c.callee for c in parser.calls(HAND_WRITTEN)]
    assert callees.count("torch.hub.load") == 4  # the comment and the string are not code; broken code still is
    call = next(c for c in parser.calls(HAND_WRITTEN) if c.callee == "pipeline")
    assert call.positional()[0].value == "fill-mask" and call.keyword("model").value == "bert-base-uncased"


def test_imports_map_local_names(parser: PythonCalls) -> None:
    imports = parser.imports(HAND_WRITTEN)
    assert imports["tfhub"] == "tensorflow_hub" and imports["AutoModel"] == "transformers.AutoModel"


def test_check_flags_invented_hub_calls_and_nothing_else(api_index: ApiIndex) -> None:
    findings = list(api_index.checker.findings(HAND_WRITTEN))
    flagged = {f.call.text for f in findings if f.verdict.status == "hallucinated"}
    assert flagged == {
        "torch.hub.load('pytorch/vision', 'resnet9000')",
        'tfhub.KerasLayer("https://tfhub.dev/google/universal-sentence-encoder/99")',
        "pipeline('fill-mask', model='acme/bert-that-does-not-exist')",
        "torch.hub.load('pytorch/vision', 'resnet_invented')",
    }
    known = {f.call.text for f in findings if f.verdict.status == "known"}
    assert "torch.hub.load('pytorch/vision', 'resnet50', pretrained=True)" in known
    assert 'torch.hub.load(repo_or_dir="pytorch/vision:v0.10.0", model="resnet50")' in known
    assert "AutoTokenizer.from_pretrained('YituTech/conv-bert-base')" in known


def test_hallucinated_calls_come_with_nearest_real_apis(api_index: ApiIndex) -> None:
    finding = next(f for f in api_index.checker.findings("torch.hub.load('pytorch/vision', 'resnet9000')"))
    alternatives = [api_index.db.apis[i].api_call for i in finding.verdict.alternatives]
    assert 1 <= len(alternatives) <= 3
    assert all("pytorch/vision" in a for a in alternatives)
    assert any("resnet" in a for a in alternatives)


def test_identity_ignores_quotes_keywords_and_optional_arguments(api_index: ApiIndex) -> None:
    forms = [
        "torch.hub.load('pytorch/vision', 'resnet50')",
        'torch.hub.load("pytorch/vision", "resnet50", pretrained=True)',
        "torch.hub.load(repo_or_dir='pytorch/vision', model='resnet50', pretrained=False)",
        "torch.hub.load(model='resnet50', repo_or_dir='pytorch/vision')",
    ]
    apis = {next(api_index.checker.findings(f)).verdict.api for f in forms}
    assert len(apis) == 1 and None not in apis


def test_a_repo_wide_record_covers_its_entry_points(api_index: ApiIndex) -> None:
    verdict = next(api_index.checker.findings("torch.hub.load('pytorch/fairseq', 'transformer.wmt14.en-fr')")).verdict
    assert verdict.status == "known"


def test_partial_code_being_typed(api_index: ApiIndex) -> None:
    source = "import torch\nmodel = torch.hub.load('pytorch/vision', 'resnet9000')\nx = torch.hub.load('pyto"
    statuses = [f.verdict.status for f in api_index.checker.findings(source)]
    assert statuses == ["hallucinated"]
