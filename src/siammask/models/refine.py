"""The SharpMask-style refinement module of SiamMask-sharp (paper §3.3, Fig. 3).

Starting from the 1x1 correlation feature of one response of a candidate window (RoW), a
deconvolution opens it to 15x15; three merge stages then add the search crop's backbone features at
strides 8, 4 and 2 (each cut to the RoW's window) and upsample to the 127x127 mask.

Backbones without a map at one of these strides (ConvNeXt and most hierarchical transformers start at
stride 4) give the next coarser map instead, upsampled to the missing stride before its window is cut:
the window covers the same part of the crop, only with less detail.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn

from siammask.models.windows import gather_windows, window_offset

# Window of each skip level in cells (strides 8, 4, 2) and the size it is upsampled to before the
# next merge: the release's 15 -> 31 -> 61 -> 127 pyramid.
WINDOW_CELLS = (15, 31, 61)
OUTPUT_SIZE = 127
LEVEL_STRIDES = (2, 4, 8)  # the skip strides of the release's ResNet-50 (conv1, layer1, layer2)


class MaskRefine(Protocol):
    """What a refinement module gives the network, the tracker, the training targets and the exporter.

    ``decode`` turns the search branch's outputs into mask logits (N, ``output_size``, ``output_size``) for N
    queries: a pair (``batch_index``), the chosen response (``rows``, ``cols``) and the tracked box
    (``centred_boxes_xyxy``, search-crop pixels from the crop's centre; None where no box is known).
    ``mask_windows_xyxy`` says which square of the search crop each mask covers: the training labels are cut
    there and the tracker pastes the mask back from there. ``positions_per_pair``: the most queries per training
    pair worth decoding (None: every positive RoW, as the release trains). ``training_boxes`` turns the pairs'
    ground-truth boxes into the boxes the refine is trained on (a perturbation, or the boxes themselves).
    """

    output_size: int
    positions_per_pair: int | None

    def decode(self, skips: Sequence[torch.Tensor], mask_corr: torch.Tensor, batch_index: torch.Tensor,
               rows: torch.Tensor, cols: torch.Tensor, centred_boxes_xyxy: torch.Tensor | None) -> torch.Tensor: ...

    def mask_windows_xyxy(self, row_windows_xyxy: torch.Tensor, boxes_xyxy: torch.Tensor) -> torch.Tensor: ...

    def training_boxes(self, boxes_xyxy: torch.Tensor) -> torch.Tensor: ...


def activation(negative_slope: float) -> nn.Module:
    return nn.LeakyReLU(negative_slope, inplace=True) if negative_slope else nn.ReLU(inplace=True)


def _conv_relu_pair(in_channels: int, hidden: int, out_channels: int, negative_slope: float,
                    batch_norm: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    for conv_in, conv_out in ((in_channels, hidden), (hidden, out_channels)):
        layers.append(nn.Conv2d(conv_in, conv_out, 3, padding=1, bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm2d(conv_out))
        layers.append(activation(negative_slope))
    return nn.Sequential(*layers)


class Refine(nn.Module):
    """``skip_channels`` / ``skip_reductions``: the backbone maps feeding the levels at strides (2, 4, 8), each at
    that stride or coarser by a whole factor (upsampled); widths default to the release's.

    ``kaiming_a``: None keeps PyTorch's initialisation (``kaiming_uniform_`` with a = sqrt(5)); the release
    draws the convolution weights with a = 1 (experiments/siammask_sharp/custom.py, Refine).

    ``negative_slope``: 0 keeps the release's ReLUs; > 0 uses LeakyReLUs. Trained from scratch, a whole 4-channel
    level can die (every output zero for good): a dead ``h0`` cuts the target's coarse mask from the output, a dead
    ``v0`` its detail, and which one dies depends on the run.

    ``batch_norm``: a BatchNorm after each convolution of the levels. The release has none: its refine is trained
    on a converged, pretrained backbone; from scratch, the skip features' scales drift while the refine learns.
    """

    output_size = OUTPUT_SIZE
    positions_per_pair = None  # each RoW has its own mask: the release trains every positive one

    def __init__(self, skip_channels: Sequence[int], corr_channels: int,
                 skip_reductions: Sequence[int] = LEVEL_STRIDES, level_channels: Sequence[int] = (4, 16, 32),
                 hidden_channels: Sequence[int] = (16, 64, 128), kaiming_a: float | None = None,
                 negative_slope: float = 0.0, batch_norm: bool = False) -> None:
        super().__init__()
        if len(skip_channels) != 3 or len(skip_reductions) != 3:
            raise ValueError(f"refine needs one skip map per stride {LEVEL_STRIDES}; got {len(skip_channels)} "
                             f"channels and reductions {tuple(skip_reductions)}")
        for stride, reduction in zip(LEVEL_STRIDES, skip_reductions):
            if reduction < stride or reduction % stride:
                raise ValueError(f"refine's stride-{stride} level needs a backbone map at stride {stride} or a whole "
                                 f"multiple of it, got stride {reduction} (skip strides {tuple(skip_reductions)})")
        self.skip_reductions = tuple(skip_reductions)
        self.output_size = OUTPUT_SIZE  # side of the mask logits it decodes (the network reads it)
        self.upsample = tuple(reduction // stride for stride, reduction in zip(LEVEL_STRIDES, skip_reductions))
        c0, c1, c2 = level_channels
        self.v0 = _conv_relu_pair(skip_channels[0], hidden_channels[0], c0, negative_slope, batch_norm)
        self.v1 = _conv_relu_pair(skip_channels[1], hidden_channels[1], c1, negative_slope, batch_norm)
        self.v2 = _conv_relu_pair(skip_channels[2], hidden_channels[2], c2, negative_slope, batch_norm)
        self.h0 = _conv_relu_pair(c0, c0, c0, negative_slope, batch_norm)
        self.h1 = _conv_relu_pair(c1, c1, c1, negative_slope, batch_norm)
        self.h2 = _conv_relu_pair(c2, c2, c2, negative_slope, batch_norm)
        self.deconv = nn.ConvTranspose2d(corr_channels, c2, WINDOW_CELLS[0], WINDOW_CELLS[0])
        self.post0 = nn.Conv2d(c2, c1, 3, padding=1)
        self.post1 = nn.Conv2d(c1, c0, 3, padding=1)
        self.post2 = nn.Conv2d(c0, 1, 3, padding=1)
        if kaiming_a is not None:  # the release re-draws its convolutions (not the deconvolution, not biases)
            for module in self.modules():
                if isinstance(module, nn.Conv2d):
                    nn.init.kaiming_uniform_(module.weight, a=kaiming_a)

    def mask_windows_xyxy(self, row_windows_xyxy: torch.Tensor, boxes_xyxy: torch.Tensor) -> torch.Tensor:
        """A RoW's mask covers the RoW's own window; the box takes no part."""
        return row_windows_xyxy

    def training_boxes(self, boxes_xyxy: torch.Tensor) -> torch.Tensor:
        """The box takes no part in a RoW's mask."""
        return boxes_xyxy

    def decode(self, skips: Sequence[torch.Tensor], mask_corr: torch.Tensor, batch_index: torch.Tensor,
               rows: torch.Tensor, cols: torch.Tensor, centred_boxes_xyxy: torch.Tensor | None) -> torch.Tensor:
        """:meth:`forward` from the whole correlation map (B, C, S, S): each RoW starts from its own 1x1 vector."""
        corr = gather_windows(mask_corr, batch_index, rows, cols, window=1, step=1, offset=0)
        return self(skips, corr, batch_index, rows, cols, mask_corr.shape[-1])

    def forward(self, skips: Sequence[torch.Tensor], corr_vectors: torch.Tensor, batch_index: torch.Tensor,
                rows: torch.Tensor, cols: torch.Tensor, score_size: int, stride: int = 8) -> torch.Tensor:
        """Mask logits (N, 127, 127) for the RoWs at (batch_index, rows, cols) of an S x S response map.

        ``skips``: search-crop features at ``skip_reductions``; ``corr_vectors``: (N, C, 1, 1).
        """
        windows = []
        for skip, cells, level_stride, factor in zip(skips, reversed(WINDOW_CELLS), LEVEL_STRIDES, self.upsample):
            if factor > 1:
                skip = F.interpolate(skip, scale_factor=factor, mode="bilinear", align_corners=False)
            step = stride // level_stride
            offset = window_offset(skip.shape[-1], cells, step, score_size)
            windows.append(gather_windows(skip, batch_index, rows, cols, cells, step, offset))
        p0, p1, p2 = windows
        out = self.deconv(corr_vectors)
        out = self.post0(F.interpolate(self.h2(out) + self.v2(p2), size=WINDOW_CELLS[1]))
        out = self.post1(F.interpolate(self.h1(out) + self.v1(p1), size=WINDOW_CELLS[2]))
        out = self.post2(F.interpolate(self.h0(out) + self.v0(p0), size=self.output_size))
        return out.squeeze(1)

