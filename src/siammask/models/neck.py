"""The adjust layer between backbone and heads (the release's 1024 -> 256 ``ResDownS``), for one backbone level or
several (multi-level heads)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch
from torch import nn


class Adjust(nn.Module):
    """1x1 conv + BN to the head width; template features also lose a border (the 7x7 centre crop).

    Cropping the template's padded border keeps the exemplar's correlation kernel to the object and its
    context (15x15 -> 7x7 in the release; 16x16 -> 8x8 for timm ResNets whose stem is padded).
    """

    def __init__(self, in_channels: int, out_channels: int = 256, template_border: int = 4,
                 search_crop_below: int | None = None) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.template_border = template_border
        self.search_crop_below = search_crop_below
        self.downsample = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=False),
                                        nn.BatchNorm2d(out_channels))

    def forward(self, feature: torch.Tensor) -> torch.Tensor:
        """Search features; narrower than ``search_crop_below`` cells they lose the template's border too.

        The release crops every feature map narrower than 20 cells, so its sharp stage's 143-pixel search crops
        (17 cells) become 9x9 and give 3x3 responses, while 255-pixel tracking crops (31 cells) stay whole.
        """
        out = self.downsample(feature)
        if self.search_crop_below is not None and out.shape[-1] < self.search_crop_below:
            return self._crop(out)
        return out

    def template(self, feature: torch.Tensor) -> torch.Tensor:
        return self._crop(self.downsample(feature))

    def search_feature(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        """The heads' search feature from the backbone's maps: the last one (stride 8)."""
        return self(features[-1])

    def template_feature(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.template(features[-1])

    def last_level(self, feature: torch.Tensor) -> torch.Tensor:
        """The part of the adjusted feature the mask head reads: all of it."""
        return feature

    def _crop(self, out: torch.Tensor) -> torch.Tensor:
        b = self.template_border
        return out[:, :, b:out.shape[2] - b, b:out.shape[3] - b] if b > 0 else out


class MultiLevelAdjust(nn.Module):
    """One :class:`Adjust` per backbone level feeding multi-level heads (SiamRPN++'s per-layer ``AdjustLayer``),
    their outputs side by side on the channel axis: levels at one stride have one spatial size, and the template
    feature stays one tensor (the tracker caches it, the exported graphs pass it).

    ``level_indices``: the backbone maps read, deepest last; the mask head reads the last level (SiamMask's).
    """

    def __init__(self, adjusts: Sequence[Adjust], level_indices: Sequence[int]) -> None:
        super().__init__()
        if len(adjusts) != len(level_indices):
            raise ValueError(f"{len(adjusts)} adjust layers for {len(level_indices)} levels")
        self.adjusts = nn.ModuleList(adjusts)
        self.level_indices = tuple(level_indices)
        self.out_channels = adjusts[-1].out_channels

    def _levels(self) -> list[tuple[Adjust, int]]:
        return [(cast(Adjust, adjust), index) for adjust, index in zip(self.adjusts, self.level_indices)]

    def search_feature(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        return torch.cat([adjust(features[i]) for adjust, i in self._levels()], dim=1)

    def template_feature(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        return torch.cat([adjust.template(features[i]) for adjust, i in self._levels()], dim=1)

    def last_level(self, feature: torch.Tensor) -> torch.Tensor:
        return feature[:, -self.out_channels:]
