"""The anchor-free box family: every response position is a point that classifies itself, regresses the distances
to the four sides of the target's box and predicts its centre-ness (SiamCAR, Guo et al. 2020, §3.2-3.3; the
quality branch of SiamFC++, Xu et al. 2020, §3.2; FCOS, Tian et al. 2019, for the centre-ness definition).

Channel layout: score ``[classification logit, centre-ness logit]`` (centre-ness on the classification tower as
SiamFC++; SiamCAR puts it there too), box ``log(l / stride), log(t / stride), log(r / stride), log(b / stride)``
(exp keeps the distances positive, as SiamCAR's and SiamBAN's heads; scaled by the stride so a unit output is one
cell). Points sit at the same response-position centres as the anchors (:func:`siammask.anchors.position_centres`),
so the RoW of a chosen point is the anchor heads'.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torchvision.ops import generalized_box_iou_loss

from siammask.anchors import position_centres
from siammask.box_coding import Candidates
from siammask.crop import PAPER_CROP
from siammask.torch_boxes import xyxy_to_cxcywh

SIDES = 4  # l, t, r, b


@dataclass(frozen=True)
class PointSpec:
    """The points of an S x S response map, ``stride`` crop pixels apart (the paper's 8: conf/crop)."""

    stride: int = PAPER_CROP.stride

    @property
    def score_channels(self) -> int:
        return 2

    @property
    def box_channels(self) -> int:
        return SIDES

    def centres(self, score_size: int, search_size: int, device: torch.device | str = "cpu") -> torch.Tensor:
        """(2, S, S) x and y of each point in search-crop pixels."""
        line = position_centres(score_size, search_size, self.stride, device)
        cy, cx = torch.meshgrid(line, line, indexing="ij")
        return torch.stack([cx, cy])

    def decode(self, box: torch.Tensor, search_size: int) -> torch.Tensor:
        """(B, 4, S, S) box-head output -> (B, S, S, 4) boxes xyxy in search-crop pixels."""
        centres = self.centres(box.shape[-1], search_size, box.device).to(box.dtype)
        distances = self.stride * torch.exp(box)
        return torch.stack([centres[0] - distances[:, 0], centres[1] - distances[:, 1],
                            centres[0] + distances[:, 2], centres[1] + distances[:, 3]], dim=-1)

    def distances(self, boxes_xyxy: torch.Tensor, score_size: int, search_size: int) -> torch.Tensor:
        """(B, 4) boxes xyxy -> (B, 4, S, S) distances l, t, r, b from each point to the box's sides (pixels;
        negative where the point lies outside)."""
        centres = self.centres(score_size, search_size, boxes_xyxy.device).to(boxes_xyxy.dtype).unsqueeze(0)
        sides = boxes_xyxy.view(-1, SIDES, 1, 1)
        return torch.stack([centres[:, 0] - sides[:, 0], centres[:, 1] - sides[:, 1],
                            sides[:, 2] - centres[:, 0], sides[:, 3] - centres[:, 1]], dim=1)

    def candidates(self, score: torch.Tensor, box: torch.Tensor, search_size: int) -> Candidates:
        """One candidate per point; ranked by classification x centre-ness probability (SiamFC++ §3.3, SiamCAR
        §3.4), which demotes off-centre points whose boxes are the least reliable."""
        probability = (torch.sigmoid(score[:, 0]) * torch.sigmoid(score[:, 1])).flatten(1)
        boxes = xyxy_to_cxcywh(self.decode(box, search_size)).flatten(1, 2)
        return Candidates(probability, boxes, torch.arange(probability.shape[1], device=score.device))


def centreness(distances: torch.Tensor) -> torch.Tensor:
    """FCOS centre-ness sqrt(min(l, r) / max(l, r) x min(t, b) / max(t, b)) of (B, 4, S, S) distances; 0 outside."""
    left, top, right, bottom = distances.clamp(min=0).unbind(1)
    ratio_x = torch.minimum(left, right) / torch.maximum(left, right).clamp(min=1e-9)
    ratio_y = torch.minimum(top, bottom) / torch.maximum(top, bottom).clamp(min=1e-9)
    return torch.sqrt(ratio_x * ratio_y)


@dataclass
class PointTargets:
    """``labels`` (B, S, S) 1 inside the target's box, 0 elsewhere and on negative pairs; ``box_xyxy`` (B, 4) the
    target box (search pixels); ``centreness`` (B, S, S) its FCOS centre-ness, 0 off the box; ``mask_positions``
    (B, S, S) the positives whose RoW sees enough of the target to learn its mask."""

    labels: torch.Tensor
    box_xyxy: torch.Tensor
    centreness: torch.Tensor
    mask_positions: torch.Tensor
    spec: PointSpec
    search_size: int

    def positive_positions(self) -> torch.Tensor:
        return self.mask_positions

    def losses(self, score: torch.Tensor, box: torch.Tensor, settings: Mapping[str, float]) -> dict[str, torch.Tensor]:
        """Classification (logistic, positives and negatives half each as the anchor loss), centre-ness (logistic
        on the positives, SiamCAR eq. 4) and the generalised IoU of the decoded boxes (Rezatofighi et al. 2019,
        torchvision) on the positives weighted by their centre-ness, as FCOS's released code; SiamCAR weighs its
        IoU loss uniformly. ``settings`` (model.loss) carry no option here."""
        positive = self.labels > 0
        halves = [F.binary_cross_entropy_with_logits(score[:, 0][chosen], self.labels[chosen])
                  if chosen.any() else score.sum() * 0.0 for chosen in (positive, ~positive)]
        losses = {"score": 0.5 * halves[0] + 0.5 * halves[1]}
        if not positive.any():
            return {**losses, "centreness": score.sum() * 0.0, "box": box.sum() * 0.0}
        losses["centreness"] = F.binary_cross_entropy_with_logits(score[:, 1][positive], self.centreness[positive])
        predicted = self.spec.decode(box, self.search_size)[positive]  # (P, 4)
        truth = self.box_xyxy.view(-1, 1, 1, SIDES).expand(-1, *positive.shape[1:], SIDES)[positive]
        weight = self.centreness[positive]
        giou = generalized_box_iou_loss(predicted, truth.to(predicted.dtype), reduction="none")
        losses["box"] = (giou * weight).sum() / weight.sum().clamp(min=1e-9)
        return losses


@dataclass(frozen=True)
class PointTargetAssigner:
    """Positives: the points inside the target's box (SiamCAR §3.3, SiamFC++ §3.2); every other point, and every
    point of a negative pair, is a negative.

    ``mask_min_centreness``: the mask is trained only at positives at least this centred (ours; the anchor heads get
    the same effect from IoU >= 0.6): a point near the box's border looks at a RoW that cuts the target in half.
    """

    family: ClassVar[type] = PointSpec  # the box family whose targets these are
    spec: PointSpec = PointSpec()
    mask_min_centreness: float = 0.5

    def __call__(self, search_bbox_xyxy: torch.Tensor, is_negative: torch.Tensor, score_size: int,
                 search_size: int) -> PointTargets:
        box = search_bbox_xyxy.float()
        distances = self.spec.distances(box, score_size, search_size)
        inside = (distances > 0).all(dim=1) & ~is_negative.bool().view(-1, 1, 1)
        centre = torch.where(inside, centreness(distances), torch.zeros_like(distances[:, 0]))
        return PointTargets(inside.float(), box, centre, inside & (centre >= self.mask_min_centreness), self.spec,
                            search_size)
