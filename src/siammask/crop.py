"""The crop geometry every part shares (paper §3.1): exemplar and search crop sides, context amount, stride.

The numbers are written once, in ``conf/crop/paper.yaml``: configs interpolate them (``${crop.*}``) and code
defaults (a bare ``TrackerConfig()``, ``PairSampler``, ``export_onnx``) read them from here, so a changed crop
cannot leave a forgotten copy behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files

import yaml


@dataclass(frozen=True)
class CropSettings:
    """Sides in pixels; ``context_amount`` p gives the context square sqrt((w + p(w + h))(h + p(w + h)))."""

    exemplar_size: int
    search_size: int
    context_amount: float
    stride: int


def load_crop(name: str = "paper") -> CropSettings:
    """The crop preset ``conf/crop/<name>.yaml`` as shipped with the package."""
    text = (files("siammask.conf") / "crop" / f"{name}.yaml").read_text(encoding="utf-8")
    return CropSettings(**yaml.safe_load(text))


PAPER_CROP = load_crop()
