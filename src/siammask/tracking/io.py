"""Reading frames: a video file or a folder of images, as HxWx3 uint8 RGB, validated when opened.

Opening checks what can be checked cheaply up front (the file opens, there is at least one frame, a
folder's images all have one size, read from their headers), so a bad input fails before any tracking.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


class FrameSource(Protocol):
    """What :func:`open_frames` returns; iterating yields each frame as HxWx3 uint8 RGB."""

    path: Path
    frame_hw: tuple[int, int]
    fps: float | None

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[np.ndarray]: ...


def read_image_rgb(path: str | Path) -> np.ndarray:
    """One image file as HxWx3 uint8 RGB; a missing or undecodable file raises naming it."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"cannot read image {str(path)!r} (missing or not a decodable image)")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def open_frames(path: str | Path) -> FrameSource:
    """A folder of images (sorted by name, numbers compared as numbers) or a video file OpenCV can decode."""
    path = Path(path).expanduser()
    if path.is_dir():
        return ImageFolder(path)
    if path.is_file():
        return VideoFile(path)
    raise FileNotFoundError(f"input {str(path)!r} is neither a video file nor a folder of images")


def image_files(folder: Path) -> list[Path]:
    """The images of a folder in frame order: sorted by name, numbers compared as numbers (frame 9 before 10)."""
    return sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=_natural_key)


class ImageFolder:
    def __init__(self, path: Path) -> None:
        self.path = path
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
        for file in self.files:
            yield read_image_rgb(file)


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
