"""Train SiamMask: compose the Hydra config, instantiate data, model, callbacks, loggers, trainer; fit.

    python train.py                                   # quick CPU run on synthetic videos
    python train.py experiment=siammask_base model.backbone.checkpoint_path=resnet.model   # the paper recipe (GPUs)
    python train.py -m model/backbone=resnet18,resnet50 model.optimizer.lr=0.005,0.01
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("PROJECT_ROOT", str(Path(__file__).resolve().parent))

import hydra  # noqa: E402
import pytorch_lightning as pl  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from siammask.callbacks.run_config import LogRunConfig  # noqa: E402
from siammask.config import instantiate_list, register_resolvers, run_record, user_errors  # noqa: E402
from siammask.lit.loggers import start_loggers  # noqa: E402
from siammask.sweeps import objective, write_result  # noqa: E402

register_resolvers()


def train(cfg: DictConfig) -> dict[str, float] | None:
    """Fit once; returns the final logged metrics, also written to <run dir>/result.json for sweep summaries
    (rank 0; None on the other ranks of a subprocess-launched DDP run, which re-run this script)."""
    pl.seed_everything(cfg.seed, workers=True)
    model: pl.LightningModule = hydra.utils.instantiate(cfg.model)  # first: it checks its weights files
    datamodule: pl.LightningDataModule = hydra.utils.instantiate(cfg.data)
    loggers = instantiate_list(cfg.get("logger"))
    start_loggers(loggers)  # a logger that cannot start stops the run here, before any step
    record = run_record(cfg, HydraConfig.get().overrides.task, Path(__file__).resolve().parent)
    callbacks = [*instantiate_list(cfg.get("callbacks")), LogRunConfig(record)]
    trainer: pl.Trainer = hydra.utils.instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    if not trainer.is_global_zero:
        return None
    metrics = {name: float(value) for name, value in trainer.callback_metrics.items()}
    write_result(cfg.paths.output_dir, metrics, cfg.get("optimized_metric"))
    return metrics


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
@user_errors
def main(cfg: DictConfig) -> float | None:
    """Returns ``optimized_metric``'s final value: what an Optuna sweep (hparams_search=optuna) optimises."""
    metrics = train(cfg)
    return objective(metrics, cfg.get("optimized_metric")) if metrics is not None else None


if __name__ == "__main__":
    main()
