# Stand-in hubconf.py for facebookresearch/semi-supervised-ImageNet1K-models.
dependencies = ["torch", "torchvision"]

__all__ = ["resnet18_ssl", "resnet50_ssl", "resnext50_32x4d_ssl", "resnext101_32x4d_ssl", "resnet18_swsl",
           "resnet50_swsl", "resnext50_32x4d_swsl", "resnext101_32x4d_swsl"]


def _resnext(url, block, layers, pretrained, progress, **kwargs):
    raise NotImplementedError


def resnet18_ssl(progress=True, **kwargs):
    return _resnext("ssl", None, [2, 2, 2, 2], True, progress, **kwargs)
