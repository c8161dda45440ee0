"""The ResNet-50 of the official SiamMask release, layer for layer, so its checkpoints map onto it.

It differs from torchvision's ResNet-50 where the release differs: no padding in the stem
convolution, no padding in the strided 3x3 convolutions, a 3x3 (not 1x1) projection shortcut when
the stride or dilation changes, and conv4 (``layer3``) with stride 1 and dilation 2 instead of
stride 2; conv5 is not used. Feature sizes: 127 -> 15x15, 255 -> 31x31 at the last stage.
"""

from __future__ import annotations

import torch
from torch import nn

from siammask.models.backbones import Backbone, InputNormalization
from siammask.weights import load_backbone_weights

EXPANSION = 4


def _conv_bn(in_channels: int, out_channels: int, kernel: int, stride: int = 1, padding: int = 0,
             dilation: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(in_channels, out_channels, kernel, stride, padding, dilation=dilation, bias=False),
            nn.BatchNorm2d(out_channels)]


class Bottleneck(nn.Module):
    """1x1 -> 3x3 -> 1x1 residual block; the 3x3 has padding 0 when strided (release choice)."""

    def __init__(self, in_channels: int, planes: int, stride: int = 1, dilation: int = 1,
                 downsample: nn.Module | None = None) -> None:
        super().__init__()
        padding = dilation if stride == 1 else 0
        self.conv1 = nn.Conv2d(in_channels, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, padding, dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * EXPANSION, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * EXPANSION)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


def _layer(in_channels: int, planes: int, blocks: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    """A stage; its first block enters with half the stage's dilation, as in the release."""
    out_channels = planes * EXPANSION
    downsample = None
    first_dilation = dilation
    if stride != 1 or in_channels != out_channels:
        if stride == 1 and dilation == 1:
            downsample = nn.Sequential(*_conv_bn(in_channels, out_channels, 1, stride))
        else:
            first_dilation = max(dilation // 2, 1)
            padding = first_dilation if dilation > 1 else 0
            downsample = nn.Sequential(*_conv_bn(in_channels, out_channels, 3, stride, padding, first_dilation))
    layers = [Bottleneck(in_channels, planes, stride, first_dilation, downsample)]
    layers += [Bottleneck(out_channels, planes, dilation=dilation) for _ in range(1, blocks)]
    return nn.Sequential(*layers)


class PaperResNet50(Backbone):
    """Returns [conv1 (64ch, stride 2), layer1 (256, 4), layer2 (512, 8), layer3 (1024, 8)].

    ``out_indices`` selects among these four, like timm's ``features_only``. Input is the project's
    RGB 0-255; the release's weights expect raw BGR 0-255, which ``normalize`` produces.
    """

    def __init__(self, out_indices: tuple[int, ...] = (0, 1, 2, 3), checkpoint_path: str | None = None) -> None:
        super().__init__()
        self.normalize = InputNormalization(bgr=True, scale_to_unit=False)
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=0, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = _layer(64, 64, 3)
        self.layer2 = _layer(256, 128, 4, stride=2)
        self.layer3 = _layer(512, 256, 6, stride=1, dilation=2)
        all_channels, all_reductions = [64, 256, 512, 1024], [2, 4, 8, 8]
        self.out_indices = tuple(out_indices)
        self.channels = [all_channels[i] for i in self.out_indices]
        self.reductions = [all_reductions[i] for i in self.out_indices]
        if checkpoint_path:
            load_backbone_weights(self, checkpoint_path)

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        c1 = self.relu(self.bn1(self.conv1(self.normalize(image))))
        l1 = self.layer1(self.maxpool(c1))
        l2 = self.layer2(l1)
        l3 = self.layer3(l2)
        stages = (c1, l1, l2, l3)
        return [stages[i] for i in self.out_indices]
