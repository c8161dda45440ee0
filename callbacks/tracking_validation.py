"""Validation by tracking: the number that matters for SiamMask is how well the model tracks and segments
whole videos, not its per-pair loss. Every few epochs this callback runs the project's tracker either on
held-out synthetic videos (DAVIS-style, first-frame masks; logs J, F and J&F) or on a whole benchmark
(``benchmark``: any ``conf/benchmark`` config, e.g. a VOT2018 folder; logs every summary number and
``val/track_score``, the number the release selects epochs by, for ``ModelCheckpoint`` to monitor).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

import pytorch_lightning as pl
from siammask.datamodules.synthetic import SyntheticVideos

from siammask.box_coding import BoxDecoder
from siammask.evaluation.selection import score_tracker, selection_metric, selection_score
from siammask.models import SiamMask
from siammask.models.modes import eval_mode
from siammask.tracking import Tracker, TrackerConfig

SCORE_KEY = "val/track_score"  # the benchmark's selection metric (siammask.evaluation.selection)


class TrackingValidation(pl.Callback):
    """Logs ``val/track_J``, ``val/track_F``, ``val/track_JF`` from tracking ``num_videos`` synthetic videos, or,
    with ``benchmark``, ``val/track_<protocol>_<metric>`` and ``val/track_score`` from the whole benchmark (result
    files under ``results_dir/epoch_<n>``).

    Tracks on rank 0 only (the other processes wait for its numbers), at the end of every ``every_n_epochs``-th
    training epoch, with the network in eval mode; the network's mode is restored afterwards.
    """

    def __init__(self, every_n_epochs: int = 1, tracker: Mapping[str, Any] | None = None,
                 videos: Mapping[str, Any] | None = None, num_videos: int = 4, bound_th: float = 0.008,
                 benchmark: Mapping[str, Any] | None = None, results_dir: str | None = None) -> None:
        super().__init__()
        if every_n_epochs < 1:
            raise ValueError(f"every_n_epochs must be >= 1, got {every_n_epochs}")
        self.every_n_epochs = every_n_epochs
        self.tracker_config = TrackerConfig.from_mapping(dict(tracker or {}))
        self.benchmark = dict(benchmark) if benchmark else None
        if self.benchmark is not None:
            selection_metric(self.benchmark)  # a benchmark without ground truth fails now, not after an epoch
            if results_dir is None:
                raise ValueError("tracking validation on a benchmark writes result files: give results_dir")
            generator = self.benchmark.get("generator")  # synthetic benchmarks: instantiated by Hydra or a mapping
            if isinstance(generator, SyntheticVideos):
                videos = generator
            elif generator:
                videos = {k: v for k, v in dict(generator).items() if k != "_target_"}
        self.videos = videos if isinstance(videos, SyntheticVideos) else SyntheticVideos(**dict(videos or {}))
        self.results_dir = Path(results_dir) if results_dir else None
        self.num_videos = num_videos
        self.bound_th = bound_th

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if (trainer.current_epoch + 1) % self.every_n_epochs:
            return
        # Rank 0 tracks; every rank logs its numbers, so that ModelCheckpoint finds the monitored key on all of them.
        metrics = self.evaluate(pl_module, trainer.current_epoch) if trainer.is_global_zero else None
        metrics = cast(dict[str, float], trainer.strategy.broadcast(metrics, src=0))
        for name, value in metrics.items():
            pl_module.log(name if name == SCORE_KEY else f"val/track_{name}", value, sync_dist=True)  # equal on all

    def evaluate(self, pl_module: pl.LightningModule, epoch: int = 0) -> dict[str, float]:
        """The numbers of one validation: the benchmark's (``benchmark`` given), else the synthetic videos' J, F
        and J&F, scored by the DAVIS protocol object as eval.py scores them."""
        network = cast(SiamMask, pl_module.network)
        with eval_mode(network):
            tracker = Tracker(network, self.tracker_config, pl_module.device, cast(BoxDecoder, pl_module.decoder))
            if self.benchmark is not None:
                return self._benchmark_metrics(tracker.fresh, epoch)
            with tempfile.TemporaryDirectory() as results_dir:  # the protocol scores the label maps it wrote
                davis = score_tracker(self.videos_benchmark, tracker.fresh, Path(results_dir), self.videos)["davis"]
        return {"J": davis.summary["J_mean"], "F": davis.summary["F_mean"], "JF": davis.summary["JF_mean"]}

    @property
    def videos_benchmark(self) -> dict[str, Any]:
        """The held-out synthetic videos as a benchmark with the DAVIS protocol only (conf/benchmark/synthetic)."""
        return {"name": "synthetic", "reader": "synthetic", "num_videos": self.num_videos, "protocols": ["davis"],
                "davis": {"bound_th": self.bound_th}}

    def _benchmark_metrics(self, make_tracker: Callable[[], Tracker], epoch: int) -> dict[str, float]:
        assert self.benchmark is not None and self.results_dir is not None  # __init__ refused one without the other
        results = score_tracker(self.benchmark, make_tracker, self.results_dir / f"epoch_{epoch:03d}", self.videos)
        metrics = {f"{protocol}_{key}": float(value) for protocol, result in results.items()
                   for key, value in result.summary.items() if isinstance(value, (int, float))}
        metrics[SCORE_KEY] = selection_score(self.benchmark, results)
        return metrics
