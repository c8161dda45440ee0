"""How far a backend's tracks are from PyTorch's on real frames: the same checkpoint, tracker defaults and first box,
tracked by each backend; per frame, the mask IoU and the box-corner distance against the PyTorch run.

    .venv/bin/python scripts/compare_backends.py --ckpt logs/train/runs/<run>/checkpoints/last.ckpt \\
        [--frames ../shared/data/tennis] [--box 305 112 163 253] [--backends onnxruntime onnxruntime_int8]

int8 graphs are calibrated on the synthetic videos (``calibration=synthetic``), not on the frames compared.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from siammask.evaluation.davis import region_similarity
from siammask.geometry import xywh_to_xyxy
from siammask.tracking import TrackerConfig, load_tracker, open_frames

ROOT = Path(__file__).resolve().parents[1]


def track(ckpt: Path, frames: list[np.ndarray], box_xywh: list[float], backend: str) -> list:
    """One backend's results on frames 1..n; ONNX graphs are exported into (or reused from) the checkpoint's cache."""
    tracker = load_tracker(ckpt, TrackerConfig(), backend=backend, threads=2,
                           calibration="synthetic" if backend == "onnxruntime_int8" else None)
    tracker.init(frames[0], xywh_to_xyxy(np.array(box_xywh)))
    return [tracker.track(frame)[0] for frame in frames[1:]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ckpt", type=Path, required=True)
    parser.add_argument("--frames", type=Path, default=ROOT.parent / "shared" / "data" / "tennis")
    parser.add_argument("--box", type=float, nargs=4, default=[305, 112, 163, 253], metavar=("X", "Y", "W", "H"))
    parser.add_argument("--backends", nargs="+", default=["onnxruntime", "onnxruntime_int8"])
    args = parser.parse_args()
    frames = list(open_frames(args.frames))
    reference = track(args.ckpt, frames, args.box, "pytorch")
    for backend in args.backends:
        results = track(args.ckpt, frames, args.box, backend)
        ious = [float(region_similarity(p.mask, r.mask)) for r, p in zip(results, reference)]
        corners = [float(np.abs(r.box_xyxy - p.box_xyxy).max()) for r, p in zip(results, reference)]
        print(f"{backend} vs pytorch over {len(ious)} frames: mask IoU mean {np.mean(ious):.3f} "
              f"(min {np.min(ious):.3f}); box corners median {np.median(corners):.2f} px "
              f"(max {np.max(corners):.2f} px)")


if __name__ == "__main__":
    main()
