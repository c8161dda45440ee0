"""What int8 graphs are calibrated on: crop pairs as a tracker takes them, from frames the caller hands in.

The library knows one source of frames, a folder of the user's own (:func:`folder_calibration`); any other source
(e.g. the synthetic videos of ``siammask.datamodules``, chosen by an entry point) is a :class:`Calibration` built
by its caller. The fingerprint goes into the graphs' identity, so graphs calibrated on other frames are told apart.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from siammask.tracking.geometry import pad_colour, search_window, template_crop
from siammask.tracking.io import image_files, read_image_rgb
from siammask.tracking.tracker_config import TrackerConfig

CALIBRATION_PAIRS = 8  # template / search crop pairs: ranges settle within a few crops of one kind of footage
# Boxes placed on the user's frames, which come without annotations: centre (x, y) and side, fractions of the image.
FOLDER_BOXES = ((0.5, 0.5, 0.3), (0.3, 0.4, 0.2), (0.7, 0.6, 0.25))

Pair = tuple[np.ndarray, np.ndarray, np.ndarray]  # template frame (RGB), its box xyxy (image pixels), a later frame


@dataclass(frozen=True)
class Calibration:
    """A source of calibration crop pairs: ``fingerprint`` names it in the graphs' identity (known before any
    graph is written, so a cached graph is found without reading frames); ``pairs`` renders or reads the frames
    only when graphs are quantised."""

    fingerprint: str
    pairs: Callable[[], Sequence[Pair]]


def calibration_fingerprint(precision: str, calibration: Calibration | None) -> str | None:
    """The calibration's part of the graphs' identity: its fingerprint for int8, None for fp32 (no calibration);
    int8 without calibration frames is refused up front."""
    if precision != "int8":
        return None
    if calibration is None:
        raise ValueError("backend=onnxruntime_int8 needs calibration frames: calibration=synthetic (crops of the "
                         "synthetic videos) or calibration=<folder of your frames>")
    return calibration.fingerprint


def folder_calibration(folder: str | Path) -> Calibration:
    """Calibration on the user's frames: up to CALIBRATION_PAIRS (frame, next frame) pairs spread over the
    folder's images, with boxes placed at FOLDER_BOXES (the frames come without annotations). A missing folder or
    one with fewer than two images is refused here, before anything is loaded."""
    frame_pairs = _folder_pairs(Path(folder).expanduser())
    digest = hashlib.sha256()
    for path in sorted({path for pair in frame_pairs for path in pair}):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return Calibration(f"frames:{digest.hexdigest()[:16]}:{CALIBRATION_PAIRS}", lambda: _read_pairs(frame_pairs))


def _folder_pairs(folder: Path) -> list[tuple[Path, Path]]:
    if not folder.is_dir():
        raise NotADirectoryError(f"calibration={str(folder)!r} is not a folder: give a folder of frames (images) "
                                 f"or calibration=synthetic")
    frames = image_files(folder)
    if len(frames) < 2:
        raise ValueError(f"calibration folder {str(folder)!r} holds {len(frames)} image(s): int8 calibration needs "
                         f"at least 2 frames (search crops come from the frame after a template's)")
    picked = np.linspace(0, len(frames) - 2, min(CALIBRATION_PAIRS, len(frames) - 1)).round().astype(int)
    return [(frames[i], frames[i + 1]) for i in picked]


def _read_pairs(frame_pairs: list[tuple[Path, Path]]) -> list[Pair]:
    pairs = []
    for n, (first, following) in enumerate(frame_pairs):
        image = read_image_rgb(first)
        h, w = image.shape[:2]
        cx, cy, side = FOLDER_BOXES[n % len(FOLDER_BOXES)]
        half = side * min(h, w) / 2
        pairs.append((image, np.array([cx * w - half, cy * h - half, cx * w + half, cy * h + half]),
                      read_image_rgb(following)))
    return pairs


def calibration_crops(pairs: Sequence[Pair], config: TrackerConfig) -> tuple[np.ndarray, np.ndarray]:
    """(N, 3, 127, 127) templates and (N, 3, 255, 255) search crops, float32 RGB 0-255 as the tracker feeds them."""
    templates, searches = [], []
    for first, box_xyxy, following in pairs:
        pad = pad_colour(config.geometry, first)
        centre, size = (box_xyxy[:2] + box_xyxy[2:]) / 2, box_xyxy[2:] - box_xyxy[:2]
        templates.append(template_crop(config.geometry, first, centre, size, config.context_amount,
                                       config.exemplar_size, pad))
        window = search_window(config.geometry, centre, size, config.context_amount, config.exemplar_size,
                               config.search_size, following.shape[:2])
        searches.append(window.crop(following, pad))
    as_chw = (lambda crops: np.stack(crops).transpose(0, 3, 1, 2).astype(np.float32))
    return as_chw(templates), as_chw(searches)
