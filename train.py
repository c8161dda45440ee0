"""Train SiamMask: compose the Hydra config, instantiate data, model, callbacks, loggers, trainer; fit.

    python train.py                                   # quick CPU run on synthetic videos
    python train.py experiment=siammask_base          # the paper recipe (real data, GPUs)
    python train.py -m model/backbone=resnet18,resnet50 model.optimizer.lr=0.005,0.01
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("PROJECT_ROOT", str(Path(__file__).resolve().parent))

import hydra  # noqa: E402
import pytorch_lightning as pl  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from siammask.checkpoints import check_weights_file  # noqa: E402
from siammask.config import instantiate_list, register_resolvers  # noqa: E402

register_resolvers()


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit once; returns the final logged metrics (read by sweepers through ``optimized_metric``)."""
    if cfg.get("ckpt_path") not in (None, "last", "best", "hpc", "registry"):  # a file, not a Lightning keyword
        check_weights_file(cfg.ckpt_path)  # a text or truncated file is named now, not deep in Lightning
    pl.seed_everything(cfg.seed, workers=True)
    datamodule: pl.LightningDataModule = hydra.utils.instantiate(cfg.data)
    model: pl.LightningModule = hydra.utils.instantiate(cfg.model)
    trainer: pl.Trainer = hydra.utils.instantiate(cfg.trainer, callbacks=instantiate_list(cfg.get("callbacks")),
                                                  logger=instantiate_list(cfg.get("logger")) or False)
    trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    return {name: float(value) for name, value in trainer.callback_metrics.items()}


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    metrics = train(cfg)
    name = cfg.get("optimized_metric")
    return metrics.get(name) if name else None


if __name__ == "__main__":
    main()
