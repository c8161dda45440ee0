"""Depthwise cross-correlation and the heads built on it (SiamRPN++ / SiamMask, §3.2)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


def depthwise_xcorr(search: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Correlate each channel of ``search`` (B, C, H, W) with the same channel of ``kernel`` (B, C, h, w).

    One grouped convolution over the whole batch, so it exports to ONNX without loops. ONNX fixes a convolution's
    group count in the graph, so the export takes :func:`_depthwise_xcorr_any_batch` instead, whose groups do not
    depend on the number of targets.
    """
    if torch.onnx.is_in_onnx_export():
        return _depthwise_xcorr_any_batch(search, kernel)
    batch, channels = kernel.shape[:2]
    out = F.conv2d(search.reshape(1, batch * channels, search.shape[2], search.shape[3]),
                   kernel.reshape(batch * channels, 1, kernel.shape[2], kernel.shape[3]), groups=batch * channels)
    return out.reshape(batch, channels, out.shape[2], out.shape[3])


def _depthwise_xcorr_any_batch(search: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """:func:`depthwise_xcorr` as one convolution with one group per channel: group ``c`` holds channel ``c`` of
    every target and a diagonal kernel, so the number of targets is a dimension of the data, not of the graph.

    B targets cost B times the grouped convolution's multiplications (the zeros off the diagonal); the
    correlation is a small part of the search branch.
    """
    batch = kernel.shape[0]
    channels, height, width = (int(size) for size in kernel.shape[1:])  # constants of the graph
    rows = search.transpose(0, 1).reshape(1, -1, int(search.shape[2]), int(search.shape[3]))  # (1, C*B, H, W)
    targets = torch.arange(batch, device=kernel.device)
    diagonal = (targets.view(-1, 1) == targets.view(1, -1)).to(kernel.dtype)  # (B, B)
    weight = kernel.transpose(0, 1).unsqueeze(2) * diagonal.view(1, batch, batch, 1, 1)  # (C, B, B, h, w)
    out = _GroupedConv.apply(rows, weight.reshape(channels * batch, batch, height, width), channels)
    return out.reshape(channels, batch, out.shape[2], out.shape[3]).transpose(0, 1)


class _GroupedConv(torch.autograd.Function):
    """A grouped convolution exported as a plain ONNX ``Conv``: the exporter's own rule wants the kernel's shape
    known at export, which a kernel built from the number of targets does not have."""

    @staticmethod
    def forward(ctx: object, inputs: torch.Tensor, weight: torch.Tensor, groups: int) -> torch.Tensor:
        return F.conv2d(inputs, weight, groups=groups)

    @staticmethod
    def symbolic(graph: Any, inputs: object, weight: object, groups: int) -> object:  # Any: torch's private graph type
        return graph.op("Conv", inputs, weight, group_i=groups)


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
