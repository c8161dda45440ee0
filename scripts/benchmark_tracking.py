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
from collections.abc import Callable
from functools import partial
from pathlib import Path

import torch

from siammask.geometry import xywh_to_xyxy
from siammask.models import Adjust, PaperResNet50, Refine, SiamMask, TimmBackbone, XCorrHead, build_siammask
from siammask.tracking import Tracker, TrackerConfig, open_frames

DEFAULT_FRAMES = "/work/shared/data/tennis"
DEFAULT_BOX_XYWH = (305.0, 112.0, 163.0, 253.0)  # the player in tennis/00000.jpg
LIGHT_WIDTH = 64  # neck and head width of the light network


def paper_network() -> SiamMask:
    """The paper's SiamMask-sharp: release ResNet-50, 256-wide heads, refine module."""
    return build_siammask(PaperResNet50(), partial(Adjust), partial(XCorrHead), partial(XCorrHead),
                          box_head=partial(XCorrHead), refine=partial(Refine))


def light_network() -> SiamMask:
    """resnet18 up to its stride-8 stage (conf/model/backbone/resnet18_light.yaml) with narrow heads, no refine."""
    heads = partial(XCorrHead, hidden_channels=LIGHT_WIDTH)
    return build_siammask(TimmBackbone("resnet18", out_indices=(0, 1, 2)),
                          partial(Adjust, out_channels=LIGHT_WIDTH), heads, heads, box_head=heads)


NETWORKS: dict[str, Callable[[], SiamMask]] = {
    "paper (ResNet-50 + refine)": paper_network,
    "light (resnet18 s8, 64-wide, no refine)": light_network,
}


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
    rows = {name: time_network(build(), frames, tuple(args.box)) for name, build in NETWORKS.items()}
    print(markdown(rows, args.threads))
    if args.json is not None:
        payload = {"threads": args.threads, "frames_dir": args.frames_dir, "machine": platform.processor() or
                   platform.machine(), "torch": torch.__version__, "results_ms": rows}
        args.json.write_text(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()
