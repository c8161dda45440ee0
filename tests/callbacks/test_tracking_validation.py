import math
from pathlib import Path

import numpy as np
import pytest
import pytorch_lightning as pl
from hydra import compose, initialize_config_dir
from model_fixtures import light_model_kwargs, make_batch
from omegaconf import OmegaConf
from pytorch_lightning.callbacks import ModelCheckpoint
from siammask.callbacks.tracking_validation import SCORE_KEY, TrackingValidation
from siammask.datamodules.synthetic import SyntheticVideos
from torch.utils.data import DataLoader

from siammask.evaluation.datasets import synthetic_datasets
from siammask.hydra_glue import register_resolvers
from siammask.lit import ThreeBranchModule
from siammask.tracking import TrackResult

CONF = Path(__file__).resolve().parents[2] / "conf"
register_resolvers()

VIDEOS = {"num_videos": 2, "num_frames": 4, "image_size": [96, 80], "num_targets": 2, "seed": 3}


def test_tracking_validation_scores_videos_and_restores_training_mode():
    module = ThreeBranchModule(**light_model_kwargs())
    module.train()
    callback = TrackingValidation(num_videos=2, videos=VIDEOS)
    metrics = callback.evaluate(module)
    assert set(metrics) == {"J", "F", "JF"}
    assert all(0.0 <= v <= 1.0 for v in metrics.values())
    assert math.isclose(metrics["JF"], (metrics["J"] + metrics["F"]) / 2)
    assert module.network.training


class GroundTruthTracker:
    """The tracker protocol answering each frame with the ground-truth masks of the objects it was given (found
    by the frame's pixels), or with empty masks: the best and the worst tracker the callback can score."""

    def __init__(self, videos: SyntheticVideos, num_videos: int, empty: bool = False) -> None:
        _, masks = synthetic_datasets(videos, num_videos)
        self.labels = {}
        for name in masks.names:
            sequence = masks.load(name)
            for f in range(len(sequence.frames)):
                self.labels[sequence.frames[f].tobytes()] = sequence.labels[f]
        self.empty, self.ids = empty, []

    def fresh(self):
        return self

    def init(self, image_rgb, boxes_xyxy, masks=None):
        self.ids = []
        return self.add(image_rgb, boxes_xyxy, masks)

    def add(self, image_rgb, boxes_xyxy, masks=None):
        labels = self.labels[image_rgb.tobytes()]
        self.ids += [int(np.bincount(labels[mask > 0]).argmax()) for mask in masks]
        return self.track(image_rgb)

    def track(self, image_rgb):
        labels = self.labels[image_rgb.tobytes()]
        corners = np.zeros((4, 2))
        return [TrackResult(np.zeros(4), corners, corners, ((labels == i) & (not self.empty)).astype(np.uint8), 1.0)
                for i in self.ids]


EASY_J = 0.9  # a tracker that follows the synthetic objects' masks scores above this; one that loses them, near 0


@pytest.mark.parametrize("empty", [False, True])
def test_tracking_validation_scores_a_perfect_tracker_high_and_an_empty_mask_tracker_low(empty, monkeypatch):
    callback = TrackingValidation(num_videos=2, videos=VIDEOS)
    tracker = GroundTruthTracker(callback.videos, 2, empty=empty)
    monkeypatch.setattr("siammask.callbacks.tracking_validation.Tracker", lambda *args: tracker)
    metrics = callback.evaluate(ThreeBranchModule(**light_model_kwargs()))
    if empty:
        assert metrics["J"] < EASY_J and metrics["J"] == pytest.approx(0.0)
    else:
        assert metrics["J"] >= EASY_J and metrics["J"] == pytest.approx(1.0) and metrics["F"] == pytest.approx(1.0)


def test_tracking_validation_rejects_a_zero_period():
    with pytest.raises(ValueError, match="every_n_epochs"):
        TrackingValidation(every_n_epochs=0, videos=VIDEOS)


def tiny_synthetic_benchmark() -> tuple[dict, dict]:
    """conf/benchmark/synthetic.yaml at a size that tracks in seconds."""
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=["benchmark=synthetic", "benchmark.num_videos=1", "benchmark.num_frames=6",
                                          "benchmark.generator.image_size=[96,80]"])
    return OmegaConf.to_container(cfg.benchmark, resolve=True), OmegaConf.to_container(cfg.tracker, resolve=True)


def test_tracking_validation_on_a_benchmark_logs_its_summaries_and_the_selection_score(tmp_path):
    benchmark, tracker = tiny_synthetic_benchmark()
    module = ThreeBranchModule(**light_model_kwargs())
    callback = TrackingValidation(benchmark=benchmark, tracker=tracker, results_dir=str(tmp_path))
    metrics = callback.evaluate(module, epoch=3)
    assert metrics[SCORE_KEY] == metrics["vot_eao"]  # the first protocol's headline metric (VOT EAO)
    assert {"vot_accuracy", "vot_lost", "davis_J_mean", "davis_F_mean"} <= set(metrics)
    assert sorted(p.name for p in (tmp_path / "epoch_003" / "vot").iterdir()) == ["video000_target1",
                                                                                  "video000_target2"]


def test_model_checkpoint_keeps_the_epoch_that_tracks_best(tmp_path, monkeypatch):
    benchmark, tracker = tiny_synthetic_benchmark()
    scores = iter([0.2, 0.5, 0.3])  # what the benchmark says after epochs 0, 1, 2
    monkeypatch.setattr("siammask.callbacks.tracking_validation.selection_score", lambda *args: next(scores))
    callbacks = [TrackingValidation(benchmark=benchmark, tracker=tracker, results_dir=str(tmp_path / "tracks")),
                 ModelCheckpoint(dirpath=tmp_path, filename="best_tracking_epoch_{epoch:03d}", monitor=SCORE_KEY,
                                 mode="max", save_top_k=1, auto_insert_metric_name=False)]
    trainer = pl.Trainer(max_epochs=3, accelerator="cpu", logger=False, enable_progress_bar=False,
                         enable_model_summary=False, callbacks=callbacks, limit_val_batches=0)
    module = ThreeBranchModule(**light_model_kwargs(), search_size=175)
    trainer.fit(module, DataLoader([make_batch(2, search_size=175)], batch_size=None))
    assert [p.name for p in tmp_path.glob("*.ckpt")] == ["best_tracking_epoch_001.ckpt"]
    assert float(callbacks[1].best_model_score) == 0.5


def test_tracking_benchmark_callbacks_compose_from_the_train_command_line():
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=["callbacks=[default,tracking_benchmark]", "benchmark=vot2018",
                                          "benchmark.root=/data/VOT2018"])
    assert cfg.callbacks.tracking_benchmark.benchmark.root == "/data/VOT2018"
    assert cfg.callbacks.tracking_benchmark.tracker.penalty_k == cfg.tracker.penalty_k
    assert cfg.callbacks.best_tracking_checkpoint.monitor == SCORE_KEY
