"""Depthwise cross-correlation and the heads built on it (SiamRPN++ / SiamMask, §3.2)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def depthwise_xcorr(search: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Correlate each channel of ``search`` (B, C, H, W) with the same channel of ``kernel`` (B, C, h, w).

    One grouped convolution over the whole batch, so it exports to ONNX without loops.
    """
    batch, channels = kernel.shape[:2]
    out = F.conv2d(search.reshape(1, batch * channels, search.shape[2], search.shape[3]),
                   kernel.reshape(batch * channels, 1, kernel.shape[2], kernel.shape[3]), groups=batch * channels)
    return out.reshape(batch, channels, out.shape[2], out.shape[3])


def _conv_bn_relu(in_channels: int, out_channels: int, kernel: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel, bias=False), nn.BatchNorm2d(out_channels),
                         nn.ReLU(inplace=True))


class XCorrHead(nn.Module):
    """Template and search each get a 3x3 conv, are correlated depthwise, then a 1x1 head decodes.

    ``correlate`` and ``decode`` are separate because the mask head decodes only chosen positions
    (the head is 1x1, so decoding a gathered (N, C, 1, 1) vector equals decoding the full map there),
    and the refine module starts from the correlation feature itself.
    """

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int = 256) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.hidden_channels = hidden_channels
        self.conv_kernel = _conv_bn_relu(in_channels, hidden_channels, 3)
        self.conv_search = _conv_bn_relu(in_channels, hidden_channels, 3)
        self.head = nn.Sequential(nn.Conv2d(hidden_channels, hidden_channels, 1, bias=False),
                                  nn.BatchNorm2d(hidden_channels), nn.ReLU(inplace=True),
                                  nn.Conv2d(hidden_channels, out_channels, 1))

    def correlate(self, template: torch.Tensor, search: torch.Tensor) -> torch.Tensor:
        return depthwise_xcorr(self.conv_search(search), self.conv_kernel(template))

    def decode(self, correlation: torch.Tensor) -> torch.Tensor:
        return self.head(correlation)

    def forward(self, template: torch.Tensor, search: torch.Tensor) -> torch.Tensor:
        return self.decode(self.correlate(template, search))
