"""Train SiamMask: compose the Hydra config, instantiate data, model, callbacks, loggers, trainer; fit.

    python train.py                                   # quick CPU run on synthetic videos (or: siammask-train)
    python train.py experiment=siammask_base model.backbone.checkpoint_path=resnet.model   # the paper recipe (GPUs)
    python train.py -m model/backbone=resnet18,resnet50 model.optimizer.lr=0.005,0.01
    python train.py ckpt_path=last                    # continue the run that saved last (siammask.runs)
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import hydra
import pytorch_lightning as pl
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig
from pytorch_lightning.callbacks import ModelCheckpoint, Timer

from siammask.callbacks.checkpointing import TrainingStopped
from siammask.callbacks.run_config import LogRunConfig
from siammask.command import command, command_line
from siammask.hydra_glue import instantiate_list, is_multirun, project_root, register_resolvers, run_record
from siammask.lit.loggers import start_loggers
from siammask.runs import resolve_ckpt_path
from siammask.sweeps import objective, write_result

register_resolvers()  # for configs composed in Python (tests, notebooks) before train() reads them
log = logging.getLogger(__name__)
FIT_SECONDS_KEY = "time/fit_seconds"


def train(cfg: DictConfig) -> dict[str, float] | None:
    """Fit once; returns the final logged metrics, also written to <run dir>/result.json for sweep summaries
    (rank 0; None on the other ranks of a subprocess-launched DDP run, which re-run this script)."""
    pl.seed_everything(cfg.seed, workers=True)
    run_dir = Path(cfg.paths.output_dir)
    print(f"Run folder: {run_dir}", flush=True)
    ckpt_path = resolve_ckpt_path(cfg.get("ckpt_path"), run_dir)
    model: pl.LightningModule = hydra.utils.instantiate(cfg.model)  # first: it checks its weights files
    datamodule: pl.LightningDataModule = hydra.utils.instantiate(cfg.data)
    loggers = instantiate_list(cfg.get("logger"))
    start_loggers(loggers)  # a logger that cannot start stops the run here, before any step
    overrides = HydraConfig.get().overrides.task if HydraConfig.initialized() else []  # [] when called from Python
    record = run_record(cfg, overrides, project_root())
    callbacks = [*instantiate_list(cfg.get("callbacks")), LogRunConfig(record)]
    trainer: pl.Trainer = hydra.utils.instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    warn_if_replacing_checkpoints(trainer, ckpt_path)
    started = time.perf_counter()
    trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)  # raises TrainingStopped on Ctrl-C / SIGTERM
    fit_seconds = time.perf_counter() - started
    refuse_if_nothing_trained(trainer, ckpt_path)
    warn_if_cut_short(trainer)
    print_checkpoints(trainer)
    if not trainer.is_global_zero:
        return None
    metrics = {name: float(value) for name, value in trainer.callback_metrics.items()}
    metrics[FIT_SECONDS_KEY] = fit_seconds  # wall clock of fit, setup and validation included (scripts/compare_families)
    write_result(cfg.paths.output_dir, metrics, cfg.get("optimized_metric"))
    return metrics


def resume_command(ckpt_path: str) -> str:
    """This run's command line with ``ckpt_path`` replaced; the resumed run writes into a new run folder."""
    overrides = [o for o in HydraConfig.get().overrides.task if not o.lstrip("+~").startswith("ckpt_path=")]
    return command_line([*overrides, f"ckpt_path={ckpt_path}"])


def refuse_if_nothing_trained(trainer: pl.Trainer, ckpt_path: str | Path | None) -> None:
    """A resumed checkpoint already at ``max_steps`` trains nothing: say so (the checkpoint is untouched) instead of
    ending on a missing objective."""
    if ckpt_path and not trainer.callback_metrics and 0 < trainer.max_steps <= trainer.global_step:
        raise ValueError(f"nothing left to train: {ckpt_path} is at step {trainer.global_step} and "
                         f"trainer.max_steps={trainer.max_steps}; raise trainer.max_steps to train it further")


def warn_if_replacing_checkpoints(trainer: pl.Trainer, ckpt_path: str | Path | None) -> None:
    """A command re-run into a run folder that holds an earlier run's ``last.ckpt`` replaces it (Lightning's
    ``last-v1.ckpt`` beside it would leave the old weights where the next command looks): say so, naming both."""
    for callback in trainer.checkpoint_callbacks:
        if not isinstance(callback, ModelCheckpoint) or not callback.dirpath or not callback.save_last:
            continue
        last = Path(callback.dirpath) / f"{callback.CHECKPOINT_NAME_LAST}{callback.FILE_EXTENSION}"
        if last.is_file() and (not ckpt_path or Path(ckpt_path).resolve() != last.resolve()):
            step = torch.load(last, map_location="cpu", weights_only=True, mmap=True).get("global_step")
            log.warning("%s holds an earlier run's checkpoint (step %s); this run's last.ckpt replaces it. To keep "
                        "it, stop now and write into another folder (hydra.run.dir=...), or continue it with "
                        "ckpt_path=%s", last, step, last)


def warn_if_cut_short(trainer: pl.Trainer) -> None:
    """``trainer.max_time`` is a safety net: say loudly when it ended the run before its step / epoch budget."""
    timer = next((cb for cb in trainer.callbacks if isinstance(cb, Timer)), None)  # type: ignore[attr-defined]
    remaining = timer.time_remaining() if timer is not None else None
    finished = (trainer.global_step >= trainer.max_steps if trainer.max_steps > 0
                else trainer.current_epoch >= (trainer.max_epochs or 0))
    if remaining is not None and remaining <= 0 and not finished:
        budget = f"{trainer.max_steps} steps" if trainer.max_steps > 0 else f"{trainer.max_epochs} epochs"
        message = (f"RUN CUT SHORT by trainer.max_time at step {trainer.global_step} of {budget}: the schedule did "
                   "not complete and the checkpoint is not the configured training. Remove trainer.max_time (or "
                   "raise it) for the full run; resume this one with ckpt_path=last and a larger max_time.")
        banner = "!" * 100
        log.warning(message)
        print(f"{banner}\n{message}\n{banner}", file=sys.stderr, flush=True)


def print_checkpoints(trainer: pl.Trainer) -> None:
    folders = {Path(cb.dirpath) for cb in trainer.checkpoint_callbacks if isinstance(cb, ModelCheckpoint)
               and cb.dirpath}
    files = sorted(p for folder in folders if folder.is_dir() for p in folder.glob("*.ckpt"))
    if trainer.is_global_zero:
        print("Checkpoints:" + "".join(f"\n  {p}" for p in files) if files else "No checkpoint written", flush=True)


@command("train")
def main(cfg: DictConfig) -> float | None:
    """Returns ``optimized_metric``'s final value: what an Optuna sweep (hparams_search=optuna) optimises."""
    try:
        metrics = train(cfg)
    except TrainingStopped as stop:
        print(f"Stopped by {stop.signal_name} at step {stop.step}. Checkpoint of that step: {stop.ckpt_path}\n"
              f"Resume with: {resume_command(stop.ckpt_path)}", flush=True)
        raise SystemExit(stop.exit_code) from None
    return objective(metrics, cfg.get("optimized_metric"), sweep=is_multirun()) if metrics is not None else None

