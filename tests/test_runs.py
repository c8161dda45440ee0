"""ckpt_path=last / auto / a path: which checkpoint a stopped training resumes from (siammask.runs)."""

from __future__ import annotations

import logging
import os

import pytest
import torch

from siammask.runs import is_complete_checkpoint, resolve_ckpt_path


def save(path, step: int, age_s: float) -> None:
    """A checkpoint written ``age_s`` seconds ago."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"global_step": step}, path)
    stamp = path.stat().st_mtime - age_s
    os.utime(path, (stamp, stamp))


def test_last_skips_a_truncated_newest_checkpoint_with_a_warning(tmp_path, caplog):
    run = tmp_path / "runs" / "a"
    save(run / "checkpoints" / "every_steps.ckpt", 100, age_s=60)
    save(run / "checkpoints" / "interrupted.ckpt", 130, age_s=0)
    data = (run / "checkpoints" / "interrupted.ckpt").read_bytes()
    (run / "checkpoints" / "interrupted.ckpt").write_bytes(data[: len(data) // 2])
    with caplog.at_level(logging.WARNING, logger="siammask.runs"):
        chosen = resolve_ckpt_path("last", run)
    assert chosen == run / "checkpoints" / "every_steps.ckpt"
    assert "interrupted.ckpt" in caplog.text and "not a complete checkpoint" in caplog.text
    assert not is_complete_checkpoint(run / "checkpoints" / "interrupted.ckpt")


def test_last_from_a_new_run_folder_takes_the_newest_checkpoint_of_the_runs_next_to_it(tmp_path):
    runs = tmp_path / "runs"
    save(runs / "older" / "checkpoints" / "last.ckpt", 10, age_s=120)
    save(runs / "newer" / "checkpoints" / "interrupted.ckpt", 20, age_s=10)
    save(runs / "newer" / "checkpoints" / "every_steps.ckpt", 15, age_s=30)
    (runs / "new").mkdir()
    assert resolve_ckpt_path("last", runs / "new") == runs / "newer" / "checkpoints" / "interrupted.ckpt"
    # hydra.run.dir=<an old run>: that run's own newest checkpoint, even if another run saved later
    assert resolve_ckpt_path("last", runs / "older") == runs / "older" / "checkpoints" / "last.ckpt"


def test_auto_resumes_only_this_run_and_starts_fresh_without_a_checkpoint(tmp_path):
    runs = tmp_path / "runs"
    save(runs / "other" / "checkpoints" / "last.ckpt", 10, age_s=0)
    (runs / "job").mkdir()
    assert resolve_ckpt_path("auto", runs / "job") is None
    save(runs / "job" / "hpc_ckpt_1.ckpt", 7, age_s=0)  # Lightning's SLURM requeue checkpoint counts too
    assert resolve_ckpt_path("auto", runs / "job") == runs / "job" / "hpc_ckpt_1.ckpt"


def test_last_without_any_checkpoint_and_a_missing_path_are_clear_errors(tmp_path):
    (tmp_path / "runs" / "new").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="no complete checkpoint in"):
        resolve_ckpt_path("last", tmp_path / "runs" / "new")
    with pytest.raises(FileNotFoundError, match="no such file"):
        resolve_ckpt_path(tmp_path / "missing.ckpt", tmp_path / "runs" / "new")
    assert resolve_ckpt_path(None, tmp_path / "runs" / "new") is None
