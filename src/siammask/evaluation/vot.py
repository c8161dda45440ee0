"""VOT supervised (reset-based) measures: accuracy, robustness / lost count, expected average overlap.

The definitions follow the pysot toolkit (``toolkit/evaluation/ar_benchmark.py``, ``eao_benchmark.py``,
``toolkit/utils/statistics.py``), which is how SiamMask, SiamRPN++ and most follow-up papers report VOT:

* per-frame overlap: region overlap of the reported region and the ground truth, both cut to the image;
  frames carrying a code (init / failure / skip) have no overlap (NaN);
* accuracy: mean overlap over all frames of the dataset (frame-weighted), after dropping the
  ``burnin`` frames that start at every (re-)initialisation;
* lost: the total number of failures; robustness: failures per 100 frames of the dataset
  (``100 * lost / total frames``, which is how pysot prints "Robustness");
* EAO: every run is cut into fragments at the re-initialisations; a fragment that ends in a failure keeps
  overlap 0 up to the longest sequence, the last fragment simply ends. The expected overlap for length
  ``Ns`` is the weighted mean over fragments still defined at ``Ns`` of their average overlap over frames
  ``2 .. Ns`` (the initialisation frame is excluded); EAO averages that curve over the dataset's interval.

One deliberate difference: pysot bounds the EAO overlaps by ``(w - 1, h - 1)`` but the accuracy
overlaps by ``(w, h)``; here both use the image ``[0, w] x [0, h]`` in edge coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from siammask.evaluation.bootstrap import BOOTSTRAP_RESAMPLES, percentile_interval, resample_counts
from siammask.evaluation.region import FAILURE, INIT, region_overlap

VotEntry = int | np.ndarray
"""One line of a VOT result: a code (``INIT``, ``FAILURE``, ``SKIP``) or a polygon (K, 2) in image pixels."""


@dataclass
class VotSequenceScore:
    """The per-frame quantities every VOT measure is computed from (one run on one sequence)."""

    overlaps: np.ndarray  # (T,) region overlap, NaN on code frames
    failures: list[int]  # frame indices of the failure codes
    burnin_mask: np.ndarray  # (T,) bool, frames within the burn-in after an initialisation

    @property
    def num_frames(self) -> int:
        return len(self.overlaps)

    @property
    def accuracy_overlaps(self) -> np.ndarray:
        """Overlaps with the burn-in frames removed (NaN)."""
        return np.where(self.burnin_mask, np.nan, self.overlaps)

    @property
    def accuracy(self) -> float:
        valid = self.accuracy_overlaps[~np.isnan(self.accuracy_overlaps)]
        return float(valid.mean()) if valid.size else float("nan")

    @property
    def lost(self) -> int:
        return len(self.failures)


def score_vot_sequence(trajectory: list[VotEntry], gt_polygons: list[np.ndarray], image_wh: tuple[int, int],
                       burnin: int) -> VotSequenceScore:
    """Overlaps, failures and burn-in frames of one run; ``burnin`` frames start at every ``INIT``."""
    if len(trajectory) != len(gt_polygons):
        raise ValueError(f"trajectory has {len(trajectory)} entries but the ground truth {len(gt_polygons)} frames")
    overlaps = np.full(len(trajectory), np.nan)
    failures, burnin_mask = [], np.zeros(len(trajectory), dtype=bool)
    for f, entry in enumerate(trajectory):
        if isinstance(entry, (int, np.integer)):
            if entry == FAILURE:
                failures.append(f)
            elif entry == INIT:
                burnin_mask[f:f + burnin] = True
            continue
        overlaps[f] = region_overlap(entry, gt_polygons[f], image_wh)
    return VotSequenceScore(overlaps=overlaps, failures=failures, burnin_mask=burnin_mask)


def _fragments(score: VotSequenceScore, skip: int, max_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of per-frame overlaps (NaN after a fragment that ended without failure) and their weights."""
    length = score.num_frames
    overlaps = np.nan_to_num(score.overlaps, nan=0.0)
    starts = [0] + [f + skip for f in score.failures if f + skip <= length]
    rows, weights = [], []
    for i, start in enumerate(starts):
        row = np.full(max_len, np.nan)
        if i + 1 < len(starts):
            end = starts[i + 1]  # the next re-initialisation frame, included as pysot does
            piece = overlaps[start:end + 1]
            row[:] = 0.0
            weights.append(len(piece) / (end - start + 1))
        else:
            piece = overlaps[start:]
            weights.append(1.0)
        row[:len(piece)] = piece
        rows.append(row)
    return np.array(rows), np.array(weights)


def _overlap_sums(score: VotSequenceScore, skip: int, max_len: int) -> tuple[np.ndarray, np.ndarray]:
    """One sequence's share of the expected-overlap curve at lengths 2 .. ``max_len``: the weighted sums of its
    fragments' average overlaps times the length, and of the weights of the fragments defined there."""
    fragments, weights = _fragments(score, skip, max_len)
    defined = weights[:, None] * ~np.isnan(fragments[:, 1:])
    running_sum = np.cumsum(np.nan_to_num(fragments[:, 1:], nan=0.0), axis=1)  # sum over frames 1 .. i
    return (defined * running_sum).sum(0), defined.sum(0)


def _shares(scores: list[VotSequenceScore], skip: int) -> tuple[np.ndarray, np.ndarray]:
    """Every sequence's share (:func:`_overlap_sums`) over the longest sequence: two (sequences, L - 1) arrays."""
    max_len = max(s.num_frames for s in scores)
    overlap_sums, weight_sums = zip(*(_overlap_sums(s, skip, max_len) for s in scores))
    return np.stack(overlap_sums), np.stack(weight_sums)


def _curve(overlap_sums: np.ndarray, weight_sums: np.ndarray) -> np.ndarray:
    """The expected-overlap curve from summed (..., L - 1) shares; length 1 is 1 by definition."""
    lengths = np.arange(1, overlap_sums.shape[-1] + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        later = np.where(weight_sums > 0, overlap_sums / lengths / weight_sums, np.nan)
    return np.concatenate([np.ones(later.shape[:-1] + (1,)), later], axis=-1)


def expected_overlap_curve(scores: list[VotSequenceScore], skip: int) -> np.ndarray:
    """Expected average overlap for every sequence length ``Ns = 1 .. max length`` (index ``Ns - 1``)."""
    if not scores:
        return np.zeros(0)
    overlap_sums, weight_sums = _shares(scores, skip)
    return _curve(overlap_sums.sum(0), weight_sums.sum(0))


def eao_bootstrap_interval(scores: list[VotSequenceScore], skip: int, interval: tuple[int, int],
                           level: float = 0.95, resamples: int = BOOTSTRAP_RESAMPLES,
                           seed: int = 0) -> tuple[float, float]:
    """Percentile-bootstrap interval of the EAO, drawing whole sequences with replacement (as the DAVIS J / F
    intervals). A resample's curve is its sequences' shares summed with their counts, so each costs one product."""
    if not scores:
        return float("nan"), float("nan")
    overlap_sums, weight_sums = _shares(scores, skip)
    counts = resample_counts(len(scores), resamples, seed)
    curves = _curve(counts @ overlap_sums, counts @ weight_sums)
    return percentile_interval(np.array([eao_from_curve(curve, interval) for curve in curves]), level)


def eao_from_curve(curve: np.ndarray, interval: tuple[int, int]) -> float:
    """Mean of the expected-overlap curve over sequence lengths ``low .. high`` (inclusive, 1-based).

    Lengths beyond the longest sequence are not defined and are left out (pysot); an interval entirely
    beyond it gives NaN, so pick an interval that fits short (e.g. synthetic) sequences.
    """
    low, high = int(interval[0]), int(interval[1])
    if low < 1 or high < low:
        raise ValueError(f"EAO interval must be 1 <= low <= high, got {interval}")
    part = curve[low - 1:high]
    part = part[~np.isnan(part)]
    return float(part.mean()) if part.size else float("nan")


def summarise_vot(scores: list[VotSequenceScore], skip: int, interval: tuple[int, int]) -> dict:
    """Dataset measures as pysot prints them (see module docstring) plus the EAO curve."""
    total_frames = sum(s.num_frames for s in scores)
    lost = sum(s.lost for s in scores)
    overlaps = np.concatenate([s.accuracy_overlaps for s in scores]) if scores else np.zeros(0)
    overlaps = overlaps[~np.isnan(overlaps)]
    curve = expected_overlap_curve(scores, skip)
    return {
        "eao": eao_from_curve(curve, interval) if scores else float("nan"),
        "eao_ci95": list(eao_bootstrap_interval(scores, skip, interval)),
        "accuracy": float(overlaps.mean()) if overlaps.size else float("nan"),
        "robustness": 100.0 * lost / total_frames if total_frames else float("nan"),
        "lost": int(lost),
        "eao_curve": curve,
    }
