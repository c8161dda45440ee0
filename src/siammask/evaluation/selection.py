"""Choosing the training epoch that tracks best, as the release does (foolwood/SiamMask README: test every epoch's
snapshot on VOT2018 with ``test_all.sh``, keep the best, e.g. ``checkpoint_e12.pth`` for the base model).

The per-pair training loss says little about tracking; the selection score is the benchmark's headline metric.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from siammask.evaluation.benchmark import Entry, run_benchmark
from siammask.evaluation.protocols import PROTOCOLS, ProtocolResult, protocol_class

EPOCH_PATTERN = "epoch_*.ckpt"  # conf/callbacks/epoch_checkpoints.yaml
RUN_CONFIG = Path(".hydra") / "config.yaml"  # where Hydra keeps a train.py run's composed config


def selection_metric(benchmark: Mapping[str, Any]) -> tuple[str, str]:
    """(protocol, metric) that ranks checkpoints on ``benchmark``: its first protocol with a headline metric (VOT
    EAO, OTB success AUC, DAVIS J&F mean; YouTube-VOS has no public ground truth)."""
    for protocol in benchmark["protocols"]:
        headline = protocol_class(protocol, benchmark["name"]).headline
        if headline is not None:
            return protocol, headline
    ranked = sorted(name for name, protocol in PROTOCOLS.items() if protocol.headline is not None)
    raise ValueError(f"benchmark {benchmark['name']!r} has no protocol with ground truth to select by "
                     f"(protocols {list(benchmark['protocols'])}; known: {ranked})")


def selection_score(benchmark: Mapping[str, Any], results: Mapping[str, ProtocolResult]) -> float:
    protocol, metric = selection_metric(benchmark)
    return float(results[protocol].summary[metric])


def score_tracker(benchmark: Mapping[str, Any], make_tracker: Callable[[], Any], results_dir: Path,
                  synthetic_videos: Any = None, progress: bool = False) -> dict[str, ProtocolResult]:
    """Every protocol of ``benchmark`` for one tracker, its result files written under ``results_dir``."""
    entry = Entry("siammask", Path(results_dir), make_tracker)
    return run_benchmark(benchmark, [entry], synthetic_videos, progress=progress)["siammask"]


def epoch_checkpoints(run_dir: str | Path) -> list[Path]:
    """A training run's per-epoch checkpoints (``<run>/checkpoints/epoch_*.ckpt``, or ``epoch_*.ckpt`` in
    ``run_dir`` itself), in epoch order."""
    run_dir = Path(run_dir).expanduser()
    found = sorted((run_dir / "checkpoints").glob(EPOCH_PATTERN)) or sorted(run_dir.glob(EPOCH_PATTERN))
    if not found:
        raise FileNotFoundError(f"no {EPOCH_PATTERN} in {str(run_dir)!r} or its checkpoints/ folder: train with "
                                f"per-epoch checkpoints (the paper experiments keep them, "
                                f"conf/callbacks/epoch_checkpoints.yaml)")
    return found


def recorded_selection_tracker(run_dir: str | Path) -> str | None:
    """The tracker preset a training run asks its checkpoints to be selected with (train.yaml
    ``selection_tracker``, set by the paper experiments), from the run's Hydra config; None if the run records none
    (or ``run_dir`` is a bare folder of checkpoints)."""
    run_dir = Path(run_dir).expanduser()
    for folder in (run_dir, run_dir.parent):
        if (folder / RUN_CONFIG).is_file():
            run_config = OmegaConf.load(folder / RUN_CONFIG)
            preset = run_config.get("selection_tracker") if isinstance(run_config, DictConfig) else None
            return None if preset is None else str(preset)
    return None
