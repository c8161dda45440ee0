"""Tracker hyper-parameters: one typed record, built from a plain mapping or a Hydra ``DictConfig``.

The values themselves live in ``conf/tracker/*.yaml`` with their source; the defaults here are the
release's VOT settings so a bare ``TrackerConfig()`` behaves like the paper's tracker, except the geometry:
``exact``, the crops this project's networks are trained on (the presets say ``release``). The crop sides and
context come from ``conf/crop/paper.yaml`` (:mod:`siammask.crop`), as the presets interpolate them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from siammask.crop import PAPER_CROP
from siammask.tracking.geometry import GEOMETRIES

BOX_MODES = ("box_branch", "mask_minmax", "min_area_rect")


@dataclass(frozen=True)
class TrackerConfig:
    """See ``conf/tracker/vot.yaml`` for what each key means and where its value comes from.

    ``box_mode`` chooses the region reported per frame (paper §3.2 "Box generation", Table 1):
    ``box_branch`` the tracked axis-aligned box, ``mask_minmax`` the axis-aligned bounds of the mask,
    ``min_area_rect`` the minimum-area rotated rectangle of the mask. ``geometry`` picks the crop, paste-back and
    rotated-box arithmetic (:mod:`siammask.tracking.geometry`): ``release`` for the official weights' numbers,
    ``exact`` (the default here) for networks trained on this project's exact crops.
    """

    penalty_k: float = 0.04
    window_influence: float = 0.42
    lr: float = 0.25
    seg_thr: float = 0.30
    context_amount: float = PAPER_CROP.context_amount
    exemplar_size: int = PAPER_CROP.exemplar_size
    search_size: int = PAPER_CROP.search_size
    min_contour_area: float = 100.0
    min_size: float = 10.0
    box_mode: str = "min_area_rect"
    mask_enabled: bool = True
    refine: bool = True
    geometry: str = "exact"

    def __post_init__(self) -> None:
        if self.geometry not in GEOMETRIES:
            raise ValueError(f"tracker geometry must be one of {GEOMETRIES}, got {self.geometry!r}")
        if self.box_mode not in BOX_MODES:
            raise ValueError(f"tracker box_mode must be one of {BOX_MODES}, got {self.box_mode!r}")
        if self.box_mode != "box_branch" and not self.mask_enabled:
            raise ValueError(f"tracker box_mode={self.box_mode!r} reads the mask: set mask_enabled=true "
                             "or box_mode=box_branch")
        for name in ("window_influence", "lr", "seg_thr"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"tracker {name} must lie in [0, 1], got {value}")
        if self.penalty_k < 0:
            raise ValueError(f"tracker penalty_k must be >= 0, got {self.penalty_k}")
        if not 0 < self.exemplar_size < self.search_size:
            raise ValueError(f"tracker needs 0 < exemplar_size < search_size, got {self.exemplar_size}, "
                             f"{self.search_size}")
        if self.context_amount < 0 or self.min_size <= 0 or self.min_contour_area < 0:
            raise ValueError(f"tracker context_amount, min_contour_area must be >= 0 and min_size > 0; got "
                             f"{self.context_amount}, {self.min_contour_area}, {self.min_size}")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | TrackerConfig) -> TrackerConfig:
        """Accept a dict or ``DictConfig`` (a ``Mapping``); an unknown key is an error, not a silent default."""
        if isinstance(values, TrackerConfig):
            return values
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown tracker config key(s) {unknown}; valid keys: {sorted(known)}")
        return cls(**{key: values[key] for key in values})
