"""DAVIS semi-supervised measures: region similarity J, boundary F-measure F and their statistics.

Definitions of the official DAVIS 2017 evaluation (davis2017-evaluation ``metrics.py``,
``utils.db_statistics``, ``evaluation.py``):

* J: intersection over union of the object's masks; 1 when both are empty (object absent and not
  predicted);
* F: boundaries are the 1-pixel maps of ``seg2bmap``; a boundary pixel matches if the other boundary,
  dilated by a disk of radius ``ceil(bound_th * image diagonal)`` pixels, covers it; F is the harmonic
  mean of boundary precision and recall (both empty -> 1, one empty -> 0);
* per object: mean, recall (fraction of frames > 0.5) and decay (mean of the first quarter of the
  frames minus the last quarter, quarters from 4 quantiles that share their end frames);
* the first and the last frame of each sequence are excluded (the first is the given annotation);
* dataset numbers are means over all objects of all sequences; J&F is (J mean + F mean) / 2.

Not in the official evaluation: a percentile-bootstrap interval of the J and F means that resamples whole
sequences (the objects of one video are not independent), because a benchmark of a few dozen videos moves its
mean by several hundredths from one video sample to the next.
"""

from __future__ import annotations

import cv2
import numpy as np

from siammask.evaluation.bootstrap import BOOTSTRAP_RESAMPLES, percentile_interval, resample_counts

DECAY_QUANTILES = 4  # davis2017-evaluation utils.db_statistics
RECALL_THRESHOLD = 0.5  # davis2017-evaluation utils.db_statistics


def region_similarity(gt_masks: np.ndarray, pred_masks: np.ndarray) -> np.ndarray:
    """J per frame for (T, H, W) or (H, W) binary masks."""
    gt, pred = np.asarray(gt_masks).astype(bool), np.asarray(pred_masks).astype(bool)
    if gt.shape != pred.shape:
        raise ValueError(f"ground-truth masks {gt.shape} and predicted masks {pred.shape} differ in shape")
    inter = np.sum(gt & pred, axis=(-2, -1))
    union = np.sum(gt | pred, axis=(-2, -1))
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


def boundary_map(mask: np.ndarray) -> np.ndarray:
    """1-pixel boundary of a binary (H, W) mask, as ``seg2bmap`` draws it.

    A pixel is on the boundary if it differs from its east, south or south-east neighbour, which puts
    the boundary half a pixel towards the origin; along the last row only the east neighbour counts,
    along the last column only the south one, and the bottom-right pixel never is a boundary.
    """
    m = np.asarray(mask).astype(bool)
    east, south, south_east = np.zeros_like(m), np.zeros_like(m), np.zeros_like(m)
    east[:, :-1], south[:-1, :], south_east[:-1, :-1] = m[:, 1:], m[1:, :], m[1:, 1:]
    bmap = (m != east) | (m != south) | (m != south_east)
    bmap[-1, :] = m[-1, :] != east[-1, :]
    bmap[:, -1] = m[:, -1] != south[:, -1]
    bmap[-1, -1] = False
    return bmap


def boundary_tolerance(image_hw: tuple[int, int], bound_th: float) -> int:
    """Match distance in pixels: ``bound_th`` itself if >= 1, else that fraction of the diagonal, rounded up."""
    return int(bound_th) if bound_th >= 1 else int(np.ceil(bound_th * np.hypot(*image_hw)))


def _disk(radius: int) -> np.ndarray:
    r = np.arange(-radius, radius + 1)
    return (r[None, :] ** 2 + r[:, None] ** 2 <= radius ** 2).astype(np.uint8)


def _f_measure(gt: np.ndarray, pred: np.ndarray, disk: np.ndarray) -> float:
    gt_b, pred_b = boundary_map(gt), boundary_map(pred)
    n_gt, n_pred = int(gt_b.sum()), int(pred_b.sum())
    if n_gt == 0 or n_pred == 0:
        return 1.0 if n_gt == n_pred else 0.0
    gt_dil = cv2.dilate(gt_b.astype(np.uint8), disk).astype(bool)
    pred_dil = cv2.dilate(pred_b.astype(np.uint8), disk).astype(bool)
    precision = np.sum(pred_b & gt_dil) / n_pred
    recall = np.sum(gt_b & pred_dil) / n_gt
    return 0.0 if precision + recall == 0 else float(2 * precision * recall / (precision + recall))


def boundary_measure(gt_masks: np.ndarray, pred_masks: np.ndarray, bound_th: float = 0.008) -> np.ndarray:
    """F per frame for (T, H, W) or (H, W) binary masks; ``bound_th`` 0.008 of the diagonal is DAVIS's."""
    gt, pred = np.asarray(gt_masks).astype(bool), np.asarray(pred_masks).astype(bool)
    if gt.shape != pred.shape:
        raise ValueError(f"ground-truth masks {gt.shape} and predicted masks {pred.shape} differ in shape")
    disk = _disk(boundary_tolerance(gt.shape[-2:], bound_th))
    if gt.ndim == 2:
        return np.asarray(_f_measure(gt, pred, disk))
    return np.array([_f_measure(g, p, disk) for g, p in zip(gt, pred)])


def statistics(per_frame: np.ndarray) -> dict[str, float]:
    """Mean, recall (> 0.5) and decay of one object's per-frame J or F."""
    v = np.asarray(per_frame, dtype=np.float64)
    if v.size == 0:
        nan = float("nan")
        return {"mean": nan, "recall": nan, "decay": nan}
    edges = (np.round(np.linspace(1, v.size, DECAY_QUANTILES + 1) + 1e-10) - 1).astype(int)
    first, last = v[edges[0]:edges[1] + 1], v[edges[-2]:edges[-1] + 1]
    return {"mean": float(np.nanmean(v)), "recall": float(np.mean(v > RECALL_THRESHOLD)),
            "decay": float(np.nanmean(first) - np.nanmean(last))}


def score_davis_sequence(gt_labels: np.ndarray, pred_labels: np.ndarray, object_ids: list[int],
                         bound_th: float = 0.008) -> dict[int, dict[str, float]]:
    """Per-object J / F statistics of one sequence from (T, H, W) label maps (first and last frame excluded)."""
    gt, pred = np.asarray(gt_labels), np.asarray(pred_labels)
    if gt.shape != pred.shape:
        raise ValueError(f"ground-truth label maps {gt.shape} and predicted label maps {pred.shape} differ")
    gt, pred = gt[1:-1], pred[1:-1]
    scores = {}
    for obj in object_ids:
        j = statistics(region_similarity(gt == obj, pred == obj))
        f = statistics(boundary_measure(gt == obj, pred == obj, bound_th))
        scores[int(obj)] = {**{f"J_{k}": val for k, val in j.items()}, **{f"F_{k}": val for k, val in f.items()}}
    return scores


def summarise_davis_dataset(per_sequence: list[list[dict[str, float]]]) -> dict[str, float | list[float]]:
    """Dataset statistics over all objects of all sequences, plus the J and F means' 95 % bootstrap intervals
    (``J_mean_ci95`` / ``F_mean_ci95``), which need the objects grouped by sequence."""
    summary: dict[str, float | list[float]] = dict(summarise_davis([o for objects in per_sequence for o in objects]))
    for key in ("J_mean", "F_mean"):
        summary[f"{key}_ci95"] = list(bootstrap_interval([[o[key] for o in objects] for objects in per_sequence]))
    return summary


def summarise_davis(per_object: list[dict[str, float]]) -> dict[str, float]:
    """Dataset statistics: means over all objects of all sequences."""
    keys = ["J_mean", "J_recall", "J_decay", "F_mean", "F_recall", "F_decay"]
    out = {k: float(np.mean([o[k] for o in per_object])) if per_object else float("nan") for k in keys}
    out["JF_mean"] = (out["J_mean"] + out["F_mean"]) / 2
    return out


def bootstrap_interval(per_sequence: list[list[float]], level: float = 0.95, resamples: int = BOOTSTRAP_RESAMPLES,
                       seed: int = 0) -> tuple[float, float]:
    """Percentile-bootstrap interval of the mean over all objects, drawing whole sequences with replacement.

    ``per_sequence``: each sequence's per-object values (non-finite ones are left out). NaNs when empty.
    """
    values = [np.asarray([v for v in seq if np.isfinite(v)], dtype=np.float64) for seq in per_sequence]
    values = [v for v in values if v.size]
    if not values:
        return float("nan"), float("nan")
    sums, sizes = np.array([v.sum() for v in values]), np.array([v.size for v in values])
    counts = resample_counts(len(values), resamples, seed)
    return percentile_interval((counts @ sums) / (counts @ sizes), level)
