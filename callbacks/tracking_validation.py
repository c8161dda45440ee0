"""Validation by tracking: the number that matters for SiamMask is how well the model tracks and segments
whole videos, not its per-pair loss. Every few epochs this callback runs the project's tracker on held-out
synthetic videos (DAVIS-style, first-frame masks) and logs J, F and J&F.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pytorch_lightning as pl

from siammask.callbacks.eval_mode import eval_mode
from siammask.datamodules.synthetic import SyntheticVideos
from siammask.evaluation.datasets import synthetic_datasets
from siammask.evaluation.davis import score_davis_sequence, summarise_davis
from siammask.evaluation.runners import run_vos
from siammask.tracking import Tracker, TrackerConfig


class TrackingValidation(pl.Callback):
    """Logs ``val/track_J``, ``val/track_F``, ``val/track_JF`` from tracking ``num_videos`` synthetic videos.

    Runs on rank 0 only, at the end of every ``every_n_epochs``-th training epoch, with the network in
    eval mode; the network's mode is restored afterwards.
    """

    def __init__(self, every_n_epochs: int = 1, tracker: Mapping[str, Any] | None = None,
                 videos: Mapping[str, Any] | None = None, num_videos: int = 4, bound_th: float = 0.008) -> None:
        super().__init__()
        if every_n_epochs < 1:
            raise ValueError(f"every_n_epochs must be >= 1, got {every_n_epochs}")
        self.every_n_epochs = every_n_epochs
        self.tracker_config = TrackerConfig.from_mapping(dict(tracker or {}))
        self.videos = SyntheticVideos(**dict(videos or {}))
        self.num_videos = num_videos
        self.bound_th = bound_th

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if (trainer.current_epoch + 1) % self.every_n_epochs or not trainer.is_global_zero:
            return
        metrics = self.evaluate(pl_module)
        for name, value in metrics.items():
            pl_module.log(f"val/track_{name}", value, rank_zero_only=True)

    def evaluate(self, pl_module: pl.LightningModule) -> dict[str, float]:
        with eval_mode(pl_module.network) as network:
            tracker = Tracker(network, self.tracker_config, pl_module.device, pl_module.anchor_spec)
            _, mask_dataset = synthetic_datasets(self.videos, self.num_videos)
            per_object = []
            for name in mask_dataset.names:
                sequence = mask_dataset.load(name)
                predicted = run_vos(tracker, sequence)
                scores = score_davis_sequence(np.stack(sequence.labels), np.stack(predicted), sequence.object_ids,
                                              self.bound_th)
                per_object += scores.values()
        summary = summarise_davis(per_object)
        return {"J": summary["J_mean"], "F": summary["F_mean"], "JF": summary["JF_mean"]}
