"""VOT2020 short-term measures: the anchor-based ("multistart") experiment's accuracy, robustness and EAO.

Definitions as the official VOT toolkit computes them (``votchallenge/toolkit``; the same in its 2020 release and
today); each function names the toolkit file it follows:

* runs (``vot/experiment/multistart.py``, ``find_anchors`` and ``execute``): the tracker starts at every anchor
  frame from the ground truth there and runs without resets to the last frame, or, for a backward anchor, through
  the frames before it down to the first. A run's entry 0 is the initialisation code, never a region.
* overlap (``vot/region/raster.py``, ``calculate_overlap`` bounded by the image): pixel IoU inside the image; two
  empty regions (e.g. the initialisation code against an empty ground truth) overlap 1 (:func:`mask_overlap`).
* failure (``vot/analysis/multistart.py``, ``AccuracyRobustness.subcompute``): a run fails at the first of
  ``grace`` (10) consecutive frames whose overlap is at most ``threshold`` (0.1) and whose ground truth is not
  empty; frames with empty ground truth restart the count. The frames before that point are the run's
  *progress* (all of them when it never fails).
* accuracy: the overlaps of the progress frames, initialisation entry included (it scores 0 against a visible
  target, as in the toolkit), summed over the runs and divided by the summed progress; per sequence, and over
  the dataset weighted by each sequence's summed progress (``AverageAccuracyRobustness``), i.e. pooled frames.
* robustness: summed progress over summed run lengths per sequence; over the dataset weighted by each
  sequence's number of frames (``AverageAccuracyRobustness``).
* EAO (``compute_eao_partial``, ``EAOCurves``, ``EAOCurve``, ``EAOScore``): a failed run's overlaps are 0 from the
  failure on. For lengths ``j = 1 .. high - 1`` every run longer than ``j`` adds the mean of its overlaps
  ``1 .. j``; a failed run not longer than ``j`` adds its overlaps' sum over ``1 .. L - 1`` divided by ``j - 1``
  (the toolkit's divisor, kept); a run that ended without failure adds nothing there. Each curve point averages
  the runs that added to it, over all sequences pooled (0 where none did; point 0 is 0); EAO is the mean of the
  curve's points ``low .. high`` (the curve stops at ``high - 1``; VOT2020: 115, 755).

Where this differs from the toolkit, by design:

* Ground truth is empty when it has no foreground pixel; the toolkit's ``Mask.is_empty`` also calls a mask
  one pixel wide or tall (in its cropped frame) empty, and its overlap calls two regions whose joint bounds are a
  single pixel row or column identical. Both concern targets one pixel thin only.
* Rectangles and polygons (in ground truth or results) are rasterised by pixel centres
  (:func:`siammask.geometry.polygon_mask`) rather than by the toolkit's scan line over rounded corners: the same
  pixels for whole-pixel coordinates, at most a pixel row or column along the edges otherwise.
* A run of one frame that fails (only possible with ``grace`` 1) has no overlaps ``1 .. L - 1``; it adds 0 where
  the toolkit would divide 0 by 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from siammask.evaluation.region import MaskRegion, mask_overlap, rasterise

Anchor = tuple[int, bool]
"""(anchor frame, whether its run goes backwards to the first frame)."""


def anchors_from_values(values: np.ndarray) -> list[Anchor]:
    """The runs of a sequence from its ``anchor.value`` numbers, forward anchors first (toolkit order).

    The toolkit (``find_anchors``) runs a frame whose value is positive forwards and one whose value is negative
    backwards. A file with no negative value (0 / 1 flags) says nothing about direction; its anchors in the
    second half of the sequence (frame index above half the length) run backwards, the rule of the toolkit's
    first multistart experiment (before directions moved into the file's signs), so every run is as long as the
    anchor's position allows.
    """
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    signed = bool((values < 0).any())
    half = len(values) / 2
    runs = [(int(f), bool(values[f] < 0 if signed else f > half)) for f in np.flatnonzero(values != 0)]
    return sorted(runs, key=lambda run: run[1])


def run_frames(anchor: Anchor, num_frames: int) -> list[int]:
    """The frame indices a run sees, in order: from the anchor to the last frame, or back to the first."""
    frame, backwards = anchor
    return list(range(frame, -1, -1)) if backwards else list(range(frame, num_frames))


@dataclass
class RunScore:
    """One anchor's run: its overlaps in run order and the frames before its failure."""

    overlaps: np.ndarray  # (L,), entry 0 is the initialisation
    progress: int  # frames before the failure (L: no failure)

    @property
    def failed(self) -> bool:
        return self.progress < len(self.overlaps)


def frames_before_failure(overlaps: np.ndarray, gt_empty: np.ndarray, threshold: float, grace: int) -> int:
    """The run's progress: the index of the first of ``grace`` consecutive frames with overlap <= ``threshold``
    and a non-empty ground truth, or the run length if there is none."""
    low = 0
    for j, (overlap, empty) in enumerate(zip(overlaps, gt_empty)):
        low = low + 1 if overlap <= threshold and not empty else 0
        if low == grace:
            return j + 1 - grace
    return len(overlaps)


def score_run(entries: Sequence[int | np.ndarray | MaskRegion], truth: Sequence[MaskRegion],
              image_hw: tuple[int, int], threshold: float, grace: int) -> RunScore:
    """One run against the ground truth of its frames, both in run order; codes score as empty regions."""
    if len(entries) != len(truth):
        raise ValueError(f"the run has {len(entries)} entries but covers {len(truth)} frames")
    overlaps = np.array([mask_overlap(rasterise(e, image_hw), gt, image_hw) for e, gt in zip(entries, truth)])
    progress = frames_before_failure(overlaps, np.array([gt.is_empty for gt in truth]), threshold, grace)
    return RunScore(overlaps, progress)


@dataclass
class SequenceScore:
    """Every run of one sequence."""

    runs: list[RunScore]
    num_frames: int

    @property
    def progress(self) -> int:
        return sum(r.progress for r in self.runs)

    @property
    def accuracy(self) -> float:
        """Mean overlap over the frames before failure (0 if no run got past its start, as the toolkit)."""
        return float(sum(r.overlaps[:r.progress].sum() for r in self.runs) / self.progress) if self.progress else 0.0

    @property
    def robustness(self) -> float:
        return self.progress / sum(len(r.overlaps) for r in self.runs)


def expected_overlap_curve(runs: Sequence[RunScore], high: int) -> np.ndarray:
    """The EAO curve, points ``0 .. high - 1``, over the runs of all sequences (module docstring)."""
    total, active = np.zeros(high), np.zeros(high)
    lengths = np.arange(1, high)
    for run in runs:
        overlaps = np.where(np.arange(len(run.overlaps)) < run.progress, run.overlaps, 0.0)
        running = np.cumsum(overlaps[1:])  # sum of overlaps 1 .. j at index j - 1
        inside = lengths < len(overlaps)
        total[1:][inside] += running[lengths[inside] - 1] / lengths[inside]
        active[1:][inside] += 1
        if run.failed:
            after = ~inside
            divisor = lengths[after] - 1
            total[1:][after] += np.divide(overlaps[1:].sum(), divisor, out=np.zeros(divisor.size),
                                          where=divisor > 0)
            active[1:][after] += 1
    return np.divide(total, active, out=np.zeros(high), where=active > 0)


def summarise_vot2020(scores: Sequence[SequenceScore], eao_interval: tuple[int, int]) -> dict:
    """Dataset EAO, accuracy and robustness as the toolkit aggregates them, and the EAO curve."""
    low, high = int(eao_interval[0]), int(eao_interval[1])
    if not scores:
        return {"eao": float("nan"), "accuracy": float("nan"), "robustness": float("nan"), "eao_curve": np.zeros(0)}
    curve = expected_overlap_curve([run for s in scores for run in s.runs], high)
    progress, frames = sum(s.progress for s in scores), sum(s.num_frames for s in scores)
    return {
        "eao": float(curve[low:high + 1].mean()) if low < high else float("nan"),
        "accuracy": sum(s.accuracy * s.progress for s in scores) / progress if progress else float("nan"),
        "robustness": sum(s.robustness * s.num_frames for s in scores) / frames,
        "eao_curve": curve,
    }
