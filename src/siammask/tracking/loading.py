"""From a training run or an official weights file to a ready tracker: find the newest checkpoint, rebuild its
network, attach its anchors."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from siammask.tracking.config import TrackerConfig
from siammask.tracking.tracker import Tracker

DEFAULT_RUNS_DIR = "logs/train/runs"  # where train.py's default Hydra run directories go


def latest_checkpoint(runs_dir: str | Path = DEFAULT_RUNS_DIR) -> Path:
    """The most recently written ``<run>/checkpoints/last.ckpt`` under ``runs_dir``."""
    runs_dir = Path(runs_dir).expanduser()
    candidates = list(runs_dir.glob("*/checkpoints/last.ckpt"))
    if not candidates:
        raise FileNotFoundError(f"no <run>/checkpoints/last.ckpt under {str(runs_dir)!r}: train one with "
                                f"`make train`, or pass ckpt_path=<file>")
    return max(candidates, key=lambda p: p.stat().st_mtime)


def load_tracker(ckpt_path: str | Path, tracker_cfg: TrackerConfig | Mapping, device: str = "cpu") -> Tracker:
    """A :class:`Tracker` on the network of a checkpoint of this project or an official release weights file
    (``siammask.lit.checkpoint.load_trained``, which needs Hydra but not Lightning)."""
    from siammask.lit.checkpoint import load_trained  # imported when used: it composes configs with Hydra

    config = TrackerConfig.from_mapping(tracker_cfg)  # bad keys fail before the network is loaded
    network, anchors = load_trained(ckpt_path, map_location=device)
    return Tracker(network, config, device, anchors=anchors)
