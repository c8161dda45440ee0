"""Nothing lost when a run stops: atomic checkpoint files, a checkpoint of the exact step on Ctrl-C /
SIGTERM / preemption, and the random generators' states in every checkpoint (exact resume).

Where a stopped run resumes from (``ckpt_path=last`` / ``auto``) is :mod:`siammask.runs`.
"""

from __future__ import annotations

import os
import random
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any, cast

import numpy as np
import pytorch_lightning as pl
import torch
from lightning_fabric.plugins import TorchCheckpointIO
from pytorch_lightning.callbacks import Callback, Checkpoint
from pytorch_lightning.utilities import rank_zero_info

from siammask.runs import PARTIAL_SUFFIX


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes ``<file>.partial`` next to the checkpoint, syncs it to disk and renames it over the checkpoint.

    A process killed during a save (SIGKILL, out of memory, power loss) leaves the previous checkpoint intact
    and at most a ``.partial`` file, which ``ckpt_path=last`` ignores. (Lightning's own save goes through a
    temporary file in the system's temp folder, whose move is a plain copy when that is another file system.)
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | os.PathLike,
                        storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options, got {storage_options!r}")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + PARTIAL_SUFFIX)
        with open(partial, "wb") as handle:
            torch.save(checkpoint, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
        _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    """Makes the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class TrainingStopped(Exception):
    """Raised by :class:`SaveOnSignal` after it saved the step at which a stop signal arrived."""

    def __init__(self, signal_name: str, ckpt_path: str, step: int):
        super().__init__(f"{signal_name} at step {step}; checkpoint {ckpt_path}")
        self.signal_name = signal_name
        self.ckpt_path = ckpt_path
        self.step = step

    @property
    def exit_code(self) -> int:
        return 128 + int(signal.Signals[self.signal_name])  # the shell's code for a process ended by a signal


class SaveOnSignal(Checkpoint):
    """On one of ``signals``: finish the current step, save ``<dirpath>/<filename>.ckpt`` of it, stop.

    The handler only sets a flag; the save happens at the end of the step, where :class:`ModelCheckpoint`'s
    step-triggered saves happen and Lightning resumes exactly, so the file never holds a half-applied
    optimiser step (as a ``Checkpoint`` subclass it runs after the other callbacks, e.g. the EMA update).
    A second Ctrl-C stops at once (the periodic checkpoints remain). A handler that was installed before ours
    (a cluster launcher's requeue on preemption, Lightning's SLURM requeue) runs after the save; then
    :class:`TrainingStopped` ends ``fit`` (train.py prints where the checkpoint is and how to resume).
    Under DDP every rank stops at the same step (the flag is reduced across ranks).
    """

    def __init__(self, dirpath: str | os.PathLike, filename: str = "interrupted",
                 signals: tuple[str, ...] | list[str] = ("SIGINT", "SIGTERM")):
        unknown = [name for name in signals if not hasattr(signal, name)]
        if unknown:
            raise ValueError(f"unknown signal names {unknown}; use names such as SIGINT, SIGTERM, SIGUSR1")
        self.dirpath = Path(dirpath)
        self.filename = filename
        self.signals = [signal.Signals[name] for name in signals]
        self._pending: signal.Signals | None = None
        self._previous: dict[signal.Signals, Any] = {}

    @property
    def ckpt_path(self) -> Path:
        return self.dirpath / f"{self.filename}.ckpt"

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # After Lightning registered its own SIGTERM / SLURM handlers, which become our "previous" ones.
        self._pending = None
        if threading.current_thread() is not threading.main_thread():
            return  # Python delivers signals to the main thread only (e.g. a fit inside a worker thread)
        for signum in self.signals:
            self._previous[signum] = signal.getsignal(signum)
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._pending is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # asked twice: stop now
        self._pending = signal.Signals(signum)
        # os.write, not print: a handler may interrupt a print in progress; buffered writes are not reentrant
        os.write(2, f"\n{self._pending.name} received: saving a checkpoint after this step, then stopping "
                    "(Ctrl-C again to stop at once)\n".encode())

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        pending = self._pending is not None
        if trainer.world_size > 1:
            pending = trainer.strategy.reduce_boolean_decision(pending, all=False)
        if not pending:
            return
        received = self._pending or signal.SIGTERM  # a rank that did not see the signal follows the others
        trainer.save_checkpoint(self.ckpt_path)
        for logger in trainer.loggers:
            logger.save()
        rank_zero_info(f"Saved the checkpoint of step {trainer.global_step}: {self.ckpt_path}")
        previous = self._previous.get(received)
        self._restore_handlers()
        if callable(previous) and previous is not signal.default_int_handler:
            previous(int(received), None)  # e.g. a requeue on preemption; may itself exit
        raise TrainingStopped(received.name, str(self.ckpt_path), trainer.global_step)

    def _restore_handlers(self) -> None:
        for signum, handler in self._previous.items():
            if handler is not None:
                signal.signal(signum, handler)
        self._previous = {}

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._restore_handlers()


class RngState(Callback):
    """Keeps the random generators' states (torch CPU / CUDA, numpy, python) in every checkpoint and restores
    them on resume, so the random draws after a resume (e.g. the mask positions trained per pair) are the
    ones an uninterrupted run makes. Stored as tensors and ints: checkpoints still load with ``weights_only``.
    """

    def state_dict(self) -> dict[str, Any]:
        kind, keys, pos, has_gauss, cached_gauss = cast(tuple[str, np.ndarray, int, int, float], np.random.get_state())
        state = {"torch": torch.get_rng_state(), "python": random.getstate(),
                 "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached_gauss)}
        if torch.cuda.is_available():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        torch.set_rng_state(state_dict["torch"])
        random.setstate(_as_tuples(state_dict["python"]))
        kind, keys, pos, has_gauss, cached_gauss = state_dict["numpy"]
        np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached_gauss))
        if "cuda" in state_dict and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state_dict["cuda"])


def _as_tuples(value: Any) -> Any:
    """``random.setstate`` wants tuples; a checkpoint round trip may hand back lists."""
    return tuple(_as_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value
