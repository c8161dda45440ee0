"""The SiamMask network: backbone -> adjust -> correlation heads -> (refine).

Plain ``nn.Module``; Lightning, the tracker and ONNX export all use it. The template branch
(:meth:`SiamMask.embed_template`) and the search branch (:meth:`SiamMask.forward`) are separate so a
tracker caches the template, and masks are decoded only where asked (:meth:`SiamMask.masks_at`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from siammask.anchors import AnchorSpec
from siammask.box_coding import BoxDecoder
from siammask.models.backbones import SIAMESE_STRIDE, Backbone
from siammask.models.neck import Adjust, MultiLevelAdjust
from siammask.models.refine import MaskRefine
from siammask.models.windows import gather_windows
from siammask.models.xcorr import MultiLevelHead, XCorrHead

MASK_SIZE = 63  # the mask head's 63x63 = 3969 outputs per RoW (paper §3.2)


@dataclass
class SearchOutput:
    """Per search crop: ``score`` (B, 2k, S, S) softmax logits for three branches with anchors (background channels
    first, as in the release; another box family's layout: :mod:`siammask.box_coding`) or (B, 1, S, S) similarity
    logits for two; ``box`` (B, 4k, S, S) anchor deltas (or the family's box map) or None;
    ``mask_corr`` (B, C, S, S) the mask branch's correlation feature (None when not asked for); ``skips`` backbone
    maps for refine."""

    score: torch.Tensor
    box: torch.Tensor | None
    mask_corr: torch.Tensor | None
    skips: list[torch.Tensor]

    def mask_correlation(self) -> torch.Tensor:
        """``mask_corr``, which decoding masks needs; refused when the search branch left it out."""
        if self.mask_corr is None:
            raise ValueError("decoding masks needs the mask correlation: run the search branch with with_mask=True")
        return self.mask_corr


Neck = Adjust | MultiLevelAdjust
Head = XCorrHead | MultiLevelHead


class SiamMask(nn.Module):
    def __init__(self, backbone: Backbone, neck: Neck, score_head: Head, mask_head: XCorrHead,
                 box_head: Head | None = None, refine: MaskRefine | None = None, mask_size: int = MASK_SIZE,
                 skip_indices: tuple[int, ...] = ()) -> None:
        super().__init__()
        self.backbone = backbone
        self.neck = neck
        self.score_head = score_head
        self.box_head = box_head
        self.mask_head = mask_head
        self.refine = refine
        self.mask_size = mask_size
        self.skip_indices = tuple(skip_indices)

    @property
    def mask_output_size(self) -> int:
        """Side of the masks :meth:`masks_at` decodes (with the refine when there is one)."""
        return self.refine.output_size if self.refine is not None else self.mask_size

    @property
    def mask_positions_per_pair(self) -> int | None:
        """The most mask queries per training pair worth decoding (None: every positive RoW)."""
        return self.refine.positions_per_pair if self.refine is not None else None

    def embed_template(self, template: torch.Tensor) -> torch.Tensor:
        """(B, 3, 127, 127) RGB 0-255 -> template feature (B, C, h, w), computed once per target."""
        return self.neck.template_feature(self.backbone(template))

    def forward(self, template_feature: torch.Tensor, search: torch.Tensor, with_mask: bool = True) -> SearchOutput:
        """The search branch: a search crop (B, 3, 255, 255) RGB 0-255 against cached template features.

        ``with_mask=False`` leaves out the mask branch's correlation (a tracker that reports no masks)."""
        features = self.backbone(search)
        search_feature = self.neck.search_feature(features)
        score = self.score_head(template_feature, search_feature)
        box = self.box_head(template_feature, search_feature) if self.box_head is not None else None
        mask_corr = (self.mask_head.correlate(self.neck.last_level(template_feature),
                                              self.neck.last_level(search_feature)) if with_mask else None)
        return SearchOutput(score, box, mask_corr, [features[i] for i in self.skip_indices])

    def masks_at(self, output: SearchOutput, batch_index: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor,
                 centred_boxes_xyxy: torch.Tensor | None = None, refine: bool = True) -> torch.Tensor:
        """Mask logits (N, m, m) for N queries: the pairs ``batch_index``, their chosen RoWs (``rows``, ``cols``)
        and tracked boxes (N, 4) xyxy in search-crop pixels from the crop's centre (what a box-conditioned refine
        decodes; RoW decoders ignore them). m = 63 from the mask head, the refine's ``output_size`` with one
        (``refine=False`` skips a refine module, as the release's ``test.py --mask`` without ``--refine``); each
        mask covers the window :meth:`mask_windows_xyxy` gives."""
        mask_corr = output.mask_correlation()
        if self.refine is not None and refine:
            return self.refine.decode(output.skips, mask_corr, batch_index, rows, cols, centred_boxes_xyxy)
        logits = self.mask_head.decode(gather_windows(mask_corr, batch_index, rows, cols, window=1, step=1, offset=0))
        return logits.view(-1, self.mask_size, self.mask_size)

    def training_boxes(self, boxes_xyxy: torch.Tensor) -> torch.Tensor:
        """The boxes (N, 4) xyxy the mask decoder is trained on, from the ground truth (the refine's choice)."""
        return self.refine.training_boxes(boxes_xyxy) if self.refine is not None else boxes_xyxy

    def mask_windows_xyxy(self, row_windows_xyxy: torch.Tensor, boxes_xyxy: torch.Tensor,
                          refine: bool = True) -> torch.Tensor:
        """(N, 4) square of the search crop each mask of :meth:`masks_at` covers, from the queries' RoW windows and
        boxes (both xyxy in one coordinate system, which the result shares): the mask head's and the release's
        refine's masks cover their RoW, a box-conditioned refine's a window around the box."""
        if self.refine is not None and refine:
            return self.refine.mask_windows_xyxy(row_windows_xyxy, boxes_xyxy)
        return row_windows_xyxy


def build_siammask(backbone: Backbone, neck: Callable[..., Adjust], score_head: Callable[..., Head],
                   mask_head: Callable[..., XCorrHead], box_head: Callable[..., Head] | None = None,
                   refine: Callable[..., MaskRefine] | None = None, decoder: BoxDecoder | None = None,
                   levels: int = 1) -> SiamMask:
    """Assemble from parts given as partials (Hydra ``_partial_: true``) that still need their input widths.

    Widths flow from the backbone's ``channels``: nothing here is tied to one backbone. With a ``box_head`` the
    score and box heads have the box family's outputs (``decoder``: 2k / 4k for anchors); without, one similarity
    map. ``levels`` > 1: the score and box heads read that many backbone maps (:func:`head_levels`), the mask head
    the last of them. ``decoder`` None: the paper's anchors.
    """
    decoder = decoder if decoder is not None else AnchorSpec()
    indices = head_levels(backbone.reductions, levels)
    adjusts = [neck(in_channels=backbone.channels[i]) for i in indices]
    adjust: Neck = adjusts[0] if levels == 1 else MultiLevelAdjust(adjusts, indices)
    width = adjust.out_channels
    score = score_head(in_channels=width, out_channels=decoder.score_channels if box_head is not None else 1)
    box = box_head(in_channels=width, out_channels=decoder.box_channels) if box_head is not None else None
    mask = mask_head(in_channels=width, out_channels=MASK_SIZE * MASK_SIZE)
    refine_module: MaskRefine | None = None
    skips: tuple[int, ...] = ()
    if refine is not None:
        skips = refine_skip_indices(backbone.reductions)
        refine_module = refine(skip_channels=[backbone.channels[i] for i in skips],
                               corr_channels=mask.correlation_channels,
                               skip_reductions=[backbone.reductions[i] for i in skips])
    return SiamMask(backbone, adjust, score, mask, box, refine_module, skip_indices=skips)


def head_levels(reductions: list[int], levels: int) -> tuple[int, ...]:
    """The backbone maps the heads read: the last one, or the last ``levels`` at the heads' stride (8).

    Multi-level heads sum maps position by position, so their levels share one stride: timm's ``output_stride=8``
    dilates every stage past stride 8, so a backbone cut at ``out_indices`` [0, 1, 2, 3] has two stride-8 maps
    (the native stride-8 stage and the dilated one after it) and [0, 1, 2, 3, 4] three, SiamRPN++'s conv3-5.
    """
    last = len(reductions) - 1
    if levels == 1:
        return (last,)
    at_stride = [i for i, r in enumerate(reductions) if r == SIAMESE_STRIDE]
    if len(at_stride) < levels or levels < 1:
        raise ValueError(f"model.head.levels={levels} needs {levels} backbone maps at stride {SIAMESE_STRIDE}, the "
                         f"backbone gives {len(at_stride)} (strides {reductions}): list deeper stages in "
                         f"model.backbone.out_indices (with output_stride=8 they are dilated to stride "
                         f"{SIAMESE_STRIDE}) or lower model.head.levels")
    return tuple(at_stride[-levels:])


def refine_skip_indices(reductions: list[int], strides: tuple[int, ...] = (2, 4, 8)) -> tuple[int, ...]:
    """Backbone maps feeding refine's levels at ``strides``: per level, the maps at the finest stride not below
    the level's (the level's own stride when the backbone has it; refine upsamples a coarser one), and of
    those the deepest before the head's map, else the head's map itself.

    The head's map (stride 8) thus backs every level a backbone cannot serve: a light backbone cut at its
    stride-8 stage, or ConvNeXt / Swin-style models whose first map is at stride 4.
    """
    last = len(reductions) - 1
    picked = []
    for stride in strides:
        finest = min(r for r in reductions if r >= stride)  # the head's map (stride 8) always qualifies
        earlier = [i for i in range(last) if reductions[i] == finest]
        picked.append(earlier[-1] if earlier else last)
    return tuple(picked)
