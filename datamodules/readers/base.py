"""What a dataset reader gives ``prepare``: chunks of frames to crop, and the objects annotated in a frame.

A reader knows one official layout and nothing about cropping or storage. ``scan`` runs once in the
main process (cheap: listings and index files) and raises :class:`LayoutError` when the root is not the
expected layout; ``objects`` runs in worker processes and never raises for bad data: a bad
annotation comes back as a :class:`Skip`, so a batch job keeps going and lists what it left out.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from siammask.label_png import read_label_png as read_ids

# Reasons a frame or an object is left out. Failures are listed one by one in the summary ...
MISSING_IMAGE = "missing_image"
BAD_IMAGE = "undecodable_image"
TRUNCATED_IMAGE = "truncated_image"
MISSING_ANNOTATION = "missing_annotation"
BAD_ANNOTATION = "bad_annotation"
BOX_OUTSIDE = "box_outside_image"
ZERO_AREA = "zero_area_box"
EMPTY_MASK = "empty_mask"
EMPTY_VIDEO = "empty_video"
UNEXPECTED = "unexpected_error"
# ... filters are expected and only counted.
CROWD = "crowd_annotation"
SMALL_MASK = "small_mask"
NO_OBJECTS = "no_objects"
UNANNOTATED = "unannotated_frame"
ABSENT = "absent_target"  # tracking datasets: absent, fully occluded or out-of-view target (no box to crop)
FILTER_REASONS = frozenset({CROWD, SMALL_MASK, NO_OBJECTS, UNANNOTATED, ABSENT})


class LayoutError(FileNotFoundError):
    """The dataset root does not have the layout the reader expects (wrong folder, wrong split)."""


@dataclass(frozen=True)
class Skip:
    """One left-out item: ``reason`` (a constant above), the file it concerns and a human-readable detail."""

    reason: str
    file: str
    detail: str = ""

    @property
    def is_failure(self) -> bool:
        return self.reason not in FILTER_REASONS

    def as_dict(self, video: str) -> dict[str, str]:
        return {"video": video, "reason": self.reason, "file": self.file, "detail": self.detail}


class SkipFrame(Exception):
    """Raised by :meth:`DatasetReader.objects` when the whole frame's annotation is unusable."""

    def __init__(self, skip: Skip):
        super().__init__(f"{skip.reason}: {skip.file} {skip.detail}")
        self.skip = skip


@dataclass
class FrameJob:
    """A frame to crop: ``number`` orders frames in time; ``annotation``: the reader's picklable payload."""

    number: int
    image: str
    annotation: Any


@dataclass
class ChunkJob:
    """Consecutive frames of one video, the unit of parallel work and of resuming."""

    video: str
    chunk: int
    frames: list[FrameJob]


@dataclass
class ObjectAnnotation:
    """One object in one frame: image pixels, edge coordinates (``siammask.geometry``).

    ``box_xyxy`` None means "the tight box of the mask". ``mask``: HW uint8 {0, 1} over the whole
    image, None for box-only datasets.
    """

    object_id: int
    box_xyxy: np.ndarray | None
    mask: np.ndarray | None = None


@dataclass
class Scan:
    """The work found under a root, and what was already left out while listing it."""

    jobs: list[ChunkJob] = field(default_factory=list)
    skips: list[tuple[str, Skip]] = field(default_factory=list)  # (video, skip)
    filtered: Counter = field(default_factory=Counter)


class DatasetReader(ABC):
    """One official dataset layout. Subclasses set ``name`` and ``has_masks`` and may set ``defaults``."""

    name: str
    has_masks: bool
    # Still images (one frame per track, template and search from the same image); video layouts need a
    # track of two frames to train on (checked when a store is opened for training).
    still_images: bool = False
    defaults: ClassVar[dict[str, Any]] = {}  # prepare settings this dataset changes (with their source cited)

    def __init__(self, settings: Any):
        self.settings = settings

    @abstractmethod
    def scan(self, root: Path, split: str) -> Scan:
        """List the chunks to prepare; raise :class:`LayoutError` when ``root`` is not this layout."""

    @abstractmethod
    def objects(self, frame: FrameJob, image_hw: tuple[int, int]) -> list[ObjectAnnotation | Skip]:
        """The objects of one frame; raise :class:`SkipFrame` when the frame's annotation is unusable."""


def require(path: Path, what: str, layout: str) -> Path:
    """``path`` if it exists, else a :class:`LayoutError` that shows the expected layout."""
    if not path.exists():
        raise LayoutError(f"{what} not found: {path}\nexpected layout:\n{layout}")
    return path


def chunked(video: str, frames: list[FrameJob], size: int) -> list[ChunkJob]:
    starts = range(0, len(frames), size)
    return [ChunkJob(video, i, frames[start:start + size]) for i, start in enumerate(starts)]


def frame_number(stem: str, position: int) -> int:
    """Frame number from a file stem such as ``00045``; the position in the sorted listing otherwise."""
    return int(stem) if stem.isdigit() else position


def read_label_png(path: str) -> tuple[np.ndarray, list[int]]:
    """:func:`siammask.label_png.read_label_png` (one rule set for every mask the project reads), its refusals
    as a skipped frame: prepare records the reason and carries on."""
    try:
        return read_ids(path)
    except FileNotFoundError as error:
        raise SkipFrame(Skip(MISSING_ANNOTATION, path, "mask PNG not found")) from error
    except ValueError as error:
        raise SkipFrame(Skip(BAD_ANNOTATION, path, str(error))) from error
