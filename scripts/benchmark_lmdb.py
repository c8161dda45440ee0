"""Training-pair throughput of one data-loading process: LMDB store vs the same crops as JPEG/PNG files.

    python scripts/benchmark_lmdb.py                    # tennis frames (../shared/data/tennis), 300 pairs x 7
    python scripts/benchmark_lmdb.py frames=path/to/jpegs samples=500 repeats=9   (conf/benchmark_lmdb.yaml)

Builds a custom-layout dataset from real frames (two boxed objects per frame, one with a mask),
prepares it into an LMDB store, and writes the very same 511x511 crops as files the way the release
stored them (``<video>/<frame>.<track>.x.jpg`` + ``.m.png``). Both go through the same
:class:`~siammask.datamodules.sampler.PairSampler` with the paper mixture's sampler settings
(conf/data/paper_mix.yaml: crop jitter, negatives, grey, colour, blur), one thread, one process:
the figure is what one DataLoader worker delivers. Reports the median over ``repeats``, and the
rate of ``frame()`` alone (decode); the two are measured in turn, repeat by repeat. Files are read
warm from the page cache, the case most favourable to files.
"""

from __future__ import annotations

import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from siammask.datamodules.lmdb_source import LmdbTrackSource
from siammask.datamodules.lmdb_store import open_env, record_key, split_record
from siammask.datamodules.prepare import prepare, resolve_config
from siammask.datamodules.sampler import PairSampler, SourceSpec
from siammask.datamodules.sources import Frame

from siammask.command import command


class CropFiles:
    """The release's storage: a JPEG (and PNG mask) file per crop, read with OpenCV; a store's index."""

    def __init__(self, store: LmdbTrackSource, folder: Path):
        self.name, self.has_masks, self.index = "files", store.has_masks, store.index
        self.num_tracks, self.track_length = store.num_tracks, store.track_length
        self.video_of = store.video_of
        self.folder = folder
        with open_env(store.path).begin(buffers=True) as txn:
            for position, record in enumerate(store.index.frame_record):
                _, jpeg, png = split_record(txn.get(record_key(int(record))))
                stem = self._stem(position)
                stem.parent.mkdir(parents=True, exist_ok=True)
                Path(f"{stem}.x.jpg").write_bytes(jpeg)  # the very bytes the store holds
                if png is not None:
                    Path(f"{stem}.m.png").write_bytes(png)

    def _stem(self, position: int) -> Path:
        track = np.searchsorted(self.index.track_start, position, side="right") - 1
        video = self.index.video_names[self.index.track_video[track]]
        return self.folder / str(video) / f"{position:06d}"

    def frame(self, track: int, index: int) -> Frame:
        position = int(self.index.track_start[track]) + index
        stem = self._stem(position)
        image = cv2.cvtColor(cv2.imread(f"{stem}.x.jpg", cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        mask = None
        if self.index.frame_has_mask[position]:
            mask = cv2.imread(f"{stem}.m.png", cv2.IMREAD_UNCHANGED)
        return Frame(image, self.index.frame_box_xyxy[position].astype(np.float64), mask)


def build_custom(frames_dir: Path, root: Path, max_frames: int) -> None:
    """Two videos of real frames, two objects per frame: a masked ellipse and a drifting box-only box."""
    images = sorted(frames_dir.glob("*.jpg"))[:max_frames]
    if len(images) < 2:
        raise SystemExit(f"need at least 2 *.jpg frames in {frames_dir}")
    half = len(images) // 2
    for name, part in (("first", images[:half]), ("second", images[half:])):
        video = root / name
        (video / "masks").mkdir(parents=True)
        lines = []
        for i, path in enumerate(part):
            image = cv2.imread(str(path))
            h, w = image.shape[:2]
            cv2.imwrite(str(video / f"{i:05d}.jpg"), image)
            mask = np.zeros((h, w), np.uint8)
            cv2.ellipse(mask, (w // 2, h // 2), (w // 10 + i % 7, h // 6), 0, 0, 360, 1, -1)
            cv2.imwrite(str(video / "masks" / f"{i:05d}.png"), mask)
            lines.append(f"{i:05d},2,{int(0.1 * w + 0.6 * w * i / len(part))},{h // 4},{w // 8},{h // 3}")
        (video / "boxes.txt").write_text("\n".join(lines) + "\n")


def pairs_per_second(sampler: PairSampler, samples: int, epoch: int) -> float:
    sampler.set_epoch(epoch)
    start = time.perf_counter()
    for index in range(samples):
        sampler[index % len(sampler)]
    return samples / (time.perf_counter() - start)


def frames_per_second(source, samples: int) -> float:
    refs = [(t, i) for t in range(source.num_tracks()) for i in range(source.track_length(t))]
    start = time.perf_counter()
    for k in range(samples):
        source.frame(*refs[k % len(refs)])
    return samples / (time.perf_counter() - start)


@command("benchmark_lmdb")
def main(cfg: DictConfig) -> None:
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    sampler_kwargs = OmegaConf.to_container(cfg.data.sampler, resolve=True)
    sampler_kwargs["samples_per_epoch"] = None

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        build_custom(Path(cfg.frames), tmp / "custom", int(cfg.max_frames))
        start = time.perf_counter()
        summary = prepare("custom", resolve_config("custom", {"root": str(tmp / "custom"), "out": str(tmp / "lmdb"),
                                                              "workers": 1}))
        prepare_rate = summary["frames"] / (time.perf_counter() - start)
        store = LmdbTrackSource(tmp / "lmdb")
        files = CropFiles(store, tmp / "crop511")
        results = {"machine": f"{platform.processor() or platform.machine()}, {platform.python_version()}",
                   "crops": summary["frames"], "prepare_crops_per_s_1_worker": round(prepare_rate, 1)}
        sources = {"lmdb": store, "files": files}
        samplers = {name: PairSampler([SourceSpec(source, num_use=-1, frame_range=20)], seed=0,
                                      **sampler_kwargs) for name, source in sources.items()}
        pairs: dict[str, list[float]] = {name: [] for name in sources}
        frames: dict[str, list[float]] = {name: [] for name in sources}
        for name in sources:  # warm-up: page cache, lazy imports
            pairs_per_second(samplers[name], 20, 0)
        for repeat in range(int(cfg.repeats)):  # interleaved, so that load from other processes hits both alike
            for name, source in sources.items():
                pairs[name].append(pairs_per_second(samplers[name], int(cfg.samples), repeat))
                frames[name].append(frames_per_second(source, int(cfg.samples)))
        for name in sources:
            results[name] = {"pairs_per_s_median": round(statistics.median(pairs[name]), 1),
                             "pairs_per_s_runs": [round(r, 1) for r in pairs[name]],
                             "frames_per_s_median": round(statistics.median(frames[name]), 1)}
    print(json.dumps(results, indent=2))
    if cfg.json:
        Path(cfg.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
