# Stand-in hubconf.py for intel-isl/MiDaS (default branch master).
dependencies = ["torch"]

import torch


def DPT_BEiT_L_512(pretrained=True, **kwargs):
    raise NotImplementedError


def DPT_Large(pretrained=True, **kwargs):
    raise NotImplementedError


def DPT_Hybrid(pretrained=True, **kwargs):
    raise NotImplementedError


def MiDaS(pretrained=True, **kwargs):
    raise NotImplementedError


def MiDaS_small(pretrained=True, **kwargs):
    raise NotImplementedError


def transforms():
    raise NotImplementedError
