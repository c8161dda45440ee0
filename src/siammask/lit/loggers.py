"""Loggers that fail before training, not after: W&B is started (and its folder checked) up front."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from pytorch_lightning.loggers import Logger, WandbLogger


class LoggerStartError(RuntimeError):
    """A logger of the configuration cannot start; raised before any training step."""


def start_loggers(loggers: Sequence[Logger]) -> None:
    """Start every W&B run now (rank 0 only, as Lightning does), so that a bad API key online, no network or an
    unwritable folder stops the run with a message instead of failing once training has begun."""
    for logger in loggers:
        if not isinstance(logger, WandbLogger):
            continue
        folder = Path(logger.save_dir or ".")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            writable = os.access(folder, os.W_OK)
        except OSError:
            writable = False
        if not writable:
            raise LoggerStartError(f"W&B cannot write its run files into {folder}: make it writable or choose another "
                                   f"folder (logger.wandb.save_dir=<dir>), or log with logger=csv")
        try:
            logger.experiment  # noqa: B018 -- creates the W&B run (rank 0; a no-op object on other ranks)
        except Exception as error:  # wandb raises several error types (auth, comm, usage)
            raise LoggerStartError(
                f"W&B could not start ({type(error).__name__}: {error}). Check WANDB_API_KEY / `wandb login`, or run "
                f"offline (WANDB_MODE=offline or logger.wandb.offline=true; sync later with `wandb sync`), or log "
                f"with logger=csv") from error
