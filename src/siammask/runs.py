"""Which checkpoint a stopped training resumes from: train.py's ``ckpt_path=last`` / ``auto`` / a path.

* ``last``: the newest complete checkpoint of this run's folder if it has one
  (``hydra.run.dir=<an old run>``), else the newest complete checkpoint among the run folders next to it
  (by default ``logs/train/runs/*``, so: the run that saved last). No checkpoint at all is an error.
* ``auto``: this run's folder only, and a fresh start when it has none. For jobs whose folder stays the same
  when they are started again: a cluster job that requeues itself, a sweep job.
* a path: that file.

Newest = latest modification time; files below the folder (``checkpoints/*.ckpt``, Lightning's SLURM
``hpc_ckpt_*.ckpt``) all count. A checkpoint is complete when its zip directory (written last by
``torch.save``) reads; a truncated one is skipped with a warning, and ``.partial`` files (a save in progress
or killed, see ``siammask.callbacks.checkpointing.AtomicCheckpointIO``) are never candidates.
"""

from __future__ import annotations

import logging
from pathlib import Path

from siammask.weights import check_weights_file

log = logging.getLogger(__name__)

# A file or folder being written (checkpoints, eval results), renamed into place once whole.
PARTIAL_SUFFIX = ".partial"
RESUME_CHOICES = ("last", "auto")


def is_complete_checkpoint(path: str | Path) -> bool:
    """True if the file is a whole ``torch.save`` archive (:func:`siammask.weights.check_weights_file`)."""
    try:
        check_weights_file(path)
    except (OSError, ValueError):
        return False
    return True


def newest_complete_checkpoint(folders: list[Path]) -> Path | None:
    """The most recently written complete ``*.ckpt`` below any of ``folders``; warns about truncated ones."""
    candidates = [p for folder in folders if folder.is_dir() for p in folder.rglob("*.ckpt") if p.is_file()]
    for path in sorted(candidates, key=lambda p: p.stat().st_mtime, reverse=True):
        if is_complete_checkpoint(path):
            return path
        log.warning("Skipping %s: not a complete checkpoint (truncated, or being written by another process)",
                    path)
    return None


def resolve_ckpt_path(ckpt_path: str | Path | None, run_dir: Path) -> Path | None:
    """The checkpoint to resume from (see the module docstring), or None to start fresh."""
    if ckpt_path is None:
        return None
    if str(ckpt_path) not in RESUME_CHOICES:
        return check_weights_file(ckpt_path)  # a missing, text or truncated file is named now
    found = newest_complete_checkpoint([run_dir])
    if found is None and str(ckpt_path) == "last":
        found = newest_complete_checkpoint(sorted(p for p in run_dir.parent.iterdir() if p != run_dir)
                                           if run_dir.parent.is_dir() else [])
        if found is None:
            raise FileNotFoundError(f"ckpt_path=last: no complete checkpoint in {run_dir} or the run folders "
                                    f"next to it ({run_dir.parent}); give a checkpoint path, or "
                                    "hydra.run.dir=<run folder>")
    if found is None:
        log.info("ckpt_path=auto: no checkpoint in %s yet, starting fresh", run_dir)
    else:
        log.info("ckpt_path=%s: resuming from %s", ckpt_path, found)
    return found
