"""The release's learning-rate shape: warm-up, then log-linear decay, as a per-step multiplier."""

from __future__ import annotations

import math

import torch


def warmup_log_decay(step: int, total_steps: int, warmup_steps: int, warmup_start_factor: float,
                     end_factor: float) -> float:
    """Multiplier of the base learning rate at ``step``.

    Warm-up rises geometrically from ``warmup_start_factor`` to 1 (the release's 0.001 -> 0.005 over 5 of
    20 epochs); the rest falls geometrically (linear in log lr) to ``end_factor``. Geometric, not linear,
    because the release steps the learning rate on a log scale in both phases.
    """
    if warmup_steps > 0 and step < warmup_steps:
        return warmup_start_factor ** (1.0 - step / warmup_steps)
    decay_steps = max(total_steps - warmup_steps, 1)
    progress = min(max(step - warmup_steps, 0) / decay_steps, 1.0)
    return math.exp(progress * math.log(end_factor))


class WarmupLogDecayLR(torch.optim.lr_scheduler.LRScheduler):
    """Per-step :func:`warmup_log_decay`, applied to every parameter group, including groups added later.

    The warm-up is ``warmup_fraction`` of ``total_steps`` (rounded down), so one config fits any run length.

    Later groups (backbone stages unfrozen mid-training) bring their own ``initial_lr``; the schedule
    multiplies it like any other, so unfreezing does not restart or double the decay.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, total_steps: int, warmup_fraction: float = 0.0,
                 warmup_start_factor: float = 1.0, end_factor: float = 1.0, last_epoch: int = -1) -> None:
        self.total_steps = total_steps
        self.warmup_steps = int(warmup_fraction * total_steps)
        self.warmup_start_factor = warmup_start_factor
        self.end_factor = end_factor
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float | torch.Tensor]:  # the base class allows tensors
        factor = warmup_log_decay(self.last_epoch, self.total_steps, self.warmup_steps, self.warmup_start_factor,
                                  self.end_factor)
        return [group.setdefault("initial_lr", group["lr"]) * factor for group in self.optimizer.param_groups]
