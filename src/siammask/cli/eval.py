"""Evaluate a tracker on a benchmark (or score saved results); writes metrics.json, metrics.md and plots.

    python eval.py                                          # newest training, synthetic, + static-box baseline
    siammask-eval ckpt_path=model.ckpt benchmark.num_videos=2   # the console command, from any folder
    python eval.py benchmark=vot2018 benchmark.root=/data/VOT2018 ckpt_path=model.ckpt
    python eval.py benchmark=davis2017 benchmark.root=/data/DAVIS results_dir=/runs/davis   # score PNGs
    python eval.py benchmark=lasot benchmark.root=/data/LaSOT ckpt_path=model.ckpt compare_dir=/raw_results/lasot
    python eval.py hydra.run.dir=<its output folder>       # resume a stopped run: finished sequences are kept
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from siammask.command import check_writable, command, command_line
from siammask.evaluation import Entry, claim_output_folder, datasets_for, run_benchmark, write_report
from siammask.hydra_glue import is_multirun, runtime_options
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
    from siammask.tracking import default_checkpoint, load_tracker

    def entry(name: str, ckpt: Path) -> Entry:
        return Entry(name, results_root / name, load_tracker(str(ckpt), cfg.tracker, cfg.device,
                                                             **runtime_options(cfg)).fresh)

    ckpt = Path(cfg.ckpt_path) if cfg.ckpt_path else default_checkpoint(cfg.ckpt_runs_dir)
    entries = [entry("siammask", ckpt)]
    source = {"ckpt_path": str(ckpt)}
    for number, run_ckpt in enumerate(cfg.get("run_ckpt_paths") or [], start=2):  # more runs of the same recipe
        entries.append(entry(f"siammask_run{number}", Path(run_ckpt)))
        source[f"siammask_run{number}_ckpt_path"] = str(run_ckpt)
    if cfg.get("compare_ckpt_path"):
        entries.append(entry(cfg.compare_name, Path(cfg.compare_ckpt_path)))
        source[f"{cfg.compare_name}_ckpt_path"] = str(cfg.compare_ckpt_path)
    if cfg.benchmark.get("static_baseline", False):
        entries.append(Entry("static_box", results_root / "static_box", StaticBoxTracker))
    return entries, {**source, "tracker": OmegaConf.to_container(cfg.tracker, resolve=True)}


def compare_entries(cfg: DictConfig) -> list[Entry]:
    """Other trackers' saved results, one subfolder of ``compare_dir`` each (named by it), scored like ours."""
    if not cfg.get("compare_dir"):
        return []
    folder = Path(cfg.compare_dir).expanduser()
    trackers = sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    if not trackers:
        raise FileNotFoundError(f"compare_dir {str(folder)!r} has no subfolder: give a folder holding one folder of "
                                f"raw results per tracker (<compare_dir>/<tracker>/<seq>.txt ...)")
    return [Entry(p.name, p) for p in trackers]


def evaluate(cfg: DictConfig) -> dict:
    out_dir = check_writable(cfg.output_dir)  # before any network loads
    print(f"Output folder: {out_dir}", flush=True)
    datasets = datasets_for(cfg.benchmark)  # the benchmark's input is checked before any network loads
    others = compare_entries(cfg)
    entries, source = tracker_entries(cfg, out_dir / "results")
    clash = sorted({e.name for e in entries} & {e.name for e in others})
    if clash:
        raise ValueError(f"compare_dir {cfg.compare_dir!r} has folders named like our own entries {clash}: rename them")
    claim_output_folder(out_dir, {"benchmark": OmegaConf.to_container(cfg.benchmark, resolve=True),
                                  "device": cfg.device, **source})
    results = run_benchmark(cfg.benchmark, entries + others, progress=cfg.progress, datasets=datasets)
    runs = [e.name for e in entries if e.name == "siammask" or e.name.startswith("siammask_run")]
    doc, table = write_report(out_dir, cfg.benchmark, source, results, main=entries[0].name,
                              compare=[e.name for e in others], runs=runs)
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


@command("eval")
def main(cfg: DictConfig) -> float | None:
    """Returns ``optimized_metric`` (what a tracker sweep, hparams_search=tracker_optuna, optimises)."""
    try:
        doc = evaluate(cfg)
    except KeyboardInterrupt:
        overrides = [o for o in HydraConfig.get().overrides.task if not o.startswith("hydra.run.dir=")]
        resume = command_line([*overrides, f"hydra.run.dir={cfg.output_dir}"])
        print(f"\nStopped. Finished sequences are kept in {Path(cfg.output_dir) / 'results'}; "
              f"resume with: {resume}", flush=True)
        raise SystemExit(130) from None
    metrics = summary_metrics(doc, list(cfg.benchmark.protocols))
    write_result(cfg.output_dir, metrics, cfg.get("optimized_metric"))
    return objective(metrics, cfg.get("optimized_metric"), sweep=is_multirun())

