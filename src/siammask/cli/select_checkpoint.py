"""Score every per-epoch checkpoint of a training run on a benchmark and name the one that tracks best.

    python select_checkpoint.py run_dir=logs/train/runs/<run> benchmark=vot2018 benchmark.root=/data/VOT2018
    python select_checkpoint.py run_dir=<run> benchmark=davis2016 benchmark.root=/data/DAVIS
    siammask-select-checkpoint run_dir=<run> ...   # the console command, from any folder

Writes selection.json (every checkpoint's summary, the metric, the best) and selection.md to the output folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import hydra
from omegaconf import DictConfig, OmegaConf

from siammask.command import command
from siammask.evaluation.selection import epoch_checkpoints, score_tracker, selection_metric


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
           "best_score": best["score"], "checkpoints": rows,
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


@command("select_checkpoint")
def main(cfg: DictConfig) -> None:
    select(cfg)

