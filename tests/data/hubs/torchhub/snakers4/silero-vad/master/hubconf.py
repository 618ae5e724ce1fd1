# Stand-in hubconf.py for snakers4/silero-vad.
dependencies = ["torch", "torchaudio"]

import torch
from silero_vad.utils_vad import init_jit_model, get_speech_timestamps, save_audio, read_audio, VADIterator


def silero_vad(onnx=False, force_onnx_cpu=False, opset_version=16):
    raise NotImplementedError
