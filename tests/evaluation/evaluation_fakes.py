"""Fake trackers and tiny on-disk benchmark layouts for the evaluation tests (nothing downloaded).

Frames carry their own index in pixel (0, 0), channel 0, so a fake tracker knows which frame it sees
without being told: the runners are then checked exactly as they drive a real tracker.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from siammask.evaluation.results import write_label_map
from siammask.geometry import polygon_bounds_xyxy, polygon_from_box_xyxy


@dataclass
class FakeResult:
    box_xyxy: np.ndarray
    rotated_box: np.ndarray
    polygon: np.ndarray
    mask: np.ndarray | None
    score: float


def indexed_frames(num_frames: int, hw: tuple[int, int] = (40, 50)) -> np.ndarray:
    """(T, H, W, 3) RGB frames whose pixel (0, 0, 0) is the frame index."""
    frames = np.full((num_frames, *hw, 3), 90, dtype=np.uint8)
    frames[:, 0, 0, 0] = np.arange(num_frames)
    return frames


def frame_index(image: np.ndarray) -> int:
    return int(image[0, 0, 0])


FAR_AWAY = polygon_from_box_xyxy([1000.0, 1000.0, 1010.0, 1010.0])


class BoxOracle:
    """Reports the ground-truth polygon, except at ``fail_at`` frames where it reports a region off the image."""

    def __init__(self, gt_polygons: list[np.ndarray], fail_at: set[int] = frozenset()) -> None:
        self.gt, self.fail_at, self.init_calls = gt_polygons, set(fail_at), []

    def init(self, image_rgb, boxes_xyxy, masks=None):
        self.init_calls.append((frame_index(image_rgb), np.asarray(boxes_xyxy, dtype=np.float64).copy()))

    def track(self, image_rgb):
        f = frame_index(image_rgb)
        polygon = FAR_AWAY if f in self.fail_at else np.asarray(self.gt[f], dtype=np.float64)
        return [FakeResult(polygon_bounds_xyxy(polygon), polygon, polygon, None, 1.0)]


class MaskOracle:
    """Reports every tracked object's ground-truth mask from label maps, with a fixed score per object id."""

    def __init__(self, labels: list[np.ndarray], scores: dict[int, float] | None = None,
                 masks: dict[tuple[int, int], np.ndarray] | None = None) -> None:
        self.labels, self.scores, self.masks = labels, scores or {}, masks or {}
        self.ids: list[int] = []
        self.init_calls, self.add_calls = [], []

    def init(self, image_rgb, boxes_xyxy, masks=None):
        self.ids = []
        self._start(self.init_calls, image_rgb, boxes_xyxy, masks)

    def add(self, image_rgb, boxes_xyxy, masks=None):
        self._start(self.add_calls, image_rgb, boxes_xyxy, masks)

    def _start(self, calls, image_rgb, boxes_xyxy, masks):
        f = frame_index(image_rgb)
        new = [int(np.bincount(self.labels[f][m > 0]).argmax()) for m in masks]
        self.ids += new
        calls.append((f, new, np.asarray(boxes_xyxy).copy()))

    def track(self, image_rgb):
        f = frame_index(image_rgb)
        out = []
        for obj in self.ids:
            mask = self.masks.get((f, obj), (self.labels[f] == obj)).astype(np.uint8)
            corners = polygon_from_box_xyxy([0, 0, 1, 1])
            out.append(FakeResult(np.array([0.0, 0, 1, 1]), corners, corners, mask, self.scores.get(obj, 0.5)))
        return out


def write_frames(folder: Path, num_frames: int, hw: tuple[int, int] = (40, 50), suffix: str = ".png",
                 start: int = 1, digits: int = 8) -> list[Path]:
    """Frame files named ``<start + i>`` zero-padded; PNG keeps the index pixel exact (JPEG would blur it)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, frame in enumerate(indexed_frames(num_frames, hw)):
        path = folder / f"{start + i:0{digits}d}{suffix}"
        cv2.imwrite(str(path), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        paths.append(path)
    return paths


def moving_box(f: int) -> list[float]:
    """Ground-truth ``x, y, w, h`` of the tiny layouts: a 10x8 box moving right one pixel per frame."""
    return [5.0 + f, 6.0, 10.0, 8.0]


def make_vot_release(root: Path, sequences: dict[str, int], polygon: bool = True) -> Path:
    """``list.txt`` + ``<seq>/color/*.jpg`` + ``groundtruth.txt`` (8-value polygons or 4-value boxes)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "list.txt").write_text("\n".join(sequences) + "\n")
    for name, n in sequences.items():
        write_frames(root / name / "color", n)
        rows = []
        for f in range(n):
            x, y, w, h = moving_box(f)
            values = [x, y, x + w, y, x + w, y + h, x, y + h] if polygon else [x, y, w, h]
            rows.append(",".join(f"{v:.2f}" for v in values))
        (root / name / "groundtruth.txt").write_text("\n".join(rows) + "\n")
    return root


def make_davis(root: Path, sequences: dict[str, int], year: int = 2017, hw: tuple[int, int] = (24, 32)) -> Path:
    """DAVIS layout with two objects per sequence: id 1 (left block) and id 2 (right block, moving)."""
    (root / "ImageSets" / str(year)).mkdir(parents=True, exist_ok=True)
    (root / "ImageSets" / str(year) / "val.txt").write_text("\n".join(sequences) + "\n")
    for name, n in sequences.items():
        write_frames(root / "JPEGImages" / "480p" / name, n, hw, start=0, digits=5)
        for f in range(n):
            write_label_map(root / "Annotations" / "480p" / name / f"{f:05d}.png", davis_labels(f, hw))
    return root


def davis_labels(f: int, hw: tuple[int, int] = (24, 32)) -> np.ndarray:
    labels = np.zeros(hw, dtype=np.uint8)
    labels[4:12, 2:8] = 1
    labels[10:20, 12 + f:20 + f] = 2
    return labels


def write_json(path: Path, content: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content))
    return path
