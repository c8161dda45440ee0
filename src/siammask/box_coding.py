"""What a box head's family gives the tracker and the training module: its channel counts and its candidates.

A family (anchors: :class:`siammask.anchors.AnchorSpec`; anchor-free points: :class:`siammask.points.PointSpec`)
decides how the score and box maps are read. Everything after that (the scale / ratio penalty, the cosine window,
the size learning rate, the RoW of the chosen candidate) is the same for all, so the tracker ranks
:class:`Candidates` and never looks at anchors or distances itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch


@dataclass
class Candidates:
    """Every box a search crop proposes: N per crop, each at a response-map position.

    ``probability`` (B, N) foreground probability (what the penalty and the window rank, and the size learning rate
    scales with); ``boxes_cxcywh`` (B, N, 4) in search-crop pixels; ``positions`` (N,) the flat response-map index
    ``row * S + col`` of each candidate (its RoW).
    """

    probability: torch.Tensor
    boxes_cxcywh: torch.Tensor
    positions: torch.Tensor


class BoxDecoder(Protocol):
    """A box family's reading of the heads' outputs. ``stride``: search-crop pixels between response positions."""

    @property
    def stride(self) -> int: ...

    @property
    def score_channels(self) -> int: ...

    @property
    def box_channels(self) -> int: ...

    def candidates(self, score: torch.Tensor, box: torch.Tensor, search_size: int) -> Candidates:
        """Candidates of score (B, score_channels, S, S) and box (B, box_channels, S, S) maps of crops of
        ``search_size`` pixels."""
        ...
