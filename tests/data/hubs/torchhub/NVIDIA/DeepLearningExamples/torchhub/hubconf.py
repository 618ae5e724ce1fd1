# Stand-in hubconf.py for NVIDIA/DeepLearningExamples (branch torchhub).
from PyTorch.Classification.ConvNets.image_classification.models import (
    nvidia_efficientnet_b0,
    nvidia_efficientnet_b4,
    nvidia_efficientnet_widese_b0,
    nvidia_efficientnet_widese_b4,
    nvidia_resnet50,
    nvidia_resneXt,
    nvidia_se_resnext101_32x4d,
    nvidia_gpunet,
)
from PyTorch.Classification.ConvNets.image_classification.models import nvidia_convnets_processing_utils
from PyTorch.Detection.SSD.hubconf import nvidia_ssd, nvidia_ssd_processing_utils
from PyTorch.SpeechSynthesis.Tacotron2.tacotron2 import nvidia_tacotron2, nvidia_tts_utils
from PyTorch.SpeechSynthesis.Tacotron2.waveglow import nvidia_waveglow
from PyTorch.SpeechSynthesis.HiFiGAN.entrypoints import nvidia_hifigan, nvidia_fastpitch, nvidia_textprocessing_utils
