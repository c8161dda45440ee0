"""Score every per-epoch checkpoint of a training run on a benchmark and name the one that tracks best.

    python select_checkpoint.py run_dir=logs/train/runs/<run> benchmark=vot2018 benchmark.root=/data/VOT2018
    python select_checkpoint.py run_dir=<run> benchmark=davis2016 benchmark.root=/data/DAVIS
    siammask-select-checkpoint run_dir=<run> ...   # the console command, from any folder

Writes selection.json (every checkpoint's summary, the metric, the best) and selection.md to the output folder.
The tracker preset is the command line's ``tracker=``, else the one the run records (``selection_tracker``: the
paper experiments select as the release does, the base stage with its tracker defaults, the sharp one with
config_vot18.json), else select_checkpoint.yaml's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, open_dict

from siammask.command import command
from siammask.evaluation.selection import (
    epoch_checkpoints,
    recorded_selection_tracker,
    score_tracker,
    selection_metric,
)


def select(cfg: DictConfig) -> dict:
    from siammask.tracking import load_tracker

    benchmark = cast(dict[str, Any], OmegaConf.to_container(cfg.benchmark, resolve=True))
    protocol, metric = selection_metric(benchmark)  # before any tracking
    checkpoints = epoch_checkpoints(cfg.run_dir)
    videos = hydra.utils.instantiate(cfg.benchmark.generator) if cfg.benchmark.reader == "synthetic" else None
    out_dir = Path(cfg.output_dir)
    rows: list[dict[str, Any]] = []
    for ckpt in checkpoints:
        make_tracker = load_tracker(str(ckpt), cfg.tracker, cfg.device).fresh  # one network, a fresh state each
        results = score_tracker(benchmark, make_tracker, out_dir / "results" / ckpt.stem, videos, cfg.progress)
        summary = {p: {k: v for k, v in r.summary.items() if isinstance(v, (int, float))} for p, r in results.items()}
        rows.append({"checkpoint": str(ckpt), "score": summary[protocol][metric], "summary": summary})
        print(f"{ckpt.name}: {protocol} {metric} {summary[protocol][metric]:.4f}", flush=True)
    best = max(rows, key=lambda row: row["score"])
    doc = {"benchmark": benchmark["name"], "metric": f"{protocol}/{metric}", "best": best["checkpoint"],
           "best_score": best["score"], "checkpoints": rows, "tracker_preset": cfg.get("tracker_preset"),
           "tracker": OmegaConf.to_container(cfg.tracker, resolve=True)}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "selection.json").write_text(json.dumps(doc, indent=2))
    table = "\n".join([f"| checkpoint | {benchmark['name']} {protocol} {metric} |", "|---|---|",
                       *(f"| {Path(r['checkpoint']).name}{' (best)' if r is best else ''} | {r['score']:.4f} |"
                         for r in rows)])
    (out_dir / "selection.md").write_text(table + "\n")
    print(table)
    print(f"best: {best['checkpoint']} ({protocol} {metric} {best['score']:.4f})")
    return doc


def with_run_tracker(cfg: DictConfig, overrides: list[str]) -> DictConfig:
    """``cfg`` with the tracker preset the run records (train.yaml ``selection_tracker``) unless ``overrides``
    (the command line) choose one; ``tracker.<key>=`` overrides still apply to it. Sets ``tracker_preset``."""
    chosen = next((o.split("=", 1)[1] for o in overrides if o.split("=", 1)[0].lstrip("+~") == "tracker"), None)
    recorded = None if chosen is not None else recorded_selection_tracker(cfg.run_dir)
    if recorded is not None:
        composed = hydra.compose("select_checkpoint", overrides=[*overrides, f"tracker={recorded}"])
        with open_dict(cfg):
            cfg.tracker = OmegaConf.create(OmegaConf.to_container(composed.tracker, resolve=True))
    preset = chosen or recorded or HydraConfig.get().runtime.choices["tracker"]
    source = "command line" if chosen else "the run's selection_tracker" if recorded else "select_checkpoint.yaml"
    print(f"tracker preset: {preset} ({source})", flush=True)
    with open_dict(cfg):
        cfg.tracker_preset = preset
    return cfg


@command("select_checkpoint")
def main(cfg: DictConfig) -> None:
    select(with_run_tracker(cfg, list(HydraConfig.get().overrides.task)))

