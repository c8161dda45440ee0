"""Cross-correlations of template and search features, and the heads built on them.

Three ways to compare a template with every search position, one choice of :class:`XCorrHead`
(``model.head.correlation``):

- ``depthwise`` (SiamRPN++, Li et al. 2019, §3.4; SiamMask §3.2): each channel of the template correlates with the
  same channel of the search feature, C output maps;
- ``up_channel`` (SiamRPN, Li et al. 2018, §3.2): the template is lifted to ``width`` kernels of C channels and
  correlated as a full convolution, ``width`` output maps;
- ``pixelwise`` (Alpha-Refine, Yan et al. 2021, §3.2; SiamGAT, Guo et al. 2021, §3.2): every template position is
  a 1x1 kernel; the similarities of a search position to all template positions weigh the template features
  gathered there (SiamGAT's graph attention), fused with the search feature to C maps.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

CORRELATIONS = ("depthwise", "up_channel", "pixelwise")


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
    weight = kernel.transpose(0, 1).unsqueeze(2) * _diagonal(kernel).view(1, batch, batch, 1, 1)  # (C, B, B, h, w)
    out = _GroupedConv.apply(rows, weight.reshape(channels * batch, batch, height, width), channels)
    return out.reshape(channels, batch, out.shape[2], out.shape[3]).transpose(0, 1)


def per_sample_conv(search: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Convolve sample ``b`` of ``search`` (B, C, H, W) with its own kernels ``weight[b]`` (B, O, C, h, w).

    Eagerly one convolution with a group per sample; exported, one convolution with a block-diagonal kernel, so
    the number of targets stays a dimension of the data (as :func:`_depthwise_xcorr_any_batch`).
    """
    batch = weight.shape[0]
    outputs, channels, height, width = (int(size) for size in weight.shape[1:])
    rows = search.reshape(1, -1, int(search.shape[2]), int(search.shape[3]))  # (1, B*C, H, W), sample-major
    if torch.onnx.is_in_onnx_export():
        blocks = weight.unsqueeze(2) * _diagonal(weight).view(batch, 1, batch, 1, 1, 1)  # (B, O, B, C, h, w)
        out = _GroupedConv.apply(rows, blocks.reshape(-1, batch * channels, height, width), 1)
    else:
        out = F.conv2d(rows, weight.reshape(-1, channels, height, width), groups=batch)
    return out.reshape(batch, outputs, out.shape[2], out.shape[3])


def _diagonal(like: torch.Tensor) -> torch.Tensor:
    """(B, B) identity of the batch size of ``like``, built from its shape so an export keeps B dynamic."""
    targets = torch.arange(like.shape[0], device=like.device)
    return (targets.view(-1, 1) == targets.view(1, -1)).to(like.dtype)


class _GroupedConv(torch.autograd.Function):
    """A grouped convolution exported as a plain ONNX ``Conv``: the exporter's own rule wants the kernel's shape
    known at export, which a kernel built from the number of targets does not have."""

    @staticmethod
    def forward(ctx: object, inputs: torch.Tensor, weight: torch.Tensor, groups: int) -> torch.Tensor:
        return F.conv2d(inputs, weight, groups=groups)

    @staticmethod
    def symbolic(graph: Any, inputs: object, weight: object, groups: int) -> object:  # Any: torch's private graph type
        return graph.op("Conv", inputs, weight, group_i=groups)


def pixelwise_similarity(search: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """(B, h*w, H, W): channel ``j`` is the dot product of every search position with template position ``j``
    (row-major), i.e. the template's positions as 1x1 kernels (Alpha-Refine's pixel-wise correlation). A batched
    matrix product: ONNX ``MatMul`` with any number of targets."""
    product = torch.matmul(kernel.flatten(2).transpose(1, 2), search.flatten(2))  # (B, h*w, H*W)
    return product.reshape(kernel.shape[0], -1, search.shape[2], search.shape[3])


def _conv_bn_relu(in_channels: int, out_channels: int, kernel: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel, bias=False), nn.BatchNorm2d(out_channels),
                         nn.ReLU(inplace=True))


class DepthwiseCorrelation(nn.Module):
    """SiamRPN++'s depthwise correlation: C maps from C channels, no parameters (the release's weights map on)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.out_channels = channels

    def forward(self, kernel: torch.Tensor, search: torch.Tensor) -> torch.Tensor:
        return depthwise_xcorr(search, kernel)


class UpChannelCorrelation(nn.Module):
    """SiamRPN's up-channel correlation: a 1x1 convolution lifts the template feature to ``width`` kernels of C
    channels, each correlated with the whole search feature.

    SiamRPN lifts with its 3x3 template convolution straight to 2k / 4k kernels and reads the outputs as scores
    and deltas; here the lift follows the head's 3x3 template convolution, and the ``width`` maps feed the same 1x1
    decoder as the other correlations (the mask head needs a correlation feature, not its 3969 outputs).
    """

    def __init__(self, channels: int, width: int) -> None:
        super().__init__()
        self.out_channels = width
        self.lift = nn.Conv2d(channels, channels * width, 1)

    def forward(self, kernel: torch.Tensor, search: torch.Tensor) -> torch.Tensor:
        lifted = self.lift(kernel)
        return per_sample_conv(search, lifted.reshape(lifted.shape[0], self.out_channels, -1, lifted.shape[2],
                                                      lifted.shape[3]))


class PixelwiseCorrelation(nn.Module):
    """Every template position as a 1x1 kernel (:func:`pixelwise_similarity`); per search position, the softmax of
    its similarities (scaled by 1 / sqrt(C), as dot-product attention) weighs the template features, and a 1x1
    convolution fuses them with the search feature (SiamGAT's graph attention with the template convolution as
    its projections; SiamGAT uses no scaling and separate value projections).

    The maps are cut to the depthwise correlation's positions ((H - h + 1) squared), so the response geometry
    (position centres, RoW windows) is the same for every correlation; for an even template width the map is first
    averaged over 2x2 cells, whose centres then fall where the depthwise map's do.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.out_channels = channels
        self.scale = 1.0 / math.sqrt(channels)
        self.fuse = _conv_bn_relu(2 * channels, channels, 1)

    def forward(self, kernel: torch.Tensor, search: torch.Tensor) -> torch.Tensor:
        attention = (pixelwise_similarity(search, kernel) * self.scale).softmax(dim=1).flatten(2)  # (B, h*w, H*W)
        values = torch.matmul(kernel.flatten(2), attention).reshape(search.shape)
        fused = self.fuse(torch.cat([values, search], dim=1))
        template_size, search_size = int(kernel.shape[-1]), int(search.shape[-1])
        if template_size % 2 == 0:
            fused = F.avg_pool2d(fused, 2, stride=1)
        start = (template_size - 1) // 2  # the centre cell (odd width) or the pooled cell between the two
        size = search_size - template_size + 1
        return fused[:, :, start:start + size, start:start + size]


Correlation = DepthwiseCorrelation | UpChannelCorrelation | PixelwiseCorrelation


def build_correlation(kind: str, channels: int, up_channel_width: int) -> Correlation:
    """The correlation named by ``model.head.correlation``; its ``out_channels`` is the head's correlation width."""
    if kind == "depthwise":
        return DepthwiseCorrelation(channels)
    if kind == "up_channel":
        return UpChannelCorrelation(channels, up_channel_width)
    if kind == "pixelwise":
        return PixelwiseCorrelation(channels)
    raise ValueError(f"model.head.correlation={kind!r}: choose one of {CORRELATIONS}")


class XCorrHead(nn.Module):
    """Template and search each get a 3x3 conv, are correlated (``correlation``), then a 1x1 head decodes.

    ``correlate`` and ``decode`` are separate because the mask head decodes only chosen positions
    (the head is 1x1, so decoding a gathered (N, C, 1, 1) vector equals decoding the full map there),
    and the refine module starts from the correlation feature itself (``correlation_channels`` wide).
    """

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int = 256,
                 correlation: str = "depthwise", up_channel_width: int = 16) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.hidden_channels = hidden_channels
        self.conv_kernel = _conv_bn_relu(in_channels, hidden_channels, 3)
        self.conv_search = _conv_bn_relu(in_channels, hidden_channels, 3)
        self.xcorr: Correlation = build_correlation(correlation, hidden_channels, up_channel_width)
        self.correlation_channels = self.xcorr.out_channels
        self.head = nn.Sequential(nn.Conv2d(self.correlation_channels, hidden_channels, 1, bias=False),
                                  nn.BatchNorm2d(hidden_channels), nn.ReLU(inplace=True),
                                  nn.Conv2d(hidden_channels, out_channels, 1))

    def correlate(self, template: torch.Tensor, search: torch.Tensor) -> torch.Tensor:
        return self.xcorr(self.conv_kernel(template), self.conv_search(search))

    def decode(self, correlation: torch.Tensor) -> torch.Tensor:
        return self.head(correlation)

    def forward(self, template: torch.Tensor, search: torch.Tensor) -> torch.Tensor:
        return self.decode(self.correlate(template, search))


class MultiLevelHead(nn.Module):
    """SiamRPN++'s layer-wise aggregation (Li et al. 2019, §3.3): one :class:`XCorrHead` per backbone level, their
    outputs summed with softmax-normalised learned weights.

    Inputs are the levels' features side by side on the channel axis (``levels`` x ``in_channels``, as
    :class:`siammask.models.neck.MultiLevelAdjust` gives them), so the template feature stays one tensor for the
    tracker's cache and the exported graphs.
    """

    def __init__(self, in_channels: int, out_channels: int, levels: int, hidden_channels: int = 256,
                 correlation: str = "depthwise", up_channel_width: int = 16) -> None:
        super().__init__()
        if levels < 2:
            raise ValueError(f"a multi-level head needs at least 2 levels, got levels={levels}: use "
                             f"model/head=depthwise for one")
        self.out_channels = out_channels
        self.in_channels = in_channels
        self.levels = nn.ModuleList(XCorrHead(in_channels, out_channels, hidden_channels, correlation,
                                              up_channel_width) for _ in range(levels))
        self.level_weights = nn.Parameter(torch.zeros(levels))  # softmax: equal weights at the start (SiamRPN++)

    def forward(self, template: torch.Tensor, search: torch.Tensor) -> torch.Tensor:
        weights = self.level_weights.softmax(0)
        outputs = [head(t, s) for head, t, s in zip(self.levels, template.split(self.in_channels, dim=1),
                                                    search.split(self.in_channels, dim=1))]
        return (torch.stack(outputs) * weights.view(-1, 1, 1, 1, 1)).sum(0)
