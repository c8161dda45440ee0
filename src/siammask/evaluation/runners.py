"""Protocol runners: drive any tracker with ``init`` / ``track`` through a sequence the way each benchmark prescribes.

* VOT supervised (foolwood/SiamMask ``tools/test.py``, the VOT baseline experiment): initialise on the
  ground truth, a frame whose region overlap with the ground truth is 0 is a failure, the tracker is
  re-initialised ``skip`` frames later (5) and the frames in between are skipped.
* OTB one-pass: initialise once on the first ground-truth box, never reset.
* VOT2020 anchor-based (vot-toolkit ``vot/experiment/multistart.py``): a run per anchor, initialised on the
  ground-truth mask there and tracked without resets to the last frame, or backwards to the first.
* Semi-supervised VOS (DAVIS, YouTube-VOS): objects start from their first given mask; all objects of a
  video are targets of one tracker, those starting later are added to it when their first mask arrives.
  Per frame the masks are merged into one label map: where masks overlap, the object with the higher
  score wins; on an object's start frame its given mask wins.

The tracker only needs ``init(image_rgb, boxes_xyxy, masks=None)``, ``add`` (same arguments; VOS only) and
``track(image_rgb) -> [result]`` with results carrying ``polygon`` (K, 2), ``box_xyxy``, ``mask`` (H, W) 0/1
or None and ``score``.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

import numpy as np

from siammask.evaluation.datasets import AnchoredSequence, BoxSequence, MaskSequence
from siammask.evaluation.region import FAILURE, INIT, SKIP, MaskRegion, region_overlap
from siammask.evaluation.vot import VotEntry
from siammask.evaluation.vot2020 import Anchor, run_frames
from siammask.geometry import mask_to_box_xyxy, polygon_mask, xyxy_to_xywh


class TrackerLike(Protocol):
    def init(self, image_rgb: np.ndarray, boxes_xyxy: np.ndarray, masks: np.ndarray | None = None) -> Any: ...

    def add(self, image_rgb: np.ndarray, boxes_xyxy: np.ndarray, masks: np.ndarray | None = None) -> Any: ...

    def track(self, image_rgb: np.ndarray) -> list[Any]: ...


def run_vot(tracker: TrackerLike, seq: BoxSequence, skip: int = 5) -> list[VotEntry]:
    """One supervised run: ``INIT`` / region / ``FAILURE`` / ``SKIP`` per frame (pysot baseline codes)."""
    trajectory: list[VotEntry] = []
    start = 0
    for f in range(len(seq.frames)):
        if f < start:
            trajectory.append(SKIP)
            continue
        image = seq.frames[f]
        if f == start:
            tracker.init(image, seq.init_box_xyxy(f)[None])
            trajectory.append(INIT)
            continue
        polygon = np.asarray(tracker.track(image)[0].polygon, dtype=np.float64)
        if region_overlap(polygon, seq.gt_polygons[f], seq.image_hw[::-1]) > 0:
            trajectory.append(polygon)
        else:
            trajectory.append(FAILURE)
            start = f + skip
    return trajectory


def run_otb(tracker: TrackerLike, seq: BoxSequence) -> np.ndarray:
    """One pass without resets; (T, 4) ``x, y, w, h`` boxes, the first being the given one."""
    return run_ope_timed(tracker, seq)[0]


def run_ope_timed(tracker: TrackerLike, seq: BoxSequence) -> tuple[np.ndarray, np.ndarray]:
    """:func:`run_otb` and the seconds each frame's ``init`` / ``track`` took (GOT-10k's ``<seq>_time.txt``:
    reported, never used by a score)."""
    first = seq.init_box_xyxy(0)
    boxes, seconds = [first], []
    for f in range(len(seq.frames)):
        image = seq.frames[f]
        start = time.perf_counter()
        if f == 0:
            tracker.init(image, first[None])
        else:
            boxes.append(np.asarray(tracker.track(image)[0].box_xyxy, dtype=np.float64))
        seconds.append(time.perf_counter() - start)
    return xyxy_to_xywh(np.array(boxes)), np.array(seconds)


def run_anchor(tracker: TrackerLike, seq: AnchoredSequence, anchor: Anchor
               ) -> tuple[list[int | MaskRegion], np.ndarray]:
    """One run of the anchor-based experiment: ``INIT`` then the tracker's mask per frame, in run order, and the
    seconds each frame's ``init`` / ``track`` took."""
    entries: list[int | MaskRegion] = [INIT]
    seconds = []
    for k, f in enumerate(run_frames(anchor, len(seq.frames))):
        image = seq.frames[f]
        start = time.perf_counter()
        if k == 0:
            mask = seq.init_mask(f)
            tracker.init(image, mask_to_box_xyxy(mask)[None], mask[None])
        else:
            entries.append(MaskRegion.from_full(result_mask(tracker.track(image)[0], seq.image_hw)))
        seconds.append(time.perf_counter() - start)
    return entries, np.array(seconds)


def result_mask(result: Any, image_hw: tuple[int, int]) -> np.ndarray:
    """The tracker's mask, or its reported region filled when the model has no mask branch."""
    if result.mask is not None:
        return np.asarray(result.mask).astype(bool)
    return polygon_mask(result.polygon, image_hw).astype(bool)


def run_vos(tracker: TrackerLike, seq: MaskSequence) -> list[np.ndarray]:
    """Label maps (H, W) uint8 of object ids for every frame of a semi-supervised sequence."""
    groups: dict[int, list[int]] = {}
    for obj in seq.object_ids:
        groups.setdefault(seq.start_frames[obj], []).append(obj)
    tracked: list[int] = []  # object ids in the tracker's target order
    outputs = []
    for f in range(len(seq.frames)):
        image = seq.frames[f]
        results = tracker.track(image) if tracked else []
        masks = [result_mask(result, seq.image_hw) for result in results]
        priorities = [float(result.score) for result in results]
        ids = list(tracked)
        if f in groups:
            objs = groups[f]
            given = np.stack([seq.init_mask(obj) for obj in objs])
            start = tracker.add if tracked else tracker.init
            start(image, np.stack([mask_to_box_xyxy(m) for m in given]), given)
            tracked += objs
            masks += list(given.astype(bool))
            priorities += [np.inf] * len(objs)
            ids += objs
        outputs.append(merge_masks(masks, priorities, ids, seq.image_hw))
    return outputs


def merge_masks(masks: list[np.ndarray], priorities: list[float], ids: list[int],
                image_hw: tuple[int, int]) -> np.ndarray:
    """One label map from per-object binary masks; a pixel claimed by several goes to the highest priority."""
    labels = np.zeros(image_hw, dtype=np.uint8)
    if not masks:
        return labels
    claim = np.where(np.stack(masks), np.asarray(priorities, dtype=np.float64)[:, None, None], -np.inf)
    winner = np.argmax(claim, axis=0)
    claimed = claim.max(axis=0) > -np.inf
    labels[claimed] = np.asarray(ids, dtype=np.uint8)[winner[claimed]]
    return labels
