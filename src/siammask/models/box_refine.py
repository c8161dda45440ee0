"""A box-conditioned mask decoder: the mask of the tracked box, not of a response window (RoW).

SiamMask's refine (:mod:`siammask.models.refine`) decodes the mask of the RoW the score chose, from that one
response's 1x1 correlation vector; the box head's answer takes no part. Here the tracked box does: the search
crop's backbone maps and the mask branch's whole correlation map are cut to a square window around the box with
RoI Align (Mask R-CNN), and an upsampling decoder with skip connections turns them into the window's mask. This
is the direction of Siam R-CNN (Voigtlaender et al., CVPR 2020: a Mask R-CNN head on the RoI-aligned features of
the tracked box), Alpha-Refine (Yan et al., CVPR 2021: a refinement stage given the base tracker's box, cropping
around it, correlating with the template, upsampling with backbone skips to a mask) and D3S (Lukežič et al.,
CVPR 2020: a segmentation decoder over the search features and a template-matching map, upsampled with skips).

Where it differs from them (conf/model/refine/box.yaml says it too): one backbone and one correlation shared with
the score / box heads (the mask branch's depthwise correlation, not a second network or a pixel-wise correlation),
no separate box refinement, the window is SiamMask's context square of the box (so the mask's resolution follows
the target's size, as the RoW's does), and it is trained with SiamMask's per-pixel logistic loss on the
ground-truth box of each pair.

Feature maps are read as centred on the crop (:mod:`siammask.models.windows`' convention): a map of ``H`` cells
at stride ``s`` has cell ``i``'s centre at ``crop_centre + (i - (H - 1) / 2) s``. Boxes therefore come in
search-crop pixels measured from the crop's centre, which makes the decoder independent of the crop size.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import roi_align

from siammask.models.refine import LEVEL_STRIDES, activation
from siammask.models.windows import box_windows_xyxy

ROI_SAMPLES = 2  # RoI Align samples per bin and axis (Mask R-CNN); fixed, so ONNX's RoiAlign samples alike


def _conv_relu(in_channels: int, out_channels: int, negative_slope: float, batch_norm: bool,
               kernel: int = 3) -> nn.Sequential:
    conv = nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2, bias=not batch_norm)
    norm = [nn.BatchNorm2d(out_channels)] if batch_norm else []
    return nn.Sequential(conv, *norm, activation(negative_slope))


def roi_align_centred(feature: torch.Tensor, batch_index: torch.Tensor, centred_windows_xyxy: torch.Tensor,
                      stride: float, size: int) -> torch.Tensor:
    """(B, C, H, W) map at ``stride`` -> (N, C, size, size): each window (search-crop pixels from the crop's
    centre) cut from the map read as centred on the crop, resampled with RoI Align."""
    height, width = int(feature.shape[-2]), int(feature.shape[-1])  # constants of an exported graph
    centre = torch.tensor([width / 2, height / 2, width / 2, height / 2], dtype=feature.dtype, device=feature.device)
    rois = torch.cat([batch_index.to(feature.dtype).view(-1, 1), centred_windows_xyxy / stride + centre], dim=1)
    return roi_align(feature, rois, size, spatial_scale=1.0, sampling_ratio=ROI_SAMPLES, aligned=True)


class BoxRefine(nn.Module):
    """Mask logits (N, 4 ``roi_size``, 4 ``roi_size``) of each query box's window.

    ``skip_channels`` / ``skip_reductions``: the backbone maps feeding the levels at strides (2, 4, 8) (the same
    maps as :class:`~siammask.models.Refine`; :func:`~siammask.models.network.refine_skip_indices` picks them);
    any stride works, RoI Align reads each map at its own. ``corr_channels``: width of the mask correlation map.
    ``roi_size``: bins of the coarsest level (the correlation map and the stride-8 map); each finer level doubles
    it. ``channels``: decoder widths per level, coarse to fine. ``context_amount``: the window around the box
    (:func:`~siammask.models.windows.box_windows_xyxy`). ``negative_slope`` (LeakyReLUs when > 0) and
    ``batch_norm`` (after every convolution but the last) as in :class:`~siammask.models.Refine`, for training
    from scratch. ``box_jitter``: training boxes are the ground truth moved by up to this fraction of its size and
    each side scaled by up to ``exp(±box_jitter)`` (uniform), so the decoder learns the mask of a tracked box that
    is off, as Alpha-Refine and Siam R-CNN train on perturbed boxes / proposals; 0 trains on the exact box.
    """

    positions_per_pair = 1  # the mask depends on the box, not on the RoW: one query per training pair suffices

    def __init__(self, skip_channels: Sequence[int], corr_channels: int,
                 skip_reductions: Sequence[int] = LEVEL_STRIDES, roi_size: int = 16,
                 channels: Sequence[int] = (64, 32, 16), context_amount: float = 0.5, negative_slope: float = 0.0,
                 batch_norm: bool = False, box_jitter: float = 0.0) -> None:
        super().__init__()
        if len(skip_channels) != len(LEVEL_STRIDES) or len(skip_reductions) != len(LEVEL_STRIDES):
            raise ValueError(f"the box refine needs one skip map per stride {LEVEL_STRIDES}; got {len(skip_channels)} "
                             f"channels and reductions {tuple(skip_reductions)}")
        if len(channels) != len(LEVEL_STRIDES):
            raise ValueError(f"model.refine.channels needs one width per level ({len(LEVEL_STRIDES)}), got "
                             f"{list(channels)}")
        if roi_size < 1 or context_amount < 0 or not 0 <= box_jitter < 1:
            raise ValueError(f"model.refine.roi_size must be >= 1, context_amount >= 0 and box_jitter in [0, 1), got "
                             f"{roi_size}, {context_amount}, {box_jitter}")
        self.box_jitter = box_jitter
        self.roi_size = roi_size
        self.context_amount = context_amount
        self.output_size = roi_size * 2 ** (len(LEVEL_STRIDES) - 1)
        # coarse to fine: the stride-8 level first, as the decoder runs
        self.skip_reductions = tuple(reversed(skip_reductions))
        widths = list(channels)
        conv = partial(_conv_relu, negative_slope=negative_slope, batch_norm=batch_norm)
        self.corr_in = conv(corr_channels, widths[0], kernel=1)
        self.laterals = nn.ModuleList(conv(c, w) for c, w in zip(reversed(skip_channels), widths))
        self.blocks = nn.ModuleList(conv(w, w) for w in widths)
        self.narrow = nn.ModuleList(conv(w, w_next) for w, w_next in pairwise(widths))
        self.predict = nn.Conv2d(widths[-1], 1, 3, padding=1)

    def training_boxes(self, boxes_xyxy: torch.Tensor) -> torch.Tensor:
        """The ground-truth boxes (N, 4) xyxy perturbed by ``box_jitter`` (class docstring)."""
        if not self.box_jitter:
            return boxes_xyxy
        size = boxes_xyxy[:, 2:] - boxes_xyxy[:, :2]
        draw = (torch.rand(boxes_xyxy.shape[0], 4, device=boxes_xyxy.device) * 2 - 1) * self.box_jitter
        centre = (boxes_xyxy[:, :2] + boxes_xyxy[:, 2:]) / 2 + draw[:, :2] * size
        half = size * torch.exp(draw[:, 2:]) / 2
        return torch.cat([centre - half, centre + half], dim=1)

    def mask_windows_xyxy(self, row_windows_xyxy: torch.Tensor, boxes_xyxy: torch.Tensor) -> torch.Tensor:
        """The square around each box its mask covers (in the boxes' coordinates); the RoWs take no part."""
        return box_windows_xyxy(boxes_xyxy, self.context_amount)

    def decode(self, skips: Sequence[torch.Tensor], mask_corr: torch.Tensor, batch_index: torch.Tensor,
               rows: torch.Tensor, cols: torch.Tensor, centred_boxes_xyxy: torch.Tensor | None,
               stride: int = LEVEL_STRIDES[-1]) -> torch.Tensor:
        """Mask logits (N, m, m) over the windows of N boxes (search-crop pixels from the crop's centre) of the
        pairs ``batch_index``; ``mask_corr`` (B, C, S, S) is the mask branch's correlation at ``stride``."""
        if centred_boxes_xyxy is None:
            raise ValueError("the box refine (model/refine=box) decodes the mask of a box: pass the tracked boxes "
                             "(centred_boxes_xyxy) to SiamMask.masks_at")
        windows = self.mask_windows_xyxy(centred_boxes_xyxy, centred_boxes_xyxy)
        out = self.corr_in(roi_align_centred(mask_corr, batch_index, windows, stride, self.roi_size))
        size = self.roi_size
        for level, (skip, reduction) in enumerate(zip(reversed(skips), self.skip_reductions)):
            lateral = self.laterals[level](roi_align_centred(skip, batch_index, windows, reduction, size))
            out = self.blocks[level](out + lateral)
            if level < len(self.narrow):
                size *= 2
                out = self.narrow[level](F.interpolate(out, scale_factor=2.0, mode="bilinear", align_corners=False))
        return self.predict(out).squeeze(1)
