"""Pictures of what the network predicts on training pairs, logged as images while it trains.

Every ``every_n_steps`` steps the first ``num_pairs`` pairs of the batch are drawn twice, side by side:
as sampled (ground-truth box and mask) and as predicted (the box and mask at the score argmax, where the training
metrics box_iou / mask_iou are read; a tracker also weighs scale change and displacement, see siammask.lit.module). The grid goes to every logger that takes images (W&B ``log_image``, TensorBoard ``add_image``)
and, as a PNG, to ``<run dir>/predictions/step_<n>.png``, so CSV-only runs get it too.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytorch_lightning as pl
import torch
from siammask.datamodules.visualize import sample_tile, save_png, tile_grid

from siammask.lit.module import SiamMaskModule
from siammask.models.modes import eval_mode
from siammask.models.windows import paste_windows

KEY = "train/predictions"


class PredictionImages(pl.Callback):
    def __init__(self, every_n_steps: int = 200, num_pairs: int = 4) -> None:
        if every_n_steps < 1 or num_pairs < 1:
            raise ValueError(f"every_n_steps and num_pairs must be >= 1, got {every_n_steps}, {num_pairs}")
        self.every_n_steps = every_n_steps
        self.num_pairs = num_pairs

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any,
                           batch: Mapping[str, torch.Tensor], batch_idx: int) -> None:
        step = trainer.global_step
        if step % self.every_n_steps:
            return
        grid = self.render(pl_module, batch)
        save_png(grid, Path(trainer.default_root_dir) / "predictions" / f"step_{step:06d}.png")
        for logger in trainer.loggers:
            if hasattr(logger, "log_image"):  # W&B (and other loggers with the same API)
                logger.log_image(key=KEY, images=[grid], step=step)
            elif hasattr(experiment := getattr(logger, "experiment", None), "add_image"):  # TensorBoard
                cast(Any, experiment).add_image(KEY, grid, step, dataformats="HWC")

    def render(self, pl_module: pl.LightningModule, batch: Mapping[str, torch.Tensor]) -> np.ndarray:
        """RGB grid: one row per pair, ground truth left, prediction right.

        Runs in eval mode so that drawing leaves the BatchNorm statistics untouched; every module's own
        mode (frozen parts stay in eval) is restored afterwards.
        """
        pairs = {k: v[: self.num_pairs] for k, v in batch.items()}
        module = cast(SiamMaskModule, pl_module)  # the callback draws this project's modules' predictions
        with eval_mode(module), torch.no_grad():
            output = module(pairs["template"], pairs["search"])
            prediction = module.argmax_predictions(output)
        box_xyxy = prediction.box_xyxy
        pasted = paste_windows(prediction.masks.float(), prediction.windows_xyxy, pairs["search"].shape[-1]) > 0.5
        tiles = []
        for i in range(len(box_xyxy)):
            truth = {k: v[i] for k, v in pairs.items()}
            predicted = {**truth, "search_bbox": box_xyxy[i], "search_mask": pasted[i], "has_mask": torch.tensor(True),
                         "is_negative": torch.tensor(False)}
            tiles += [sample_tile(truth), sample_tile(predicted)]
        return tile_grid(tiles, columns=2)
