"""DDP that follows the trainable set: parameters unfrozen mid-run (the paper's backbone schedule,
callbacks/unfreeze.py) are averaged across ranks like the rest.

``DistributedDataParallel`` all-reduces only the parameters that required a gradient when it was built; a stage
unfrozen later would get its rank's own gradient and drift apart on every rank. When the trainable set has
changed, this callback has Lightning's DDP strategy wrap the module again (the new wrapper starts from rank 0's
weights); outside DDP it does nothing.
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.strategies import DDPStrategy


class DDPFollowsTrainable(pl.Callback):
    def __init__(self) -> None:
        super().__init__()
        self._trainable: tuple[bool, ...] | None = None

    @staticmethod
    def _state(pl_module: pl.LightningModule) -> tuple[bool, ...]:
        return tuple(p.requires_grad for p in pl_module.parameters())

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._trainable = self._state(pl_module)  # what the strategy wrapped in its setup, just before

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        strategy = trainer.strategy
        if not isinstance(strategy, DDPStrategy) or self._state(pl_module) == self._trainable:
            return
        strategy.model = pl_module
        strategy.configure_ddp()
        self._trainable = self._state(pl_module)
