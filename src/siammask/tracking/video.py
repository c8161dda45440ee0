"""Track targets through a whole video and write what ``track.py`` promises: JSON, mask PNGs, an overlay video.

Outputs in ``output_dir``:
- ``results.json``: a list with one entry per frame and target, ``{"frame", "target", "bbox_xywh",
  "rotated_box" (4 points), "polygon" (points), "score"}`` in image pixels: ``bbox_xywh`` the tracker's box
  (the release's target_pos / target_sz), ``rotated_box`` the mask's minimum-area rectangle, ``polygon`` the
  region of ``tracker.box_mode`` (what VOT scores); frame 0 holds the given boxes with score 1.
- ``masks/<frame>.png`` (one target) or ``masks/<frame>_<target>.png`` (several), 0/255, frames and
  targets numbered from 0, frames zero-padded to 5 digits; one for every frame: frame 0's is the given
  mask, or the given box filled (pixels whose centre lies inside it).
- ``overlay.mp4``: H.264 (yuv420p, even width and height, ``faststart``) written by PyAV's bundled
  FFmpeg, so browsers play it; masks tinted and rotated boxes drawn in one colour per target.

A box that reaches past the image is clipped to it, with a warning (VOT ground truth does that at image
edges too; the tracker itself accepts such boxes); a box entirely outside is refused.
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import islice
from pathlib import Path

import av
import cv2
import numpy as np
from tqdm import tqdm

from siammask.geometry import check_box_xyxy, polygon_from_box_xyxy, polygon_mask, xywh_to_xyxy, xyxy_to_xywh
from siammask.tracking.io import FrameSource
from siammask.tracking.tracker import StageTimes, Tracker, TrackResult

# BGR colours of targets 0, 1, ... (cycled), chosen to stay distinct on natural images.
PALETTE_BGR = ((0, 200, 255), (255, 80, 0), (80, 255, 0), (255, 0, 200), (0, 80, 255), (200, 255, 255))
MASK_TINT = 0.5  # weight of the target colour inside its mask
LINE_THICKNESS = 2
DEFAULT_FPS = 25.0  # overlay frame rate when the input (a folder of images) has none
# H.264 as browsers play it: 4:2:0 chroma (needs even sides), moov atom first for streaming. CRF 23 is
# x264's default quality; "veryfast" keeps encoding small next to tracking.
H264_OPTIONS = {"crf": "23", "preset": "veryfast"}
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrackingOutputs:
    results_json: Path
    masks_dir: Path
    overlay_video: Path | None
    num_frames: int
    frame_seconds: list[float] = field(default_factory=list)  # each tracked frame's Tracker.track call
    stages: list[StageTimes] = field(default_factory=list)  # and its split (Tracker.timings)
    interrupted: bool = False  # stopped by Ctrl-C: the outputs hold the frames done before it


def boxes_from_xywh(bbox_xywh: Sequence, image_hw: tuple[int, int], source: str) -> np.ndarray:
    """``[x, y, w, h]`` or a list of them (image pixels) -> (T, 4) xyxy, each checked against the first frame.

    A box partly outside the image is clipped to it with a warning; one entirely outside is refused.
    """
    boxes = np.asarray(bbox_xywh, dtype=np.float64)
    boxes = boxes[None] if boxes.ndim == 1 else boxes
    if boxes.ndim != 2 or boxes.shape[1] != 4 or len(boxes) == 0:
        raise ValueError(f"bbox must be [x, y, w, h] or a list of such boxes, got {bbox_xywh!r}")
    h, w = image_hw
    checked = []
    for i, b in enumerate(boxes):
        box = check_box_xyxy(xywh_to_xyxy(b), image_hw, what=f"bbox {i} (xywh={b.tolist()}) of {source}")
        clipped = np.clip(box, 0, [w, h, w, h])
        if not np.array_equal(clipped, box):
            log.warning("bbox %d xywh=%s reaches past the %dx%d image of %s: clipped to xywh=%s", i, b.tolist(),
                        w, h, source, xyxy_to_xywh(clipped).tolist())
        checked.append(clipped)
    return np.stack(checked)


def check_max_frames(max_frames: int | None) -> int | None:
    """``None`` (the whole video) or a positive whole number of frames."""
    if max_frames is None:
        return None
    if isinstance(max_frames, bool) or not isinstance(max_frames, int) or max_frames < 1:
        raise ValueError(f"max_frames must be a positive number of frames or null (the whole video), "
                         f"got {max_frames!r}")
    return max_frames


def track_video(frames: FrameSource, tracker: Tracker, boxes_xyxy: np.ndarray | None, output_dir: str | Path,
                max_frames: int | None = None, overlay: bool = True, progress: bool = True,
                masks: np.ndarray | None = None) -> TrackingOutputs:
    """Initialise on the first frame with ``boxes_xyxy`` (T, 4) and/or ``masks`` (T, H, W) and track to the end
    (or ``max_frames``)."""
    max_frames = check_max_frames(max_frames)
    output_dir = Path(output_dir)
    masks_dir = output_dir / "masks"
    masks_dir.mkdir(parents=True, exist_ok=True)
    total = len(frames) if max_frames is None else min(len(frames), max_frames)
    records: list[dict] = []
    writer = H264Writer(output_dir / "overlay.mp4", frames.fps or DEFAULT_FPS, frames.frame_hw) if overlay else None
    done = 0
    frame_seconds: list[float] = []
    stages: list[StageTimes] = []
    with _stop_after_frame_on_ctrl_c() as stop:
        try:
            chosen = frames.numbered() if max_frames is None else islice(frames.numbered(), max_frames)
            for number, frame in tqdm(chosen, total=total, desc=f"tracking {frames.path.name}",
                                      disable=not progress, unit="frame"):
                if number == 0:
                    given = tracker.init(frame, boxes_xyxy, masks)
                    from_box = [result.mask is None for result in given]
                    results = [_with_mask(r, frame.shape[:2]) for r in given]
                else:
                    start = time.perf_counter()
                    results = tracker.track(frame)
                    frame_seconds.append(time.perf_counter() - start)
                    stages.append(tracker.timings)
                several = len(results) > 1
                for target, result in enumerate(results):
                    records.append(_record(number, target, result, mask_from_box=number == 0 and from_box[target]))
                    if result.mask is not None:
                        name = f"{number:05d}_{target}.png" if several else f"{number:05d}.png"
                        cv2.imwrite(str(masks_dir / name), result.mask * np.uint8(255))
                if writer is not None:
                    writer.write(draw_overlay(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), results))
                done += 1
                if stop.is_set():
                    break
        finally:
            if writer is not None:
                writer.close()
    results_json = output_dir / "results.json"
    results_json.write_text("[\n" + ",\n".join(json.dumps(r) for r in records) + "\n]\n")  # one entry a line
    return TrackingOutputs(results_json, masks_dir, writer.path if writer is not None else None, done, frame_seconds,
                           stages, interrupted=stop.is_set())


@contextlib.contextmanager
def _stop_after_frame_on_ctrl_c() -> Iterator[threading.Event]:
    """While tracking, the first Ctrl-C (SIGINT) asks to stop after the frame in progress, so every output written
    so far stays consistent; a second one interrupts at once. Outside the main thread signals cannot be caught:
    Ctrl-C then interrupts as usual."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def request_stop(signum: int, frame: object) -> None:
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C: KeyboardInterrupt at once
        log.warning("Ctrl-C: stopping after this frame (press again to stop at once)")

    previous = signal.signal(signal.SIGINT, request_stop)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


def _with_mask(result: TrackResult, image_hw: tuple[int, int]) -> TrackResult:
    """Frame 0's result with a mask: the given one, else the given box filled."""
    if result.mask is not None:
        return result
    mask = polygon_mask(polygon_from_box_xyxy(result.box_xyxy), image_hw)
    return TrackResult(result.box_xyxy, result.rotated_box, result.polygon, mask, result.score)


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


def _record(frame: int, target: int, result: TrackResult, mask_from_box: bool = False) -> dict:
    """One results.json entry; ``mask_from_box`` marks frame 0's mask that is only the given box, filled."""
    def rounded(values: np.ndarray) -> list:
        return np.round(np.asarray(values, dtype=np.float64), 3).tolist()

    return {"frame": frame, "target": target, "bbox_xywh": rounded(xyxy_to_xywh(result.box_xyxy)),
            "rotated_box": rounded(result.rotated_box), "polygon": rounded(result.polygon),
            "score": round(result.score, 5), **({"mask_from_box": True} if mask_from_box else {})}


def overlay_stills(video: str | Path, indices: Sequence[int], width: int,
                   labels_xyxy: dict[int, np.ndarray] | None = None) -> np.ndarray:
    """Chosen frames of an overlay video side by side, each ``width`` pixels wide and captioned with its number;
    ``labels_xyxy`` (frame -> box) outlines hand-labelled boxes in white on the frames that have one."""
    capture = cv2.VideoCapture(str(video))
    if not capture.isOpened():
        raise FileNotFoundError(f"cannot open video {video}")
    wanted, index = set(indices), 0
    frames: dict[int, np.ndarray] = {}
    while len(frames) < len(wanted):
        ok, frame = capture.read()
        if not ok:
            raise ValueError(f"{video} has only {index} frames; asked for {sorted(wanted)}")
        if index in wanted:
            frames[index] = frame
        index += 1
    tiles = []
    for index in indices:
        frame = frames[index].copy()
        if labels_xyxy is not None and index in labels_xyxy:
            x0, y0, x1, y1 = np.round(labels_xyxy[index]).astype(int)
            cv2.rectangle(frame, (x0, y0), (x1, y1), (255, 255, 255), 1)
        scale = width / frame.shape[1]
        tile = cv2.resize(frame, (width, round(frame.shape[0] * scale)), interpolation=cv2.INTER_AREA)
        cv2.putText(tile, f"frame {index}", (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2)
        tiles.append(tile)
    return np.hstack(tiles)


class H264Writer:
    """BGR HxWx3 uint8 frames -> an H.264 MP4 browsers play; odd sides are padded by one edge pixel."""

    def __init__(self, path: Path, fps: float, frame_hw: tuple[int, int]) -> None:
        self.path = path
        self.height, self.width = (side + side % 2 for side in frame_hw)
        self._container = av.open(str(path), mode="w", options={"movflags": "+faststart"})
        self._stream = self._container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001),
                                                  options=H264_OPTIONS)
        self._stream.width, self._stream.height = self.width, self.height
        self._stream.pix_fmt = "yuv420p"

    def write(self, image_bgr: np.ndarray) -> None:
        h, w = image_bgr.shape[:2]
        if (h, w) != (self.height, self.width):
            image_bgr = cv2.copyMakeBorder(image_bgr, 0, self.height - h, 0, self.width - w, cv2.BORDER_REPLICATE)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image_bgr), format="bgr24")
        self._container.mux(self._stream.encode(frame))

    def close(self) -> None:
        self._container.mux(self._stream.encode(None))  # flush the encoder's delayed frames
        self._container.close()
