"""Every logger gets the run: its resolved configuration, command-line overrides and git state."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytorch_lightning as pl


class LogRunConfig(pl.Callback):
    """Hands ``params`` (:func:`siammask.hydra_glue.run_record`) to every logger's ``log_hyperparams`` when fitting
    starts: W&B's run config, TensorBoard's hparams, the CSV logger's hparams.yaml.

    A callback rather than a call in train.py, so that it runs on each rank's own logger objects (under DDP
    spawn the workers hold copies of the loggers); the loggers themselves write on rank 0 only.
    """

    def __init__(self, params: Mapping[str, Any]) -> None:
        super().__init__()
        self.params = dict(params)

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        for logger in trainer.loggers:
            logger.log_hyperparams(self.params)
