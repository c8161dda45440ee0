"""Helpers of the tracking tests: preset-output fake networks, tiny random networks, the real frames' boxes.

A uniquely named module (not conftest) so test files import it unambiguously next to other test folders."""

from __future__ import annotations

from functools import partial
from types import SimpleNamespace

import numpy as np
import torch
from torch import nn

from siammask.models import Adjust, Refine, SearchOutput, TimmBackbone, XCorrHead, build_siammask

TENNIS_BOX_XYWH = [305.0, 112.0, 163.0, 253.0]  # the player in tennis/00000.jpg
BAG_BOX_XYWH = [314.0, 140.0, 114.0, 116.0]  # the bag in bag.avi frame 0

S = 25  # response map size of the paper network
K = 5  # anchors


class FakeNetwork(nn.Module):
    """Stands in for SiamMask with preset outputs, and records every ``masks_at`` call.

    ``score`` (T, 2k or 1, S, S), ``box`` (T, 4k, S, S) or None for a two-branch network, ``mask_logits``
    (T, m, m) returned at whatever position is asked. The batch of the search crops must be T.
    """

    def __init__(self, score: torch.Tensor, box: torch.Tensor | None, mask_logits: torch.Tensor) -> None:
        super().__init__()
        self.score = score
        self.box = box
        self.mask_logits = mask_logits
        self.score_head = SimpleNamespace(out_channels=score.shape[1])
        self.box_head = None if box is None else SimpleNamespace(out_channels=box.shape[1])
        self.mask_calls: list[tuple[list[int], list[int], list[int]]] = []
        self.search_batches: list[int] = []

    @property
    def mask_output_size(self) -> int:
        return self.mask_logits.shape[-1]

    def embed_template(self, template: torch.Tensor) -> torch.Tensor:
        assert template.shape[1:] == (3, 127, 127)
        return torch.zeros(template.shape[0], 1, 1, 1)

    def forward(self, template_feature: torch.Tensor, search: torch.Tensor, with_mask: bool = True) -> SearchOutput:
        assert search.shape[1:] == (3, 255, 255)
        self.search_batches.append(search.shape[0])
        mask_corr = torch.zeros(search.shape[0], 1, self.score.shape[-2], self.score.shape[-1]) if with_mask else None
        return SearchOutput(self.score, self.box, mask_corr, [])

    def masks_at(self, output: SearchOutput, batch_index: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor,
                 centred_boxes_xyxy: torch.Tensor | None = None, refine: bool = True) -> torch.Tensor:
        self.mask_calls.append((batch_index.tolist(), rows.tolist(), cols.tolist()))
        return self.mask_logits[batch_index]

    def mask_windows_xyxy(self, row_windows_xyxy: torch.Tensor, boxes_xyxy: torch.Tensor,
                          refine: bool = True) -> torch.Tensor:
        return row_windows_xyxy  # a RoW decoder's masks


def logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def peaked_score(peaks: dict[tuple[int, int, int], float], targets: int = 1) -> torch.Tensor:
    """(T, 2k, S, S) three-branch logits: foreground probability ~0 except ``{(anchor, row, col): p}``."""
    score = torch.zeros(targets, 2 * K, S, S, dtype=torch.float64)
    score[:, K:] = -40.0
    for (a, r, c), p in peaks.items():
        score[:, K + a, r, c] = logit(p)
    return score


def box_map(deltas: dict[tuple[int, int, int], tuple[float, ...]], targets: int = 1) -> torch.Tensor:
    """(T, 4k, S, S) deltas, zero except ``{(anchor, row, col): (dx, dy, log dw, log dh)}``."""
    box = torch.zeros(targets, 4 * K, S, S, dtype=torch.float64)
    for (a, r, c), values in deltas.items():
        for i, v in enumerate(values):
            box[:, i * K + a, r, c] = v
    return box


def rectangle_mask_logits(size: int, rows: tuple[int, int], cols: tuple[int, int],
                          targets: int = 1) -> torch.Tensor:
    """(T, size, size) logits: +20 inside rows x cols (half-open), -20 elsewhere."""
    logits = torch.full((targets, size, size), -20.0)
    logits[:, rows[0]:rows[1], cols[0]:cols[1]] = 20.0
    return logits


def tiny_network(box: bool = True, refine: bool = False, seed: int = 0, refine_class: type = Refine,
                 **refine_options: object) -> nn.Module:
    """A random resnet18-based SiamMask with 16-wide heads (refine needs the stride-8 layer3 as last)."""
    torch.manual_seed(seed)
    heads = partial(XCorrHead, hidden_channels=16)
    return build_siammask(TimmBackbone("resnet18", out_indices=(0, 1, 2, 3) if refine else (0, 1, 2)),
                          partial(Adjust, out_channels=16), heads, heads, box_head=heads if box else None,
                          refine=partial(refine_class, **refine_options) if refine else None).eval()
