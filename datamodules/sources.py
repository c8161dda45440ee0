"""The one interface every training dataset implements, so all of them share the pair sampler.

A *source* is a list of tracks (one object followed through one video, or one annotated instance
of a still-image dataset, then of length 1). Synthetic videos render frames on demand; LMDB-backed
real datasets decode stored 511x511 context crops. The pair sampler only ever sees :class:`Frame`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass
class Frame:
    """One annotated object in one image.

    ``image``: HWC uint8 RGB. ``box_xyxy``: float (4,), image pixels, edge coordinates (see
    ``siammask.geometry``). ``mask``: HW uint8 in {0, 1} of the same size, or None when the dataset
    has boxes only (ImageNet-VID/DET).
    """

    image: np.ndarray
    box_xyxy: np.ndarray
    mask: np.ndarray | None = None


@runtime_checkable
class TrackSource(Protocol):
    name: str
    has_masks: bool

    def num_tracks(self) -> int:
        """Number of tracks."""

    def track_length(self, track: int) -> int:
        """Number of annotated frames of ``track`` (>= 1)."""

    def video_of(self, track: int) -> int:
        """Video (or image) the track comes from; negative pairs take a track from another video."""

    def frame(self, track: int, index: int) -> Frame:
        """Frame ``index`` (0-based, in temporal order) of ``track``."""
