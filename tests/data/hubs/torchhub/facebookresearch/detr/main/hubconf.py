# Stand-in hubconf.py for facebookresearch/detr: one top-level def per entrypoint.
import torch

dependencies = ["torch", "torchvision"]


def _make_detr(backbone_name, dilation=False, num_classes=91, mask=False):
    raise NotImplementedError


def detr_resnet50(pretrained=False, num_classes=91, return_postprocessor=False):
    return _make_detr("resnet50")


def detr_resnet50_dc5(pretrained=False, num_classes=91, return_postprocessor=False):
    return _make_detr("resnet50", dilation=True)


def detr_resnet101(pretrained=False, num_classes=91, return_postprocessor=False):
    return _make_detr("resnet101")


def detr_resnet101_dc5(pretrained=False, num_classes=91, return_postprocessor=False):
    return _make_detr("resnet101", dilation=True)


def detr_resnet50_panoptic(pretrained=False, num_classes=250, threshold=0.85, return_postprocessor=False):
    return _make_detr("resnet50", mask=True)


def detr_resnet50_dc5_panoptic(pretrained=False, num_classes=91, threshold=0.85, return_postprocessor=False):
    return _make_detr("resnet50", dilation=True, mask=True)


def detr_resnet101_panoptic(pretrained=False, num_classes=91, threshold=0.85, return_postprocessor=False):
    return _make_detr("resnet101", mask=True)
