"""OTB one-pass evaluation (OPE): success (overlap) and precision (centre error) curves.

Definitions of the OTB toolkit as pysot's ``ope_benchmark.py`` reproduces them: a frame whose
ground truth has no width or height (target absent / unannotated) gets overlap -1 and centre error -1,
so it counts as a miss on the success curve and as a hit on the precision curve, and all frames stay in
the denominator. Dataset curves are the mean of the per-sequence curves; the success AUC is the mean of
the 21-point success curve and "precision" is the precision curve at 20 pixels.
"""

from __future__ import annotations

import numpy as np

from siammask.geometry import iou_xyxy, xywh_to_xyxy

SUCCESS_THRESHOLDS = np.linspace(0.0, 1.0, 21)  # overlap thresholds 0, 0.05, ..., 1 (OTB toolkit)
PRECISION_THRESHOLDS = np.arange(0, 51, dtype=np.float64)  # centre-error thresholds 0 .. 50 px (OTB toolkit)
PRECISION_AT = 20.0  # px, the reported precision (Wu et al., TPAMI 2015)


def _valid_gt(gt_xywh: np.ndarray) -> np.ndarray:
    return np.all(np.isfinite(gt_xywh), axis=1) & (gt_xywh[:, 2] > 0) & (gt_xywh[:, 3] > 0)


def frame_overlaps(pred_xywh: np.ndarray, gt_xywh: np.ndarray) -> np.ndarray:
    """Per-frame IoU in [0, 1], -1 where the ground truth is not a box."""
    pred, gt = np.asarray(pred_xywh, np.float64), np.asarray(gt_xywh, np.float64)
    iou = np.full(len(gt), -1.0)
    valid = _valid_gt(gt)
    iou[valid] = np.clip(iou_xyxy(xywh_to_xyxy(pred[valid]), xywh_to_xyxy(gt[valid])), 0.0, 1.0)
    return iou


def _centre(box_xywh: np.ndarray) -> np.ndarray:
    return box_xywh[:, :2] + box_xywh[:, 2:4] / 2


def centre_errors(pred_xywh: np.ndarray, gt_xywh: np.ndarray) -> np.ndarray:
    """Per-frame distance between box centres in pixels, -1 where the ground truth is not a box."""
    pred, gt = np.asarray(pred_xywh, np.float64), np.asarray(gt_xywh, np.float64)
    err = np.full(len(gt), -1.0)
    valid = _valid_gt(gt)
    err[valid] = np.linalg.norm(_centre(pred[valid]) - _centre(gt[valid]), axis=1)
    return err


def success_curve(overlaps: np.ndarray, thresholds: np.ndarray = SUCCESS_THRESHOLDS) -> np.ndarray:
    """Fraction of frames whose overlap is strictly above each threshold."""
    o = np.asarray(overlaps, np.float64)
    return (o[None, :] > np.asarray(thresholds)[:, None]).mean(axis=1)


def precision_curve(errors: np.ndarray, thresholds: np.ndarray = PRECISION_THRESHOLDS) -> np.ndarray:
    """Fraction of frames whose centre error is at most each threshold."""
    e = np.asarray(errors, np.float64)
    return (e[None, :] <= np.asarray(thresholds)[:, None]).mean(axis=1)


def score_otb_sequence(pred_xywh: np.ndarray, gt_xywh: np.ndarray) -> dict[str, np.ndarray | float]:
    """Success and precision curves of one sequence and their summary numbers."""
    if len(pred_xywh) != len(gt_xywh):
        raise ValueError(f"{len(pred_xywh)} predicted boxes for {len(gt_xywh)} ground-truth frames")
    success = success_curve(frame_overlaps(pred_xywh, gt_xywh))
    precision = precision_curve(centre_errors(pred_xywh, gt_xywh))
    return {"success_curve": success, "precision_curve": precision, "success_auc": float(success.mean()),
            "precision": float(np.interp(PRECISION_AT, PRECISION_THRESHOLDS, precision))}


def summarise_otb(per_sequence: list[dict]) -> dict:
    """Dataset curves (mean over sequences), success AUC and precision at 20 px."""
    if not per_sequence:
        nan = float("nan")
        return {"success_auc": nan, "precision": nan, "success_curve": np.full(len(SUCCESS_THRESHOLDS), nan),
                "precision_curve": np.full(len(PRECISION_THRESHOLDS), nan)}
    success = np.mean([s["success_curve"] for s in per_sequence], axis=0)
    precision = np.mean([s["precision_curve"] for s in per_sequence], axis=0)
    return {"success_auc": float(success.mean()),
            "precision": float(np.interp(PRECISION_AT, PRECISION_THRESHOLDS, precision)),
            "success_curve": success, "precision_curve": precision}
