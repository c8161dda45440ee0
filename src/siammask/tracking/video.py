"""Track targets through a whole video and write what ``track.py`` promises: JSON, mask PNGs, an overlay video.

Outputs in ``output_dir``:
- ``results.json``: a list with one entry per frame and target, ``{"frame", "target", "bbox_xywh",
  "rotated_box" (4 points), "polygon" (points), "score"}`` in image pixels: ``bbox_xywh`` the tracker's box
  (the release's target_pos / target_sz), ``rotated_box`` the mask's minimum-area rectangle, ``polygon`` the
  region of ``tracker.box_mode`` (what VOT scores); frame 0 holds the given boxes with score 1.
- ``masks/<frame>.png`` (one target) or ``masks/<frame>_<target>.png`` (several), 0/255, frames and
  targets numbered from 0, frames zero-padded to 5 digits; none for frame 0 (only a box is given).
- ``overlay.mp4`` (mp4v; ``overlay.avi`` with MJPG where mp4v is unavailable): masks tinted and
  rotated boxes drawn in one colour per target.
"""

from __future__ import annotations

import json
from itertools import islice
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from siammask.geometry import check_box_xyxy, xywh_to_xyxy, xyxy_to_xywh
from siammask.tracking.io import FrameSource
from siammask.tracking.tracker import Tracker, TrackResult

# BGR colours of targets 0, 1, ... (cycled), chosen to stay distinct on natural images.
PALETTE_BGR = ((0, 200, 255), (255, 80, 0), (80, 255, 0), (255, 0, 200), (0, 80, 255), (200, 255, 255))
MASK_TINT = 0.5  # weight of the target colour inside its mask
LINE_THICKNESS = 2
# Writers tried in order: (fourcc, file suffix). opencv-python-headless ships FFmpeg with mp4v; MJPG is a fallback.
VIDEO_WRITERS = (("mp4v", ".mp4"), ("MJPG", ".avi"))
DEFAULT_FPS = 25.0  # overlay frame rate when the input (a folder of images) has none


@dataclass(frozen=True)
class TrackingOutputs:
    results_json: Path
    masks_dir: Path
    overlay_video: Path | None
    num_frames: int


def boxes_from_xywh(bbox_xywh: Sequence, image_hw: tuple[int, int], source: str) -> np.ndarray:
    """``[x, y, w, h]`` or a list of them (image pixels) -> (T, 4) xyxy, each checked against the first frame."""
    boxes = np.asarray(bbox_xywh, dtype=np.float64)
    boxes = boxes[None] if boxes.ndim == 1 else boxes
    if boxes.ndim != 2 or boxes.shape[1] != 4 or len(boxes) == 0:
        raise ValueError(f"bbox must be [x, y, w, h] or a list of such boxes, got {bbox_xywh!r}")
    return np.stack([check_box_xyxy(xywh_to_xyxy(b), image_hw, what=f"bbox {i} (xywh={b.tolist()}) of {source}")
                     for i, b in enumerate(boxes)])


def track_video(frames: FrameSource, tracker: Tracker, boxes_xyxy: np.ndarray, output_dir: str | Path,
                max_frames: int | None = None, overlay: bool = True, progress: bool = True) -> TrackingOutputs:
    """Initialise on the first frame with ``boxes_xyxy`` and track to the end (or ``max_frames``)."""
    output_dir = Path(output_dir)
    masks_dir = output_dir / "masks"
    masks_dir.mkdir(parents=True, exist_ok=True)
    total = len(frames) if max_frames is None else min(len(frames), max_frames)
    several = len(boxes_xyxy) > 1
    records: list[dict] = []
    writer, video_path = None, None
    done = 0
    if overlay:
        writer, video_path = _open_writer(output_dir / "overlay", frames.fps or DEFAULT_FPS, frames.frame_hw)
    try:
        chosen = frames if max_frames is None else islice(frames, max_frames)
        for index, frame in enumerate(tqdm(chosen, total=total, desc=f"tracking {frames.path.name}",
                                           disable=not progress, unit="frame")):
            results = tracker.init(frame, boxes_xyxy) if index == 0 else tracker.track(frame)
            for target, result in enumerate(results):
                records.append(_record(index, target, result))
                if result.mask is not None:
                    name = f"{index:05d}_{target}.png" if several else f"{index:05d}.png"
                    cv2.imwrite(str(masks_dir / name), result.mask * np.uint8(255))
            if writer is not None:
                writer.write(draw_overlay(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), results))
            done = index + 1
    finally:
        if writer is not None:
            writer.release()
    results_json = output_dir / "results.json"
    results_json.write_text("[\n" + ",\n".join(json.dumps(r) for r in records) + "\n]\n")  # one entry a line
    return TrackingOutputs(results_json, masks_dir, video_path, done)


def draw_overlay(image_bgr: np.ndarray, results: Sequence[TrackResult]) -> np.ndarray:
    """Tint each mask and outline each rotated box on a copy of a BGR frame."""
    canvas = image_bgr.copy()
    for target, result in enumerate(results):
        colour = PALETTE_BGR[target % len(PALETTE_BGR)]
        if result.mask is not None:
            inside = result.mask.astype(bool)
            canvas[inside] = (canvas[inside] * (1 - MASK_TINT) + np.array(colour) * MASK_TINT).astype(np.uint8)
        points = np.round(result.rotated_box).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(canvas, [points], isClosed=True, color=colour, thickness=LINE_THICKNESS)
    return canvas


def _record(frame: int, target: int, result: TrackResult) -> dict:
    def rounded(values: np.ndarray) -> list:
        return np.round(np.asarray(values, dtype=np.float64), 3).tolist()

    return {"frame": frame, "target": target, "bbox_xywh": rounded(xyxy_to_xywh(result.box_xyxy)),
            "rotated_box": rounded(result.rotated_box), "polygon": rounded(result.polygon),
            "score": round(result.score, 5)}


def _open_writer(stem: Path, fps: float, frame_hw: tuple[int, int]) -> tuple[cv2.VideoWriter, Path]:
    for fourcc, suffix in VIDEO_WRITERS:
        path = stem.with_suffix(suffix)
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (frame_hw[1], frame_hw[0]))
        if writer.isOpened():
            return writer, path
        writer.release()
    raise RuntimeError(f"OpenCV can write none of {[f for f, _ in VIDEO_WRITERS]} videos here; pass overlay=false")
