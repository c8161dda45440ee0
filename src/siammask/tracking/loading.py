"""From a training run or an official weights file to a ready tracker: find the newest checkpoint, rebuild its
network, attach its anchors."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from omegaconf import DictConfig, OmegaConf

from siammask.checkpoints import load_trained
from siammask.tracking.tracker import Tracker
from siammask.tracking.tracker_config import TrackerConfig

if TYPE_CHECKING:  # the ONNX backend is imported only when chosen
    from siammask.onnx.calibration import Calibration

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


def tracker_presets() -> list[str]:
    """The names of the shipped tracker presets (conf/tracker/*.yaml)."""
    folder = resources.files("siammask.conf").joinpath("tracker")
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def tracker_preset(name: str) -> dict[str, Any]:
    """The tracker preset ``conf/tracker/<name>.yaml`` as the entry configs compose it (``tracker=<name>``): the
    presets its defaults list extends, then its own values, with the paper crop (``conf/crop/paper.yaml``) in its
    ``${crop.*}`` values. Read from the installed package, without Hydra's global state, so a library call
    (:func:`load_tracker`) can name a preset inside a running Hydra application as well as in a notebook."""
    conf = resources.files("siammask.conf")
    if name not in tracker_presets():
        raise ValueError(f"no tracker preset {name!r}: choose one of {', '.join(tracker_presets())} (conf/tracker/)")

    def values(preset: str) -> Any:
        own = OmegaConf.create((conf / "tracker" / f"{preset}.yaml").read_text())
        assert isinstance(own, DictConfig)  # a preset is a mapping
        defaults = own.pop("defaults", ["_self_"])
        return OmegaConf.merge(*(own if entry == "_self_" else values(entry) for entry in defaults))

    crop = OmegaConf.create((conf / "crop" / "paper.yaml").read_text())
    tree = OmegaConf.create({"crop": crop, "tracker": values(name)})
    preset = OmegaConf.to_container(tree.tracker, resolve=True)
    assert isinstance(preset, dict)  # a YAML mapping
    return {str(key): value for key, value in preset.items()}


def load_tracker(ckpt_path: str | Path, tracker_cfg: TrackerConfig | Mapping | str, device: str = "cpu",
                 backend: str = "pytorch", threads: int | None = None, onnx_dir: str | Path | None = None,
                 calibration: Calibration | None = None, fold_batchnorm: bool = False,
                 channels_last: bool = False, precision: str = "fp32") -> Tracker:
    """A :class:`Tracker` on the network of a checkpoint of this project or an official release weights file
    (:func:`siammask.checkpoints.load_trained`, without Lightning).

    ``tracker_cfg``: a preset's name (``"davis"``, ``"vot"``, ...: :func:`tracker_preset`), a composed preset
    (``cfg.tracker``) or a :class:`TrackerConfig`. An empty mapping is refused: it would track with none of the
    presets' settings without saying so.

    ``backend`` (:mod:`siammask.tracking.backends`): ``pytorch``, ``onnxruntime`` or ``onnxruntime_int8`` (graphs
    exported on first use beside the checkpoint, or read from ``onnx_dir``; int8 calibrated on the ``calibration``
    frames handed in: :func:`siammask.onnx.folder_calibration` of the user's frames, or the synthetic videos'
    :func:`siammask.datamodules.synthetic.synthetic_calibration`). ``threads``: intra-op threads (None: one per core). ``fold_batchnorm`` /
    ``channels_last``: PyTorch inference rewrites (same outputs up to float rounding). ``precision``: ``fp32``,
    ``bf16`` (backend ``pytorch``: the network in bf16, the tracker's arithmetic in fp32) or ``auto`` (bf16 where
    this machine measured its bf16 convolutions faster, :mod:`siammask.precision`; fp32 with
    ``geometry=release``, whose purpose is equality with the release).
    """
    from siammask.tracking.backends import check_backend, runtime_network  # onnx only imported when chosen

    if isinstance(tracker_cfg, str):
        tracker_cfg = tracker_preset(tracker_cfg)
    elif not isinstance(tracker_cfg, TrackerConfig) and not tracker_cfg:
        raise ValueError(f"tracker_cfg is empty: name a preset (load_tracker(ckpt, \"davis\"); one of "
                         f"{', '.join(tracker_presets())}) or pass its values (a composed config's .tracker)")
    config = TrackerConfig.from_mapping(tracker_cfg)  # bad keys fail before the network is loaded
    check_backend(backend, device, calibration)  # as a missing onnxruntime or int8 without calibration frames
    trained, decoder = load_trained(ckpt_path, map_location=device)
    network = runtime_network(trained, ckpt_path, config, backend, threads, onnx_dir, calibration, fold_batchnorm,
                              channels_last, precision, device)
    return Tracker(network, config, device, decoder=decoder)
