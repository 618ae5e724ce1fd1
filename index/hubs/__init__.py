"""Hub verification: does a model id that is not in the API database exist on its hub?

Each hub has a small client (Hugging Face through `huggingface_hub`, TorchHub through a repository's `hubconf.py`,
TF Hub and Kaggle Models through HTTP), local evidence (the Hugging Face and torch hub caches), and one persistent
cache of answers shared by every process. `HubVerifier` puts them together; `index.checker` turns its answers into
verdicts. Nothing here runs unless a caller asks for it, and only model ids and hub URLs leave the machine.
"""

from index.hubs.answers import HubAnswer, Target
from index.hubs.config import HubSettings
from index.hubs.verifier import HubVerifier

__all__ = ["HubAnswer", "HubSettings", "HubVerifier", "Target"]
