"""The paper's backbone schedule: frozen at first, later stages trained from a set epoch at a lower lr."""

from __future__ import annotations

from collections.abc import Sequence

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import BaseFinetuning


class UnfreezeBackboneStages(BaseFinetuning):
    """Freezes ``network.backbone`` before training; at ``unfreeze_at_epoch`` unfreezes the named stages.

    Unfrozen stages join the optimiser as a new parameter group whose base lr is the model's base lr
    times ``lr_multiplier``; the project's schedule then scales it like every other group.
    """

    def __init__(self, unfreeze_at_epoch: int = 10, stages: Sequence[str] = ("layer2", "layer3"),
                 lr_multiplier: float = 0.1) -> None:
        super().__init__()
        self.unfreeze_at_epoch = unfreeze_at_epoch
        self.stages = tuple(stages)
        self.lr_multiplier = lr_multiplier

    def _stage_modules(self, pl_module: pl.LightningModule) -> list[torch.nn.Module]:
        backbone = pl_module.network.backbone
        named = dict(backbone.named_modules())
        found = [m for name, m in named.items() if name.split(".")[-1] in self.stages]
        if not found:
            raise ValueError(f"backbone has no stage named any of {self.stages}; its children are "
                             f"{[n for n, _ in backbone.named_children()]}")
        return found

    def freeze_before_training(self, pl_module: pl.LightningModule) -> None:
        self._stage_modules(pl_module)  # fail at start, not at the unfreeze epoch
        pl_module.network.backbone.requires_grad_(False)  # frozen BNs are put in eval mode by the module

    def finetune_function(self, pl_module: pl.LightningModule, current_epoch: int,
                          optimizer: torch.optim.Optimizer) -> None:
        if current_epoch != self.unfreeze_at_epoch:
            return
        modules = self._stage_modules(pl_module)
        base_lr = optimizer.param_groups[0].get("initial_lr", optimizer.param_groups[0]["lr"])
        for module in modules:
            module.requires_grad_(True)
        params = [p for m in modules for p in m.parameters()]
        params = self.filter_on_optimizer(optimizer, params)
        if params:
            group = {"params": params, "lr": base_lr * self.lr_multiplier, "initial_lr": base_lr * self.lr_multiplier}
            optimizer.add_param_group(group)
