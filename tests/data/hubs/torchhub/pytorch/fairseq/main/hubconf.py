# Stand-in hubconf.py for pytorch/fairseq: like the real one, it makes one entrypoint per pretrained model at
# import time, so its names cannot be read without running it.
import functools

dependencies = ["dataclasses", "hydra", "numpy", "omegaconf", "regex", "requests", "torch"]

from fairseq.hub_utils import BPEHubInterface as bpe  # noqa
from fairseq.hub_utils import TokenizerHubInterface as tokenizer  # noqa
from fairseq.models import MODEL_REGISTRY  # noqa

for _model_type, _cls in MODEL_REGISTRY.items():
    for model_name in _cls.hub_models().keys():
        globals()[model_name] = functools.partial(_cls.from_pretrained, model_name)
