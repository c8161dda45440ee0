"""From a training run or an official weights file to a ready tracker: find the newest checkpoint, rebuild its
network, attach its anchors."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

import yaml

from siammask.checkpoints import load_trained
from siammask.tracking.tracker import Tracker
from siammask.tracking.tracker_config import TrackerConfig

DEFAULT_RUNS_DIR = "logs/train/runs"  # where train.py's default Hydra run directories go


def latest_checkpoint(runs_dir: str | Path = DEFAULT_RUNS_DIR) -> Path:
    """``checkpoints/last.ckpt`` of the newest ``make train`` run under ``runs_dir``: a run of the default task,
    i.e. whose ``.hydra/overrides.yaml`` lists no command-line override, so a quick test run
    (``++trainer.max_steps=2``) or an experiment on another backbone is never taken by accident."""
    runs_dir = Path(runs_dir).expanduser()
    candidates = list(runs_dir.glob("*/checkpoints/last.ckpt"))
    default = [c for c in candidates if _is_default_run(c.parent.parent)]
    if not default:
        others = f" ({len(candidates)} run(s) with command-line overrides are not taken)" if candidates else ""
        raise FileNotFoundError(f"no checkpoint of a `make train` run under {str(runs_dir)!r}{others}: train one "
                                f"with `make train`, or pass ckpt_path=<file>")
    return max(default, key=lambda p: p.stat().st_mtime)


def default_checkpoint(runs_dir: str | Path = DEFAULT_RUNS_DIR) -> Path:
    """:func:`latest_checkpoint`, announced on stderr: an entry point that picks a model by itself says which."""
    path = latest_checkpoint(runs_dir)
    print(f"ckpt_path not given: using the newest `make train` run's checkpoint\n    {path}\n"
          f"  (pass ckpt_path=<file> to choose another)", file=sys.stderr, flush=True)
    return path


def _is_default_run(run_dir: Path) -> bool:
    overrides = run_dir / ".hydra" / "overrides.yaml"
    try:
        return overrides.is_file() and not yaml.safe_load(overrides.read_text())
    except yaml.YAMLError:
        return False


def load_tracker(ckpt_path: str | Path, tracker_cfg: TrackerConfig | Mapping, device: str = "cpu",
                 backend: str = "pytorch", threads: int | None = None, onnx_dir: str | Path | None = None,
                 calibration: str | None = None, fold_batchnorm: bool = False,
                 channels_last: bool = False) -> Tracker:
    """A :class:`Tracker` on the network of a checkpoint of this project or an official release weights file
    (:func:`siammask.checkpoints.load_trained`, without Lightning).

    ``backend`` (:mod:`siammask.tracking.backends`): ``pytorch``, ``onnxruntime`` or ``onnxruntime_int8`` (graphs
    exported on first use beside the checkpoint, or read from ``onnx_dir``; int8 calibrated on ``calibration``:
    ``synthetic`` or a folder of frames). ``threads``: intra-op threads (None: one per core). ``fold_batchnorm`` /
    ``channels_last``: PyTorch inference rewrites (same outputs up to float rounding).
    """
    from siammask.tracking.backends import check_backend, runtime_network  # onnx only imported when chosen

    config = TrackerConfig.from_mapping(tracker_cfg)  # bad keys fail before the network is loaded
    check_backend(backend, device, calibration)  # as a missing onnxruntime or int8 without calibration frames
    trained, decoder = load_trained(ckpt_path, map_location=device)
    network = runtime_network(trained, ckpt_path, config, backend, threads, onnx_dir, calibration, fold_batchnorm,
                              channels_last)
    return Tracker(network, config, device, decoder=decoder)
