"""The adjust layer between backbone and heads (the release's 1024 -> 256 ``ResDownS``)."""

from __future__ import annotations

import torch
from torch import nn


class Adjust(nn.Module):
    """1x1 conv + BN to the head width; template features also lose a border (the 7x7 centre crop).

    Cropping the template's padded border keeps the exemplar's correlation kernel to the object and its
    context (15x15 -> 7x7 in the release; 16x16 -> 8x8 for timm ResNets whose stem is padded).
    """

    def __init__(self, in_channels: int, out_channels: int = 256, template_border: int = 4) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.template_border = template_border
        self.downsample = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=False),
                                        nn.BatchNorm2d(out_channels))

    def forward(self, feature: torch.Tensor) -> torch.Tensor:
        return self.downsample(feature)

    def template(self, feature: torch.Tensor) -> torch.Tensor:
        b = self.template_border
        out = self.downsample(feature)
        return out[:, :, b:out.shape[2] - b, b:out.shape[3] - b] if b > 0 else out
