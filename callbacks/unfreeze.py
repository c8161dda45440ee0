"""The paper's backbone schedule: frozen at first, later stages trained from a set epoch at a lower lr."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import BaseFinetuning

from siammask.models import SiamMask


class UnfreezeBackboneStages(BaseFinetuning):
    """Freezes ``network.backbone`` before training; from ``unfreeze_at_epoch`` on, the named stages train.

    Unfrozen stages join the optimiser as a new parameter group whose base lr is the model's base lr
    times ``lr_multiplier``; the project's schedule then scales it like every other group.

    The state follows the epoch, not the history of the run: every epoch at or after ``unfreeze_at_epoch``
    unfreezes the stages, applied at every epoch's start and whenever training (re)starts (a run resumed at any
    later epoch or step trains them too; its restored optimiser already holds their group, so none is added twice). ``train_bn=False`` keeps their BatchNorm statistics frozen, as the
    release does (its MultiStageFeature switches to train mode only the stages trainable when training starts).
    """

    def __init__(self, unfreeze_at_epoch: int = 10, stages: Sequence[str] = ("layer2", "layer3"),
                 lr_multiplier: float = 0.1, train_bn: bool = False) -> None:
        super().__init__()
        self.unfreeze_at_epoch = unfreeze_at_epoch
        self.stages = tuple(stages)
        self.lr_multiplier = lr_multiplier
        self.train_bn = train_bn

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """The schedule of the epoch training (re)starts in, also when Lightning resumes mid-epoch and so calls no
        ``on_train_epoch_start`` until the next epoch. The parameter groups a resumed run's optimiser needs are
        already back (``BaseFinetuning.on_fit_start``, from this callback's checkpointed state, before the
        optimiser's state is loaded into them): here the stages only regain their trainability and modes."""
        self.on_train_epoch_start(trainer, pl_module)

    def _stage_modules(self, pl_module: pl.LightningModule) -> list[torch.nn.Module]:
        backbone = cast(SiamMask, pl_module.network).backbone
        named = dict(backbone.named_modules())
        found = [m for name, m in named.items() if name.split(".")[-1] in self.stages]
        if not found:
            raise ValueError(f"backbone has no stage named any of {self.stages}; its children are "
                             f"{[n for n, _ in backbone.named_children()]}")
        return found

    def freeze_before_training(self, pl_module: pl.LightningModule) -> None:
        self._stage_modules(pl_module)  # fail at start, not at the unfreeze epoch
        cast(SiamMask, pl_module.network).backbone.requires_grad_(False)  # frozen BNs are put in eval mode by the module

    def finetune_function(self, pl_module: pl.LightningModule, current_epoch: int,
                          optimizer: torch.optim.Optimizer) -> None:
        if current_epoch < self.unfreeze_at_epoch:
            return
        modules = self._stage_modules(pl_module)
        for module in modules:
            module.requires_grad_(True)
            for bn in module.modules():
                if isinstance(bn, torch.nn.modules.batchnorm._BatchNorm):
                    bn.train(self.train_bn)
        present = {id(p) for group in optimizer.param_groups for p in group["params"]}
        params = [p for m in modules for p in m.parameters() if id(p) not in present]
        if params:
            base_lr = optimizer.param_groups[0].get("initial_lr", optimizer.param_groups[0]["lr"])
            lr = base_lr * self.lr_multiplier
            optimizer.add_param_group({"params": params, "lr": lr, "initial_lr": lr})
