"""GOT-10k's one-pass metrics: average overlap (AO) and success rates (SR at 0.5 and 0.75), Huang et al., TPAMI 2019.

Definitions of the GOT-10k toolkit (``got10k.experiments.ExperimentGOT10k``): the first frame (the given box)
is left out, and so is every frame whose ``cover.label`` is 0 (target absent); both boxes are bounded by the
image before the overlap (``got10k.utils.metrics.rect_iou``: the corner is clipped into the image and the size
then clipped to what is left). AO and SR pool the frames of all sequences (a long sequence weighs more), which
is how the server ranks, unlike OTB's mean of per-sequence curves. Per class the same pooling runs over the
class's sequences.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from siammask.geometry import iou_xyxy, xywh_to_xyxy

SUCCESS_RATES = {"sr50": 0.5, "sr75": 0.75}  # SR at overlap 0.5 and 0.75 (GOT-10k leaderboard)
AO_CURVE_THRESHOLDS = np.linspace(0.0, 1.0, 101)  # the toolkit's success plot
SUMMARY_KEYS = ("ao", *SUCCESS_RATES)


def bound_boxes_xywh(boxes_xywh: np.ndarray, image_wh: tuple[float, float]) -> np.ndarray:
    """Boxes bounded by the image the toolkit's way: corner into ``[0, W] x [0, H]``, size into what remains."""
    boxes = np.array(boxes_xywh, dtype=np.float64).reshape(-1, 4)
    bound = np.asarray(image_wh, dtype=np.float64)
    boxes[:, :2] = np.clip(boxes[:, :2], 0, bound)
    boxes[:, 2:] = np.clip(boxes[:, 2:], 0, bound - boxes[:, :2])
    return boxes


def sequence_overlaps(pred_xywh: np.ndarray, gt_xywh: np.ndarray, visible: np.ndarray,
                      image_wh: tuple[float, float]) -> np.ndarray:
    """The overlaps a sequence contributes: frames after the first where the target is visible."""
    if len(pred_xywh) != len(gt_xywh):
        raise ValueError(f"{len(pred_xywh)} predicted boxes for {len(gt_xywh)} ground-truth frames")
    pred, gt = (xywh_to_xyxy(bound_boxes_xywh(b, image_wh)) for b in (pred_xywh, gt_xywh))
    overlaps = np.nan_to_num(np.clip(iou_xyxy(pred, gt), 0.0, 1.0))  # empty bounded boxes: no overlap
    return overlaps[1:][np.asarray(visible, bool)[1:]]


def summarise_overlaps(overlaps: Sequence[np.ndarray]) -> dict[str, float]:
    """AO and the success rates over the pooled frames (NaN if there is no frame)."""
    pooled = np.concatenate([np.asarray(o, np.float64) for o in overlaps]) if overlaps else np.zeros(0)
    if not len(pooled):
        return {key: float("nan") for key in SUMMARY_KEYS}
    return {"ao": float(pooled.mean()), **{k: float((pooled > t).mean()) for k, t in SUCCESS_RATES.items()}}


def pooled_success_curve(overlaps: Sequence[np.ndarray]) -> np.ndarray:
    """Fraction of the pooled frames whose overlap is above each of :data:`AO_CURVE_THRESHOLDS`."""
    pooled = np.concatenate([np.asarray(o, np.float64) for o in overlaps]) if overlaps else np.zeros(0)
    if not len(pooled):
        return np.full(len(AO_CURVE_THRESHOLDS), float("nan"))
    return (pooled[:, None] > AO_CURVE_THRESHOLDS[None, :]).mean(axis=0)
