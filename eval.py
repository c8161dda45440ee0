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

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from siammask.evaluation import Entry, claim_output_folder, datasets_for, run_benchmark, write_report
from siammask.hydra_glue import user_errors
from siammask.sweeps import objective, write_result


def tracker_entries(cfg: DictConfig, results_root: Path) -> tuple[list[Entry], dict[str, Any]]:
    """The trained tracker (then the checkpoint to compare with, and the static-box baseline if the benchmark asks
    for it), or saved results. Every entry is a row of the same tables and a curve of the same plots."""
    if cfg.results_dir:
        results_dir = Path(cfg.results_dir).expanduser()
        if not results_dir.is_dir():
            raise FileNotFoundError(f"results_dir {str(results_dir)!r} is not a folder: give the folder of saved "
                                    f"results (e.g. <eval run>/results/siammask)")
        return [Entry("results", results_dir)], {"results_dir": str(results_dir)}
    from siammask.evaluation.baselines import StaticBoxTracker
    from siammask.tracking import Tracker, default_checkpoint, load_tracker
    from siammask.tracking.backends import runtime_options

    def entry(name: str, ckpt: Path) -> Entry:
        base = load_tracker(str(ckpt), cfg.tracker, cfg.device, **runtime_options(cfg))

        def make_tracker() -> Tracker:  # one network, a fresh tracking state per tracker
            return Tracker(base.network, base.config, base.device, base.decoder)

        return Entry(name, results_root / name, make_tracker)

    ckpt = Path(cfg.ckpt_path) if cfg.ckpt_path else default_checkpoint(cfg.ckpt_runs_dir)
    entries = [entry("siammask", ckpt)]
    source = {"ckpt_path": str(ckpt)}
    if cfg.get("compare_ckpt_path"):
        entries.append(entry(cfg.compare_name, Path(cfg.compare_ckpt_path)))
        source[f"{cfg.compare_name}_ckpt_path"] = str(cfg.compare_ckpt_path)
    if cfg.benchmark.get("static_baseline", False):
        entries.append(Entry("static_box", results_root / "static_box", StaticBoxTracker))
    return entries, {**source, "tracker": OmegaConf.to_container(cfg.tracker, resolve=True)}


def evaluate(cfg: DictConfig) -> dict:
    out_dir = Path(cfg.output_dir)
    print(f"Output folder: {out_dir}", flush=True)
    datasets = datasets_for(cfg.benchmark)  # the benchmark's input is checked before any network loads
    entries, source = tracker_entries(cfg, out_dir / "results")
    claim_output_folder(out_dir, {"benchmark": OmegaConf.to_container(cfg.benchmark, resolve=True),
                                  "device": cfg.device, **source})
    results = run_benchmark(cfg.benchmark, entries, progress=cfg.progress, datasets=datasets)
    doc, table = write_report(out_dir, cfg.benchmark, source, results, main=entries[0].name)
    print(table)
    main_results = results[entries[0].name]
    if not any(result.per_sequence for result in main_results.values()):  # a table of dashes is no result
        failures = {f"{p}/{name}": why for p, result in main_results.items() for name, why in result.failures.items()}
        first, why = next(iter(failures.items()), ("-", "the benchmark lists no sequence"))
        raise ValueError(f"no sequence could be scored ({len(failures)} failures; the first, {first}: {why}); all are "
                         f"listed in {out_dir / 'metrics.json'}")
    print(f"Metrics: {out_dir / 'metrics.json'}, {out_dir / 'metrics.md'}; results: {out_dir / 'results'}", flush=True)
    return doc


def summary_metrics(doc: dict, protocols: list[str]) -> dict[str, float]:
    """The tracker's scalar summary per protocol as ``<protocol>/<key>`` (e.g. davis/J_mean, vot/eao)."""
    return {f"{protocol}/{key}": float(value) for protocol in protocols for key, value in doc[protocol].items()
            if isinstance(value, (int, float)) and not isinstance(value, bool) and key != "sequences"}


@hydra.main(version_base="1.3", config_path="conf", config_name="eval")
@user_errors
def main(cfg: DictConfig) -> float | None:
    """Returns ``optimized_metric`` (what a tracker sweep, hparams_search=tracker_optuna, optimises)."""
    try:
        doc = evaluate(cfg)
    except KeyboardInterrupt:
        overrides = [o for o in HydraConfig.get().overrides.task if not o.startswith("hydra.run.dir=")]
        command = shlex.join(["python", "eval.py", *overrides, f"hydra.run.dir={cfg.output_dir}"])
        print(f"\nStopped. Finished sequences are kept in {Path(cfg.output_dir) / 'results'}; "
              f"resume with: {command}", flush=True)
        raise SystemExit(130) from None
    metrics = summary_metrics(doc, list(cfg.benchmark.protocols))
    write_result(cfg.output_dir, metrics, cfg.get("optimized_metric"))
    return objective(metrics, cfg.get("optimized_metric"))


if __name__ == "__main__":
    main()
