"""What the single-object tracking datasets (GOT-10k, LaSOT, TrackingNet) share: one target per video, one
``x,y,w,h`` box per frame in a text file, and, for some, per-frame labels of where the target is not visible.

A frame whose target is absent, fully occluded or out of view (its dataset's labels say so, or its box has no
positive width and height, the rule pytracking's training readers apply to all three) has nothing to centre a
crop on and must never be a positive: it is left out of the track and counted as ``absent_target`` in the
prepare summary, exactly as VID leaves out the frames where an object is not annotated. The track keeps the
original frame numbers (``StoreIndex.frame_number``), so the gap stays recorded in the store, and the pair
sampler, which draws template and search among a track's frames only, cannot draw it.

Boxes are read as they are written (``x, y`` the top-left corner, ``w, h`` the size, image pixels) and taken as
edge coordinates, as pysot's and pytracking's readers of these datasets take them.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from siammask.geometry import xywh_to_xyxy

from .base import (
    ABSENT,
    BAD_ANNOTATION,
    EMPTY_VIDEO,
    MISSING_ANNOTATION,
    DatasetReader,
    FrameJob,
    LayoutError,
    ObjectAnnotation,
    Scan,
    Skip,
    chunked,
)

TARGET_ID = 0  # the one object of a single-object tracking video


def require_folder(path: Path, what: str, layout: str) -> Path:
    """``path`` if it is a folder, else a :class:`LayoutError` that shows the expected layout (a file, e.g. the
    downloaded archive, is named as such)."""
    if not path.is_dir():
        found = "is a file, not a folder" if path.exists() else "not found"
        raise LayoutError(f"{what} {found}: {path}\nexpected layout:\n{layout}")
    return path


class UnusableVideo(Exception):
    """A video whose annotation files cannot be read: listed as a failure, the other videos go on."""

    def __init__(self, skip: Skip):
        super().__init__(f"{skip.reason}: {skip.file} {skip.detail}")
        self.skip = skip


def read_numbers(path: Path, what: str) -> np.ndarray:
    """The comma-separated numbers of an annotation file, one row per line: (lines, values per line)."""
    if not path.is_file():
        raise UnusableVideo(Skip(MISSING_ANNOTATION, str(path), f"{what} not found"))
    text = path.read_text()
    if not text.strip():
        raise UnusableVideo(Skip(BAD_ANNOTATION, str(path), f"{what} is empty"))
    try:
        return np.loadtxt(io.StringIO(text), delimiter=",", ndmin=2, dtype=np.float64)
    except ValueError as error:
        raise UnusableVideo(Skip(BAD_ANNOTATION, str(path), f"{what} does not parse: {error}")) from error


def read_boxes_xywh(path: Path) -> np.ndarray:
    """(frames, 4) boxes ``x, y, w, h`` in image pixels, one line per frame."""
    boxes = read_numbers(path, "box file")
    if boxes.shape[1] != 4:
        raise UnusableVideo(Skip(BAD_ANNOTATION, str(path),
                                 f"{boxes.shape[1]} values per line, expected 4: x,y,w,h"))
    return boxes


def read_frame_labels(path: Path, frames: int) -> np.ndarray:
    """(frames,) per-frame label values, one per line (GOT-10k) or all on one comma-separated line (LaSOT)."""
    labels = read_numbers(path, "label file").ravel()
    if len(labels) != frames:
        raise UnusableVideo(Skip(BAD_ANNOTATION, str(path),
                                 f"{len(labels)} frame labels for the {frames} boxes of the video"))
    return labels


class SingleTargetReader(DatasetReader):
    """A reader of one-target box videos; subclasses list the videos and say which frames hide the target."""

    has_masks = False

    def add_video(self, scan: Scan, video: str, images: Sequence[str], numbers: Sequence[int],
                  boxes_xywh: np.ndarray, hidden: np.ndarray) -> None:
        """Queue the frames showing the target: ``images[i]``, frame number ``numbers[i]``, box ``boxes_xywh[i]``;
        ``hidden[i]`` says the dataset's labels mark the target absent in frame ``i``."""
        with np.errstate(invalid="ignore"):  # NaN boxes (absent frames of some datasets) are not visible
            visible = ~hidden & (boxes_xywh[:, 2] > 0) & (boxes_xywh[:, 3] > 0)
        scan.filtered[ABSENT] += int(np.count_nonzero(~visible))
        frames = [FrameJob(int(numbers[i]), images[i], tuple(float(v) for v in boxes_xywh[i]))
                  for i in np.flatnonzero(visible).tolist()]
        if not frames:
            scan.skips.append((video, Skip(EMPTY_VIDEO, str(Path(images[0]).parent),
                                           "the target is visible in no frame")))
            return
        scan.jobs.extend(chunked(video, frames, self.settings.frames_per_chunk))

    def objects(self, frame: FrameJob, image_hw: tuple[int, int]) -> list[ObjectAnnotation | Skip]:
        return [ObjectAnnotation(TARGET_ID, xywh_to_xyxy(np.asarray(frame.annotation, dtype=np.float64)))]
