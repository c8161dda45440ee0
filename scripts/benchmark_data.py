"""Throughput of the data path: synthetic rendering, the pair sampler alone, and the DataLoader.

    python scripts/benchmark_data.py                          # all measurements, ~1 minute
    python scripts/benchmark_data.py samples=1000 workers=[0,1,2]   (conf/benchmark_data.yaml)

One process and one OpenCV/torch thread, like one DataLoader worker, except the DataLoader rows.
"Sampler alone" feeds pre-rendered frames from memory, so it excludes decoding / rendering: it is the
cost every dataset pays (crop, jitter, photometric augmentation, tensors). Medians over ``repeats``.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable

import cv2
import numpy as np
import torch
from omegaconf import DictConfig
from siammask.datamodules.pair_datamodule import PairDataModule
from siammask.datamodules.sampler import PairSampler, SourceSpec
from siammask.datamodules.sources import Frame
from siammask.datamodules.synthetic import SyntheticVideos

from siammask.command import command
from siammask.geometry import CropWindow

# Release sampler settings (conf/data/synthetic.yaml "sampler").
SAMPLER = {"template_jitter": {"shift": 4, "scale": 0.05}, "search_jitter": {"shift": 64, "scale": 0.18},
               "negative_rate": 0.2, "photometric": {"gray": 0.25, "colour": 1.0, "search_blur": 0.18}}


class FramesInMemory:
    """A TrackSource over frames rendered once: measures the sampler without any decode or render cost."""

    def __init__(self, frames: list[list[Frame]], name: str):
        self.name, self.has_masks, self.frames = name, True, frames

    def num_tracks(self) -> int:
        return len(self.frames)

    def track_length(self, track: int) -> int:
        return len(self.frames[track])

    def video_of(self, track: int) -> int:
        return track

    def frame(self, track: int, index: int) -> Frame:
        return self.frames[track][index]


def as_511_crop(frame: Frame) -> Frame:
    """The frame as a release-style stored crop: 511x511 context region centred on the object."""
    window = CropWindow.around_box(frame.box_xyxy, 511, 0.5, 511 / 127)
    mean = frame.image.reshape(-1, 3).mean(0)
    return Frame(window.crop(frame.image, tuple(mean)), window.box_to_crop(frame.box_xyxy), window.crop(frame.mask))


def rate(work: Callable[[int], object], count: int, repeats: int) -> float:
    """Median items per second of ``work(i)`` for i in range(count)."""
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for i in range(count):
            work(i)
        rates.append(count / (time.perf_counter() - start))
    return statistics.median(rates)


def loader_rate(num_workers: int, batches: int, batch_size: int) -> float:
    """Samples per second through PairDataModule's train loader (synthetic source, release augmentation)."""
    datamodule = PairDataModule([{"source": SyntheticVideos(num_videos=2000, seed=0), "frame_range": 20}],
                                batch_size=batch_size, num_workers=num_workers, seed=0, sampler=SAMPLER)
    iterator = iter(datamodule.train_dataloader())
    next(iterator)  # worker start-up is not throughput
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * batch_size / (time.perf_counter() - start)


@command("benchmark_data")
def main(cfg: DictConfig) -> None:
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    n, repeats = int(cfg.samples), int(cfg.repeats)
    results: dict[str, float] = {}

    videos = SyntheticVideos(num_videos=2000, seed=0)
    rng = np.random.default_rng(0)
    picks = [(int(rng.integers(2000)), int(rng.integers(50))) for _ in range(n)]
    results["synthetic frames/s, random video (asset build each)"] = rate(
        lambda i: videos._render(*picks[i]), n, repeats)
    videos.render(0, 0)
    results["synthetic frames/s, one video (assets cached)"] = rate(lambda i: videos._render(0, i % 50), n, repeats)

    small = SyntheticVideos(num_videos=20, num_frames=20, seed=1)
    full_frames = [[small.frame(v, t) for t in range(20)] for v in range(20)]
    sources = {"320x240 frames": FramesInMemory(full_frames, "frames"),
               "511x511 stored crops": FramesInMemory([[as_511_crop(f) for f in v] for v in full_frames], "crops")}
    for label, source in sources.items():
        for augment in (True, False):
            sampler = PairSampler([SourceSpec(source, num_use=n, frame_range=20)], augment=augment, **SAMPLER)
            results[f"sampler alone samples/s, {label}, augment={augment}"] = rate(sampler.__getitem__, n, repeats)

    pairs = PairSampler([SourceSpec(videos, num_use=n, frame_range=20)], **SAMPLER)
    results["synthetic pairs/s, one process (render + sampler)"] = rate(pairs.__getitem__, n, repeats)

    for workers in cfg.workers:
        results[f"DataLoader samples/s, num_workers={workers}, batch {cfg.batch_size}"] = loader_rate(
            int(workers), int(cfg.batches), int(cfg.batch_size))

    print(json.dumps({"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
                      "results": {k: round(v, 1) for k, v in results.items()}}, indent=2))


if __name__ == "__main__":
    main()
