"""A reference point for every score: the tracker that never moves.

It reports the first-frame box in every frame (its mask is the filled box), so a trained model that does
not beat it on a benchmark has learnt nothing useful there; on synthetic videos it shows how much the
targets move.
"""

from __future__ import annotations

import numpy as np

from siammask.geometry import check_box_xyxy, polygon_from_box_xyxy, polygon_mask
from siammask.tracking import TrackResult


class StaticBoxTracker:
    """The tracker protocol (``init`` / ``add`` / ``track``) with constant boxes; images are RGB HWC uint8."""

    def __init__(self) -> None:
        self._results: list[TrackResult] = []

    def init(self, image_rgb: np.ndarray, boxes_xyxy: np.ndarray, masks: np.ndarray | None = None) -> list[TrackResult]:
        self._results = []
        return self.add(image_rgb, boxes_xyxy, masks)

    def add(self, image_rgb: np.ndarray, boxes_xyxy: np.ndarray, masks: np.ndarray | None = None) -> list[TrackResult]:
        hw = image_rgb.shape[:2]
        first = len(self._results)
        for i, box in enumerate(np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)):
            box = check_box_xyxy(box, hw, what=f"target {i} box")
            corners = polygon_from_box_xyxy(box)
            self._results.append(TrackResult(box_xyxy=box, rotated_box=corners, polygon=corners,
                                             mask=polygon_mask(corners, hw), score=1.0))
        return self.track(image_rgb)[first:]

    def track(self, image_rgb: np.ndarray) -> list[TrackResult]:
        return [TrackResult(r.box_xyxy.copy(), r.rotated_box.copy(), r.polygon.copy(), r.mask.copy() if r.mask is not None else None,
                            r.score)
                for r in self._results]
