"""A test-only callback that sends a signal to its own process at a chosen step, so a test interrupts
training at that step whatever the machine's speed (in-process, and in train.py through PYTHONPATH)."""

from __future__ import annotations

import os
import signal
from typing import Any

import pytorch_lightning as pl


class SignalAtStep(pl.Callback):
    """Sends ``signal_name`` to this process while running the training step that ends at global step ``step``
    (mid-step, as a real Ctrl-C would arrive)."""

    def __init__(self, step: int, signal_name: str = "SIGINT"):
        self.step = step
        self.signum = signal.Signals[signal_name]

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        if trainer.global_step + 1 == self.step:
            os.kill(os.getpid(), self.signum)
