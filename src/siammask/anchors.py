"""Anchors on the response map, box encoding, training targets for both score-head variants and the anchor losses.

Layout follows the release so its weights map on: score channels are ``[background x k, foreground x k]``
and box channels ``[dx x k, dy x k, dw x k, dh x k]``; anchor ``a`` at position (r, c) is flattened
as ``a * S * S + r * S + c``. Targets are computed on the model's device from ``search_bbox``, so
datasets stay ignorant of anchors and a new head needs no new data pipeline.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from siammask.box_coding import Candidates
from siammask.crop import PAPER_CROP
from siammask.torch_boxes import box_iou_xyxy, cxcywh_to_xyxy, xyxy_to_cxcywh


@dataclass(frozen=True)
class AnchorSpec:
    """Defaults: the paper's anchors (SiamRPN, §3.2): stride 8 (conf/crop), ratios 0.33/0.5/1/2/3, scale 8."""

    stride: int = PAPER_CROP.stride
    ratios: Sequence[float] = (0.33, 0.5, 1.0, 2.0, 3.0)
    scales: Sequence[float] = (8.0,)

    @property
    def num_anchors(self) -> int:
        return len(self.ratios) * len(self.scales)

    @property
    def score_channels(self) -> int:
        """[background x k, foreground x k] logits (release layout)."""
        return 2 * self.num_anchors

    @property
    def box_channels(self) -> int:
        """[dx x k, dy x k, dw x k, dh x k] deltas (release layout)."""
        return 4 * self.num_anchors

    def candidates(self, score: torch.Tensor, box: torch.Tensor, search_size: int) -> Candidates:
        """One candidate per anchor and position, flattened anchor-major (``a * S * S + r * S + c``).

        The foreground probability is the logistic of foreground minus background logit: the two-way softmax.
        """
        size = score.shape[-1]
        logits = foreground_logits(score)
        probability = torch.sigmoid(logits[..., 1] - logits[..., 0]).flatten(1)
        grid = self.grid(size, search_size, score.device).to(box.dtype)
        boxes = decode_boxes(box_deltas_map(box, self.num_anchors), grid.unsqueeze(0)).flatten(1, 3)
        positions = torch.arange(size * size, device=score.device).repeat(self.num_anchors)
        return Candidates(probability, boxes, positions)

    def base_sizes(self) -> torch.Tensor:
        """(k, 2) anchor width/height; widths truncated to whole pixels as in the release."""
        area = self.stride * self.stride
        sizes = []
        for ratio in self.ratios:
            width = int(math.sqrt(area / ratio))
            height = int(width * ratio)
            sizes += [(width * scale, height * scale) for scale in self.scales]
        return torch.tensor(sizes, dtype=torch.float32)

    def grid(self, score_size: int, search_size: int, device: torch.device | str = "cpu") -> torch.Tensor:
        """(k, S, S, 4) anchors as cx, cy, w, h in search-crop pixels (edge coordinates).

        Position (r, c) is centred at the crop centre plus ((r, c) - (S - 1) / 2) * stride.
        """
        offsets = (torch.arange(score_size, dtype=torch.float32) - (score_size - 1) / 2) * self.stride
        centres = search_size / 2 + offsets
        cy, cx = torch.meshgrid(centres, centres, indexing="ij")
        sizes = self.base_sizes()
        k = sizes.shape[0]
        grid = torch.stack([cx.expand(k, -1, -1), cy.expand(k, -1, -1),
                            sizes[:, 0].view(k, 1, 1).expand(-1, score_size, score_size),
                            sizes[:, 1].view(k, 1, 1).expand(-1, score_size, score_size)], dim=-1)
        return grid.to(device)


def position_centres(score_size: int, search_size: int, stride: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """(S,) centre coordinate of each response row/column in search-crop pixels."""
    return search_size / 2 + (torch.arange(score_size, dtype=torch.float32, device=device) - (score_size - 1) / 2) * stride


def encode_boxes(boxes_cxcywh: torch.Tensor, anchors_cxcywh: torch.Tensor) -> torch.Tensor:
    """Deltas (dx, dy, log dw, log dh) of boxes relative to anchors (Faster R-CNN parameterisation)."""
    return torch.stack([(boxes_cxcywh[..., 0] - anchors_cxcywh[..., 0]) / anchors_cxcywh[..., 2],
                        (boxes_cxcywh[..., 1] - anchors_cxcywh[..., 1]) / anchors_cxcywh[..., 3],
                        torch.log(boxes_cxcywh[..., 2] / anchors_cxcywh[..., 2]),
                        torch.log(boxes_cxcywh[..., 3] / anchors_cxcywh[..., 3])], dim=-1)


def decode_boxes(deltas: torch.Tensor, anchors_cxcywh: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`encode_boxes`: cx, cy, w, h."""
    return torch.stack([deltas[..., 0] * anchors_cxcywh[..., 2] + anchors_cxcywh[..., 0],
                        deltas[..., 1] * anchors_cxcywh[..., 3] + anchors_cxcywh[..., 1],
                        torch.exp(deltas[..., 2]) * anchors_cxcywh[..., 2],
                        torch.exp(deltas[..., 3]) * anchors_cxcywh[..., 3]], dim=-1)


def box_deltas_map(box: torch.Tensor, num_anchors: int) -> torch.Tensor:
    """(B, 4k, S, S) head output -> (B, k, S, S, 4) deltas."""
    b, _, h, w = box.shape
    return box.view(b, 4, num_anchors, h, w).permute(0, 2, 3, 4, 1)


def foreground_logits(score: torch.Tensor) -> torch.Tensor:
    """(B, 2k, S, S) -> (B, k, S, S, 2) [background, foreground] logits."""
    b, c, h, w = score.shape
    return score.view(b, 2, c // 2, h, w).permute(0, 2, 3, 4, 1)


@dataclass
class AnchorTargets:
    """``labels`` (B, k, S, S): 1 positive, 0 negative, -1 ignored; ``deltas`` (B, k, S, S, 4);
    ``box_weight`` (B, k, S, S): 1 / #positives on positives (the release's normalisation)."""

    labels: torch.Tensor
    deltas: torch.Tensor
    box_weight: torch.Tensor

    def positive_positions(self) -> torch.Tensor:
        """(B, S, S) bool: positions where any anchor is positive (where the mask is trained)."""
        return (self.labels == 1).any(dim=1)

    def losses(self, score: torch.Tensor, box: torch.Tensor, settings: Mapping[str, float]) -> dict[str, torch.Tensor]:
        """Anchor softmax and delta regression (paper eq. 5's score and box terms); ``settings``: model.loss."""
        return {"score": anchor_score_loss(score, self.labels),
                "box": box_regression_loss(box, self, settings.get("box_beta", 0.0))}


@dataclass(frozen=True)
class AnchorTargetAssigner:
    """IoU-based assignment with per-pair sampling (release: 0.6 / 0.3, 16 positives, 64 in all).

    Negative pairs label only a 7x7 centre patch of the map negative (``negative_radius`` = 3): the
    distractor sits where the target would, so that is where the network must learn to say no.
    """

    family: ClassVar[type] = AnchorSpec  # the box family whose targets these are
    spec: AnchorSpec = AnchorSpec()
    positive_iou: float = 0.6
    negative_iou: float = 0.3
    max_positives: int = 16
    total_samples: int = 64
    negative_pair_samples: int = 16
    negative_radius: int = 3

    def __call__(self, search_bbox_xyxy: torch.Tensor, is_negative: torch.Tensor, score_size: int, search_size: int,
                 generator: torch.Generator | None = None) -> AnchorTargets:
        device = search_bbox_xyxy.device
        anchors = self.spec.grid(score_size, search_size, device)  # (k, S, S, 4)
        boxes = search_bbox_xyxy.float().view(-1, 1, 1, 1, 4)
        iou = box_iou_xyxy(cxcywh_to_xyxy(anchors).unsqueeze(0), boxes)  # (B, k, S, S)
        negative_pair = is_negative.view(-1, 1, 1, 1).bool()

        positive = (iou >= self.positive_iou) & ~negative_pair
        positive = _sample(positive, self.max_positives, generator)
        n_pos = positive.flatten(1).sum(1).view(-1, 1, 1, 1)
        negative = (iou <= self.negative_iou) & ~negative_pair
        centre = (torch.arange(score_size, device=device) - (score_size - 1) / 2).abs() <= self.negative_radius
        centre_patch = (centre.view(-1, 1) & centre.view(1, -1)).expand_as(iou[0])
        negative = negative | (negative_pair & centre_patch)
        negative_budget = torch.where(is_negative.bool().view(-1, 1, 1, 1),
                                      torch.full_like(n_pos, self.negative_pair_samples), self.total_samples - n_pos)
        negative = _sample(negative, negative_budget.flatten(), generator)

        labels = torch.full_like(iou, -1.0)
        labels[negative] = 0.0
        labels[positive] = 1.0
        box_cxcywh = xyxy_to_cxcywh(search_bbox_xyxy.float().clamp_min(0)).view(-1, 1, 1, 1, 4)
        wh_ok = box_cxcywh[..., 2:].clamp(min=1.0)  # negative pairs never use deltas; keep them finite
        deltas = encode_boxes(torch.cat([box_cxcywh[..., :2], wh_ok], -1), anchors.unsqueeze(0))
        box_weight = positive.float() / n_pos.clamp(min=1)
        return AnchorTargets(labels, deltas, box_weight)


def _sample(candidates: torch.Tensor, limit: int | torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Keep at most ``limit`` (scalar or per sample) random True entries per sample; vectorised."""
    flat = candidates.flatten(1)
    keys = torch.rand(flat.shape, generator=generator, device="cpu").to(flat.device)
    keys = torch.where(flat, keys, torch.full_like(keys, 2.0))  # candidates sort first
    rank = keys.argsort(dim=1).argsort(dim=1)
    limit_t = torch.as_tensor(limit, device=flat.device).view(-1, 1)
    return (flat & (rank < limit_t)).view_as(candidates)


@dataclass(frozen=True)
class CentreLabeller:
    """SiamFC labels for the two-branch score map: positive within ``radius`` pixels of the target centre.

    SiamFC (Bertinetto et al. 2016, §2.2) uses R = 16 px in the search crop at stride 8 (2 cells).
    Positives and negatives are weighted to contribute equally, as in SiamFC's balanced loss.
    """

    stride: int = PAPER_CROP.stride
    radius: float = 16.0

    def __call__(self, search_bbox_xyxy: torch.Tensor, is_negative: torch.Tensor, score_size: int,
                 search_size: int) -> torch.Tensor:
        """(B, S, S) labels in {0, 1}."""
        centres = position_centres(score_size, search_size, self.stride, search_bbox_xyxy.device)
        target = xyxy_to_cxcywh(search_bbox_xyxy.float())
        dx = centres.view(1, 1, -1) - target[:, 0].view(-1, 1, 1)
        dy = centres.view(1, -1, 1) - target[:, 1].view(-1, 1, 1)
        inside = (dx * dx + dy * dy) <= self.radius ** 2
        return (inside & ~is_negative.bool().view(-1, 1, 1)).float()


def anchor_score_loss(score: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Softmax cross-entropy over sampled anchors; positives and negatives weigh half each (release)."""
    logits = foreground_logits(score)
    halves = []
    for value in (1.0, 0.0):
        chosen = labels == value
        target = torch.full((int(chosen.sum()),), int(value), device=score.device, dtype=torch.long)
        halves.append(F.cross_entropy(logits[chosen], target) if target.numel() else score.sum() * 0.0)
    return 0.5 * halves[0] + 0.5 * halves[1]


def box_regression_loss(box: torch.Tensor, targets: AnchorTargets, beta: float) -> torch.Tensor:
    """Smooth-L1 on anchor deltas of positives, weighted by 1/#positives per pair, averaged over pairs.

    ``beta = 0`` is the release's plain L1; the paper's smooth-L1 follows Faster R-CNN.
    """
    deltas = box_deltas_map(box, targets.labels.shape[1])
    per_anchor = F.smooth_l1_loss(deltas, targets.deltas, reduction="none", beta=beta).sum(-1)
    return (per_anchor * targets.box_weight).sum() / box.shape[0]
