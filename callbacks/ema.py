"""Lightning's EMA of the weights, made picklable so that it survives DDP spawn (``trainer=ddp_sim``).

``EMAWeightAveraging`` hands ``AveragedModel`` the closure of ``torch.optim.swa_utils.get_ema_avg_fn``,
which ``ddp_spawn`` cannot pickle into its worker processes. :class:`EMAUpdate` is the same update as a
module-level callable; everything else (when to update, checkpoint contents, the swap at the end) is Lightning's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from pytorch_lightning.callbacks import EMAWeightAveraging


@dataclass(frozen=True)
class EMAUpdate:
    """``ema <- decay * ema + (1 - decay) * current``: torch's ``get_ema_avg_fn`` as a picklable object."""

    decay: float  # checked by EMAWeightAveraging (through get_ema_avg_fn)

    @torch.no_grad()
    def __call__(self, ema_param: torch.Tensor, current_param: torch.Tensor, num_averaged: Any) -> torch.Tensor:
        return self.decay * ema_param + (1 - self.decay) * current_param


class EMA(EMAWeightAveraging):
    """``EMAWeightAveraging`` with the picklable :class:`EMAUpdate` as its averaging function."""

    def __init__(self, decay: float = 0.999, **kwargs: Any) -> None:
        super().__init__(decay=decay, **kwargs)
        self._kwargs["avg_fn"] = EMAUpdate(decay)
