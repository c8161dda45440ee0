"""How far a backend's tracks are from PyTorch's on real frames: the same checkpoint, tracker defaults and first box,
tracked by each backend; per frame, the mask IoU and the box-corner distance against the PyTorch run.

    .venv/bin/python scripts/compare_backends.py ckpt_path=logs/train/runs/<run>/checkpoints/last.ckpt \\
        [frames=../shared/data/tennis] [bbox=[305,112,163,253]] [backends=[onnxruntime,onnxruntime_int8]]

Options: conf/compare_backends.yaml.

int8 graphs are calibrated on the synthetic videos (``calibration=synthetic``), not on the frames compared.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from omegaconf import DictConfig
from siammask.datamodules.synthetic import synthetic_calibration

from siammask.command import command
from siammask.evaluation.davis import region_similarity
from siammask.geometry import xywh_to_xyxy
from siammask.tracking import TrackerConfig, load_tracker, open_frames


def track(ckpt: Path, frames: list[np.ndarray], box_xywh: list[float], backend: str, threads: int) -> list:
    """One backend's results on frames 1..n; ONNX graphs are exported into (or reused from) the checkpoint's cache.
    The tracker's code defaults (TrackerConfig(): the VOT preset's values, exact geometry)."""
    tracker = load_tracker(ckpt, TrackerConfig(), backend=backend, threads=threads,
                           calibration=synthetic_calibration() if backend == "onnxruntime_int8" else None)
    tracker.init(frames[0], xywh_to_xyxy(np.array(box_xywh)))
    return [tracker.track(frame)[0] for frame in frames[1:]]


@command("compare_backends")
def main(cfg: DictConfig) -> None:
    ckpt, box_xywh = Path(cfg.ckpt_path).expanduser(), [float(v) for v in cfg.bbox]
    frames = list(open_frames(cfg.frames))
    reference = track(ckpt, frames, box_xywh, "pytorch", cfg.threads)
    for backend in cfg.backends:
        results = track(ckpt, frames, box_xywh, backend, cfg.threads)
        ious = [float(region_similarity(p.mask, r.mask)) for r, p in zip(results, reference)]
        corners = [float(np.abs(r.box_xyxy - p.box_xyxy).max()) for r, p in zip(results, reference)]
        print(f"{backend} vs pytorch over {len(ious)} frames: mask IoU mean {np.mean(ious):.3f} "
              f"(min {np.min(ious):.3f}); box corners median {np.median(corners):.2f} px "
              f"(max {np.max(corners):.2f} px)")


if __name__ == "__main__":
    main()
