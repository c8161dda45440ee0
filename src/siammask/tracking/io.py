"""Reading frames: a video file or a folder of images, as HxWx3 uint8 RGB, validated when opened.

Opening checks what can be checked cheaply up front (the file opens, there is at least one frame, a
folder's images all have one size, read from their headers), so a bad input fails before any tracking.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
BAD_FRAME_RULES = ("stop", "skip")  # what a folder of frames does with an unreadable or truncated one
# The last bytes of a complete file: JPEG's end-of-image marker, PNG's IEND chunk (type + CRC). OpenCV decodes a
# truncated JPEG into a grey lower part with only a warning; a missing end marker is how such a file shows.
END_MARKERS = {".jpg": b"\xff\xd9", ".jpeg": b"\xff\xd9", ".png": b"IEND\xaeB`\x82"}
END_MARKER_TAIL = 1024  # bytes searched for the end marker (some writers pad or append after it)

log = logging.getLogger(__name__)


class FrameSource(Protocol):
    """What :func:`open_frames` returns; iterating yields each frame as HxWx3 uint8 RGB."""

    path: Path
    frame_hw: tuple[int, int]
    fps: float | None

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[np.ndarray]: ...

    def numbered(self) -> Iterator[tuple[int, np.ndarray]]:
        """``(position in the input, frame)``: a frame skipped as unreadable leaves its number out."""
        ...


def read_image_rgb(path: str | Path) -> np.ndarray:
    """One image file as HxWx3 uint8 RGB; a missing or undecodable file raises naming it."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"cannot read image {str(path)!r} (missing or not a decodable image)")
    check_complete(path)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def check_complete(path: str | Path) -> None:
    """Refuse a JPEG or PNG file cut short (an interrupted copy or download), which decoders fill in silently."""
    marker = END_MARKERS.get(Path(path).suffix.lower())
    if marker is None:
        return
    with open(path, "rb") as file:
        file.seek(0, 2)
        file.seek(max(0, file.tell() - END_MARKER_TAIL))
        if marker not in file.read():
            raise ValueError(f"image {str(path)!r} is truncated (no end-of-image marker): the file was cut short")


def open_frames(path: str | Path, on_bad_frame: str = "stop") -> FrameSource:
    """A folder of images (sorted by name, numbers compared as numbers) or a video file OpenCV can decode.
    ``on_bad_frame`` (a folder): ``stop`` at an unreadable or truncated image, naming it, or ``skip`` it with a
    warning (the first frame, where the targets are given, is always required)."""
    if on_bad_frame not in BAD_FRAME_RULES:
        raise ValueError(f"on_bad_frame={on_bad_frame!r}: choose one of {', '.join(BAD_FRAME_RULES)}")
    path = Path(path).expanduser()
    if path.is_dir():
        return ImageFolder(path, on_bad_frame)
    if path.is_file():
        return VideoFile(path)
    raise FileNotFoundError(f"input {str(path)!r} is neither a video file nor a folder of images")


def image_files(folder: Path) -> list[Path]:
    """The images of a folder in frame order: sorted by name, numbers compared as numbers (frame 9 before 10)."""
    return sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=_natural_key)


class ImageFolder:
    def __init__(self, path: Path, on_bad_frame: str = "stop") -> None:
        self.path = path
        self.on_bad_frame = on_bad_frame
        self.skipped: list[Path] = []  # frames left out by on_bad_frame=skip, in order
        self.files = image_files(path)
        if not self.files:
            raise ValueError(f"folder {str(path)!r} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        sizes = [header_size(p) for p in self.files]
        first = sizes[0]
        for file, size in zip(self.files, sizes):
            if size != first:
                raise ValueError(f"frame {str(file)!r} is {size[0]}x{size[1]} but {self.files[0].name} is "
                                 f"{first[0]}x{first[1]}: all frames of a sequence must have one size")
        self.frame_hw = (first[1], first[0])
        self.fps: float | None = None

    def __len__(self) -> int:
        return len(self.files)

    def __iter__(self) -> Iterator[np.ndarray]:
        return (frame for _, frame in self.numbered())

    def numbered(self) -> Iterator[tuple[int, np.ndarray]]:
        for number, file in enumerate(self.files):
            try:
                yield number, read_image_rgb(file)
            except ValueError as error:
                if self.on_bad_frame != "skip" or number == 0:
                    hint = "" if number == 0 else "; on_bad_frame=skip tracks past it"
                    raise ValueError(f"frame {number} of the input: {error}{hint}") from error
                log.warning("skipping frame %d: %s", number, error)
                self.skipped.append(file)


class VideoFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        capture = self._open()
        ok, frame = capture.read()
        count, fps = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), capture.get(cv2.CAP_PROP_FPS)
        capture.release()
        if not ok or frame is None:
            raise ValueError(f"video {str(path)!r} has no readable frame")
        self.frame_hw = frame.shape[:2]
        self.num_frames = max(count, 1)  # the container's count; decoding may find a few more or fewer
        self.fps = fps if fps > 0 else None

    def _open(self) -> cv2.VideoCapture:
        capture = cv2.VideoCapture(str(self.path))
        if not capture.isOpened():
            raise ValueError(f"cannot open video {str(self.path)!r} (not a video OpenCV can decode)")
        return capture

    def __len__(self) -> int:
        return self.num_frames

    def numbered(self) -> Iterator[tuple[int, np.ndarray]]:
        return enumerate(self)

    def __iter__(self) -> Iterator[np.ndarray]:
        capture = self._open()
        try:
            index = 0
            while True:
                ok, frame = capture.read()
                if not ok:
                    return
                if frame.shape[:2] != self.frame_hw:
                    raise ValueError(f"frame {index} of {str(self.path)!r} is {frame.shape[1]}x{frame.shape[0]}, "
                                     f"the first is {self.frame_hw[1]}x{self.frame_hw[0]}")
                yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                index += 1
        finally:
            capture.release()


def header_size(path: str | Path) -> tuple[int, int]:
    """(width, height) from the file header alone, so checking a long sequence costs no decoding."""
    try:
        with Image.open(path) as image:
            return image.size
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise ValueError(f"cannot read image {str(path)!r}: {error}") from error


def _natural_key(path: Path) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]
