"""Per-frame tracking time on this CPU, split into crop / network / post-processing, for two networks.

    python scripts/benchmark_tracking.py [--frames-dir DIR] [--threads 2] [--json out.json]

Random weights (timing does not depend on them). Frames are decoded before timing; each stage is the
median over the tracked frames of :attr:`siammask.tracking.Tracker.timings`. The goal is crop +
post-processing <= 10% of the frame time. The machine is shared: run it when nothing else runs.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from siammask.config import register_resolvers
from siammask.geometry import xywh_to_xyxy
from siammask.models import SiamMask
from siammask.tracking import Tracker, TrackerConfig, open_frames

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FRAMES = ROOT.parent / "shared" / "data" / "tennis"
DEFAULT_BOX_XYWH = (305.0, 112.0, 163.0, 253.0)  # the player in tennis/00000.jpg
PAPER = ["model/backbone=paper_resnet50", "model.neck.out_channels=256", "model.head.hidden_channels=256"]

DEFAULT = "default (experiment=quick: regnetx_002, narrow heads, refine)"
# Networks as configured in conf/ (what train.py would build), so the figures follow the configs.
NETWORKS: dict[str, list[str]] = {
    "paper SiamMask-sharp (paper_resnet50, 256 wide, refine)": [*PAPER, "model/refine=sharp"],
    "paper SiamMask-base (paper_resnet50, 256 wide, no refine)": PAPER,
    DEFAULT: ["experiment=quick"],
}


def configured_network(overrides: list[str]) -> SiamMask:
    register_resolvers()
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    return instantiate(cfg.model).network


def time_network(network: SiamMask, frames: list, box_xywh: tuple[float, ...]) -> dict[str, float]:
    tracker = Tracker(network, TrackerConfig(), "cpu")
    tracker.init(frames[0], xywh_to_xyxy(box_xywh))
    stages: dict[str, list[float]] = {"crop": [], "network": [], "post": [], "total": []}
    for frame in frames[1:]:
        tracker.track(frame)
        t = tracker.timings
        for name, value in (("crop", t.crop), ("network", t.network), ("post", t.post),
                            ("total", t.crop + t.network + t.post)):
            stages[name].append(value)
    medians = {name: statistics.median(values) * 1000 for name, values in stages.items()}
    medians["fps"] = 1000 / medians["total"]
    medians["crop_post_share"] = (medians["crop"] + medians["post"]) / medians["total"]
    medians["frames"] = len(frames) - 1
    return medians


def markdown(rows: dict[str, dict[str, float]], threads: int) -> str:
    lines = [f"Tracking time per frame (median, ms), CPU, torch threads = {threads}, one target, random weights",
             "", "| network | crop | network | post | total | FPS | crop+post share |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['crop']:.2f} | {r['network']:.1f} | {r['post']:.2f} | {r['total']:.1f} | "
                     f"{r['fps']:.1f} | {100 * r['crop_post_share']:.1f}% |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames-dir", default=DEFAULT_FRAMES)
    parser.add_argument("--box", type=float, nargs=4, default=DEFAULT_BOX_XYWH, metavar=("X", "Y", "W", "H"),
                        help="target on the first frame, xywh image pixels")
    parser.add_argument("--max-frames", type=int, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    frames = list(open_frames(args.frames_dir))[:args.max_frames]
    if len(frames) < 2:
        raise SystemExit(f"{args.frames_dir} needs at least 2 frames")
    rows = {name: time_network(configured_network(overrides), frames, tuple(args.box))
            for name, overrides in NETWORKS.items()}
    print(markdown(rows, args.threads))
    if args.json is not None:
        payload = {"threads": args.threads, "frames_dir": str(args.frames_dir), "machine": platform.processor() or
                   platform.machine(), "torch": torch.__version__, "results_ms": rows}
        args.json.write_text(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()
