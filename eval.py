"""Evaluate a tracker on a benchmark (or score saved results); writes metrics.json, metrics.md and plots.

    python eval.py                                          # newest training, synthetic, + static-box baseline
    python eval.py benchmark=vot2018 benchmark.root=/data/VOT2018 ckpt_path=model.ckpt
    python eval.py benchmark=davis2017 benchmark.root=/data/DAVIS results_dir=/runs/davis   # score PNGs
    python eval.py hydra.run.dir=<its output folder>       # resume a stopped run: finished sequences are kept
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any

os.environ.setdefault("PROJECT_ROOT", str(Path(__file__).resolve().parent))

import hydra  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from omegaconf import DictConfig, OmegaConf  # noqa: E402

from siammask.evaluation import Entry, claim_output_folder, run_benchmark, write_report  # noqa: E402


def tracker_entries(cfg: DictConfig, results_root: Path) -> tuple[list[Entry], dict[str, Any]]:
    """The trained tracker (and the static-box baseline if the benchmark asks for it), or saved results."""
    if cfg.results_dir:
        return [Entry("results", Path(cfg.results_dir))], {"results_dir": str(cfg.results_dir)}
    from siammask.evaluation.baselines import StaticBoxTracker
    from siammask.tracking import Tracker, latest_checkpoint, load_tracker

    ckpt = Path(cfg.ckpt_path) if cfg.ckpt_path else latest_checkpoint(cfg.ckpt_runs_dir)
    base = load_tracker(str(ckpt), cfg.tracker, cfg.device)

    def make_tracker() -> Tracker:  # one network, a fresh tracking state per tracker
        return Tracker(base.network, base.config, base.device, base.anchors)

    entries = [Entry("siammask", results_root / "siammask", make_tracker)]
    if cfg.benchmark.get("static_baseline", False):
        entries.append(Entry("static_box", results_root / "static_box", StaticBoxTracker))
    return entries, {"ckpt_path": str(ckpt), "tracker": OmegaConf.to_container(cfg.tracker, resolve=True)}


def evaluate(cfg: DictConfig) -> dict:
    out_dir = Path(cfg.output_dir)
    print(f"Output folder: {out_dir}", flush=True)
    entries, source = tracker_entries(cfg, out_dir / "results")
    claim_output_folder(out_dir, {"benchmark": OmegaConf.to_container(cfg.benchmark, resolve=True),
                                  "device": cfg.device, **source})
    videos = hydra.utils.instantiate(cfg.benchmark.generator) if cfg.benchmark.reader == "synthetic" else None
    results = run_benchmark(cfg.benchmark, entries, videos, progress=cfg.progress)
    doc, table = write_report(out_dir, cfg.benchmark, source, results, main=entries[0].name)
    print(table)
    print(f"Metrics: {out_dir / 'metrics.json'}, {out_dir / 'metrics.md'}; results: {out_dir / 'results'}", flush=True)
    return doc


@hydra.main(version_base="1.3", config_path="conf", config_name="eval")
def main(cfg: DictConfig) -> None:
    try:
        evaluate(cfg)
    except KeyboardInterrupt:
        overrides = [o for o in HydraConfig.get().overrides.task if not o.startswith("hydra.run.dir=")]
        command = shlex.join(["python", "eval.py", *overrides, f"hydra.run.dir={cfg.output_dir}"])
        print(f"\nStopped. Finished sequences are kept in {Path(cfg.output_dir) / 'results'}; "
              f"resume with: {command}", flush=True)
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
