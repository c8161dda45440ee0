"""OTB one-pass evaluation (OPE): success (overlap), precision and normalised precision (centre error) curves.

Definitions of the OTB toolkit as pysot's ``ope_benchmark.py`` reproduces them: a frame whose
ground truth has no width or height (target absent / unannotated) gets overlap -1 and centre error -1,
so it counts as a miss on the success curve and as a hit on the precision curve, and all frames stay in
the denominator. Dataset curves are the mean of the per-sequence curves; the success AUC is the mean of
the 21-point success curve and "precision" is the precision curve at 20 pixels. The normalised precision
of LaSOT (Fan et al., CVPR 2019) divides the centre error by the ground-truth box's width and height, so
large and small targets weigh alike; it is reported at 0.2 on thresholds 0, 0.01, ..., 0.5, as pysot does.

Frames where the benchmark says the target is out of view (LaSOT's full occlusion / out-of-view flags) are
left out of the numerator but stay in the denominator (pysot-toolkit's ``ope_benchmark.py`` keeps only the
``absent == 1`` frames and divides by the sequence length): they are misses on all three curves.
"""

from __future__ import annotations

import numpy as np

from siammask.geometry import iou_xyxy, xywh_to_xyxy

SUCCESS_THRESHOLDS = np.linspace(0.0, 1.0, 21)  # overlap thresholds 0, 0.05, ..., 1 (OTB toolkit)
PRECISION_THRESHOLDS = np.arange(0, 51, dtype=np.float64)  # centre-error thresholds 0 .. 50 px (OTB toolkit)
PRECISION_AT = 20.0  # px, the reported precision (Wu et al., TPAMI 2015)
NORM_PRECISION_THRESHOLDS = np.arange(0, 51, dtype=np.float64) / 100  # normalised centre error 0 .. 0.5
NORM_PRECISION_AT = 0.2  # the reported normalised precision (pysot's LaSOT evaluation)


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


def centre_errors(pred_xywh: np.ndarray, gt_xywh: np.ndarray, normalised: bool = False) -> np.ndarray:
    """Per-frame distance between box centres, -1 where the ground truth is not a box; in pixels, or with
    ``normalised`` in units of the ground-truth width and height (LaSOT)."""
    pred, gt = np.asarray(pred_xywh, np.float64), np.asarray(gt_xywh, np.float64)
    err = np.full(len(gt), -1.0)
    valid = _valid_gt(gt)
    offset = _centre(pred[valid]) - _centre(gt[valid])
    err[valid] = np.linalg.norm(offset / gt[valid, 2:4] if normalised else offset, axis=1)
    return err


def success_curve(overlaps: np.ndarray, thresholds: np.ndarray = SUCCESS_THRESHOLDS) -> np.ndarray:
    """Fraction of frames whose overlap is strictly above each threshold."""
    o = np.asarray(overlaps, np.float64)
    return (o[None, :] > np.asarray(thresholds)[:, None]).mean(axis=1)


def precision_curve(errors: np.ndarray, thresholds: np.ndarray = PRECISION_THRESHOLDS) -> np.ndarray:
    """Fraction of frames whose centre error is at most each threshold."""
    e = np.asarray(errors, np.float64)
    return (e[None, :] <= np.asarray(thresholds)[:, None]).mean(axis=1)


CURVE_THRESHOLDS = {"success_curve": SUCCESS_THRESHOLDS, "precision_curve": PRECISION_THRESHOLDS,
                    "norm_precision_curve": NORM_PRECISION_THRESHOLDS}
SUMMARY_KEYS = ("success_auc", "precision", "norm_precision")


def score_otb_sequence(pred_xywh: np.ndarray, gt_xywh: np.ndarray,
                       visible: np.ndarray | None = None) -> dict[str, np.ndarray | float]:
    """Success, precision and normalised precision curves of one sequence and their summary numbers;
    ``visible`` (T,) bool marks the frames where the target is in view (None: all), the others are misses."""
    if len(pred_xywh) != len(gt_xywh):
        raise ValueError(f"{len(pred_xywh)} predicted boxes for {len(gt_xywh)} ground-truth frames")
    hidden = np.zeros(len(gt_xywh), bool) if visible is None else ~np.asarray(visible, bool)
    overlaps = np.where(hidden, -1.0, frame_overlaps(pred_xywh, gt_xywh))  # -1: above no threshold
    errors, norm_errors = (np.where(hidden, np.inf, centre_errors(pred_xywh, gt_xywh, normalised))  # inf: within none
                           for normalised in (False, True))
    curves = {"success_curve": success_curve(overlaps), "precision_curve": precision_curve(errors),
              "norm_precision_curve": precision_curve(norm_errors, NORM_PRECISION_THRESHOLDS)}
    return {**curves, **_summary_numbers(curves)}


def _summary_numbers(curves: dict[str, np.ndarray]) -> dict[str, float]:
    """Success AUC, precision at 20 px and normalised precision at 0.2 of a set of curves."""
    return {"success_auc": float(curves["success_curve"].mean()),
            "precision": float(np.interp(PRECISION_AT, PRECISION_THRESHOLDS, curves["precision_curve"])),
            "norm_precision": float(np.interp(NORM_PRECISION_AT, NORM_PRECISION_THRESHOLDS,
                                              curves["norm_precision_curve"]))}


def summarise_otb(per_sequence: list[dict]) -> dict:
    """Dataset curves (mean over sequences) and their summary numbers (:data:`SUMMARY_KEYS`)."""
    curves = {name: (np.mean([s[name] for s in per_sequence], axis=0) if per_sequence
                     else np.full(len(thresholds), float("nan")))
              for name, thresholds in CURVE_THRESHOLDS.items()}
    return {**curves, **_summary_numbers(curves)}
