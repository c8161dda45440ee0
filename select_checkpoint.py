"""Score every per-epoch checkpoint of a training run on a benchmark and name the one that tracks best.

    python select_checkpoint.py run_dir=logs/train/runs/<run> benchmark=vot2018 benchmark.root=/data/VOT2018
    python select_checkpoint.py run_dir=<run> benchmark=davis2016 benchmark.root=/data/DAVIS

Writes selection.json (every checkpoint's summary, the metric, the best) and selection.md to the output folder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("PROJECT_ROOT", str(Path(__file__).resolve().parent))

import hydra
from omegaconf import DictConfig, OmegaConf

from siammask.evaluation.selection import epoch_checkpoints, score_tracker, selection_metric


def select(cfg: DictConfig) -> dict:
    from siammask.tracking import Tracker, load_tracker

    benchmark = OmegaConf.to_container(cfg.benchmark, resolve=True)
    protocol, metric = selection_metric(benchmark)  # before any tracking
    checkpoints = epoch_checkpoints(cfg.run_dir)
    videos = hydra.utils.instantiate(cfg.benchmark.generator) if cfg.benchmark.reader == "synthetic" else None
    out_dir = Path(cfg.output_dir)
    rows = []
    for ckpt in checkpoints:
        base = load_tracker(str(ckpt), cfg.tracker, cfg.device)

        def make_tracker(base: Tracker = base) -> Tracker:  # one network, a fresh tracking state per tracker
            return Tracker(base.network, base.config, base.device, base.decoder)

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


@hydra.main(version_base="1.3", config_path="conf", config_name="select_checkpoint")
def main(cfg: DictConfig) -> None:
    select(cfg)


if __name__ == "__main__":
    main()
