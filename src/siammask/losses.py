"""The three SiamMask losses (paper §3.2, eq. 3-5) and the SiamFC logistic loss of the two-branch variant; the
anchor score and box losses are defined beside their targets (:mod:`siammask.anchors`)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from siammask.anchors import anchor_score_loss, box_regression_loss

__all__ = ["anchor_score_loss", "box_regression_loss", "mask_dice_loss", "mask_loss", "similarity_loss",
           "upsample_masks"]  # the anchor losses live with their targets (siammask.anchors)


def similarity_loss(score: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """SiamFC's logistic loss with positives and negatives balanced per pair (Bertinetto et al. 2016)."""
    logits = score.squeeze(1)
    positives = labels.flatten(1).sum(1).clamp(min=1).view(-1, 1, 1)
    negatives = (1 - labels).flatten(1).sum(1).clamp(min=1).view(-1, 1, 1)
    weights = torch.where(labels > 0, 0.5 / positives, 0.5 / negatives)
    per_cell = F.binary_cross_entropy_with_logits(logits, labels, reduction="none")
    return (per_cell * weights).sum() / score.shape[0]


def mask_loss(mask_logits: torch.Tensor, mask_labels: torch.Tensor) -> torch.Tensor:
    """Binary logistic loss over RoW pixels (eq. 3), predictions upsampled to the label size as the release.

    ``mask_logits`` (N, m, m), ``mask_labels`` (N, M, M) in {0, 1}; zero (with a gradient path) when N = 0.
    """
    if mask_logits.shape[0] == 0:
        return mask_logits.sum() * 0.0
    upsampled = upsample_masks(mask_logits, mask_labels.shape[-1])
    return F.binary_cross_entropy_with_logits(upsampled, mask_labels.float())


def mask_dice_loss(mask_logits: torch.Tensor, mask_labels: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    """1 - soft Dice per RoW, averaged: an overlap term the background-dominated logistic loss lacks.

    From scratch, the per-pixel loss first drives every mask to empty (most pixels are background) and the
    branch can stay there for hundreds of steps; Dice rewards the overlap from the first step.
    """
    if mask_logits.shape[0] == 0:
        return mask_logits.sum() * 0.0
    probabilities = torch.sigmoid(upsample_masks(mask_logits, mask_labels.shape[-1])).flatten(1)
    labels = mask_labels.flatten(1).to(probabilities.dtype)
    overlap = (probabilities * labels).sum(1)
    dice = (2 * overlap + smooth) / (probabilities.sum(1) + labels.sum(1) + smooth)
    return (1 - dice).mean()


def upsample_masks(mask_logits: torch.Tensor, size: int) -> torch.Tensor:
    if mask_logits.shape[-1] == size:
        return mask_logits
    return F.interpolate(mask_logits.unsqueeze(1), size=(size, size), mode="bilinear", align_corners=False).squeeze(1)
