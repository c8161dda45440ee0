"""Sweep results: each run's objective and metrics, and the summary of a Hydra multirun folder.

    python -m siammask.sweeps folder=logs/train/multiruns/<time>  # summary.csv, summary.md, summary.png there

train.py and eval.py write ``result.json`` into every run folder (:func:`write_result`); the summary reads it with
the run's ``.hydra/overrides.yaml``. The Hydra callback :class:`SweepSummary` (conf/hydra/default.yaml) prints the
summary when a multirun ends. A sweep over ``tracker.*`` keys (eval.py) also gets ``best_tracker.yaml``: the best
run's tracker preset, ready to copy to ``conf/tracker/<name>.yaml``.
"""

from __future__ import annotations

import csv
import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from siammask.command import command

RESULT_FILE = "result.json"
SUMMARY_FILES = ("summary.csv", "summary.md", "summary.png")
log = logging.getLogger(__name__)


class MissingObjectiveError(ValueError):
    """The configured ``optimized_metric`` is not among the metrics of a sweep's run: a user error (one line)."""


def objective(metrics: Mapping[str, float], name: str | None, sweep: bool = True) -> float | None:
    """The value a sweeper optimises: ``metrics[name]``. Only a sweep needs it: there a missing one is an error
    naming the metrics that exist; a single run (``sweep=False``) that did not log it (e.g. ``train/mask_iou`` on
    box-only data) says so in a warning and returns None."""
    if not name:
        return None
    if name not in metrics:
        message = (f"optimized_metric={name!r} is not among this run's metrics: {sorted(metrics) or 'none'}. Choose "
                   f"one of them (optimized_metric=<name>), or add what logs it (val/track_* come from "
                   f"callbacks/tracking_validation)")
        if sweep:
            raise MissingObjectiveError(message)
        log.warning("%s; only a sweep (-m) optimises it, so this run ends normally", message)
        return None
    return float(metrics[name])


def write_result(run_dir: str | Path, metrics: Mapping[str, float], objective_name: str | None) -> Path:
    """``<run_dir>/result.json``: the objective's name and value and every final scalar metric."""
    scalars = {k: float(v) for k, v in metrics.items()}
    path = Path(run_dir) / RESULT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    value = scalars.get(objective_name) if objective_name else None
    path.write_text(json.dumps({"objective": objective_name, "value": value, "metrics": scalars}, indent=2) + "\n")
    return path


@dataclass
class Run:
    job: str
    overrides: list[str]
    metrics: dict[str, float] = field(default_factory=dict)
    objective: str | None = None
    finished: bool = False

    @property
    def params(self) -> dict[str, str]:
        return dict(o.lstrip("+").split("=", 1) for o in self.overrides if "=" in o)

    @property
    def value(self) -> float | None:
        value = self.metrics.get(self.objective) if self.objective else None
        return None if value is None or math.isnan(value) else value


@dataclass
class Summary:
    runs: list[Run]
    objective: str | None
    direction: str
    swept: list[str]

    @property
    def best(self) -> Run | None:
        scored = [(r.value, r) for r in self.runs if r.value is not None]
        if not scored:
            return None
        return (max if self.direction == "maximize" else min)(scored, key=lambda pair: pair[0])[1]


def read_sweep(folder: str | Path, direction: str | None = None) -> Summary:
    """Every job folder (``<n>/.hydra/overrides.yaml``) of a multirun, with its result if it finished."""
    folder = Path(folder)
    jobs = sorted((p.parent.parent for p in folder.glob("*/.hydra/overrides.yaml")),
                  key=lambda p: (not p.name.isdigit(), int(p.name) if p.name.isdigit() else 0, p.name))
    if not jobs:
        raise FileNotFoundError(f"{folder} holds no Hydra job folders (<n>/.hydra/overrides.yaml): pass a multirun "
                                f"folder such as logs/train/multiruns/<time>")
    runs = []
    for job in jobs:
        run = Run(job.name, [str(o) for o in yaml.safe_load((job / ".hydra/overrides.yaml").read_text()) or []])
        if (job / RESULT_FILE).is_file():
            result = json.loads((job / RESULT_FILE).read_text())
            run.metrics, run.objective, run.finished = result["metrics"], result.get("objective"), True
        runs.append(run)
    objectives = {r.objective for r in runs if r.objective}
    name = objectives.pop() if len(objectives) == 1 else None
    for run in runs:
        run.objective = name
    keys = list(dict.fromkeys(k for r in runs for k in r.params))
    swept = [k for k in keys if len({r.params.get(k) for r in runs}) > 1]
    return Summary(runs, name, direction or _direction(folder), swept)


def _direction(folder: Path) -> str:
    """The sweeper's direction from multirun.yaml (Optuna), else maximize (J, EAO, IoU: higher is better)."""
    multirun = folder / "multirun.yaml"
    if multirun.is_file():
        sweeper = (yaml.safe_load(multirun.read_text()) or {}).get("hydra", {}).get("sweeper", {})
        if str(sweeper.get("direction", "")).lower().endswith("minimize"):
            return "minimize"
    return "maximize"


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else ("" if value is None else str(value))


def _fmt_value(value: str) -> str:
    """An override's value for the Markdown table: numbers to 4 significant digits (the CSV keeps them whole)."""
    return _fmt(float(value)) if _is_number(value) and not value.isdigit() else value


def write_summary(folder: str | Path, direction: str | None = None) -> tuple[Summary, str]:
    """Write summary.csv, summary.md and summary.png (objective against each swept parameter) into ``folder``;
    return the summary and the Markdown text. A tracker sweep also gets best_tracker.yaml."""
    folder = Path(folder)
    summary = read_sweep(folder, direction)
    metric_names = sorted({k for r in summary.runs for k in r.metrics})
    header = ["job", *summary.swept, "objective", "finished", *metric_names, "overrides"]
    rows = [[r.job, *(r.params.get(k, "") for k in summary.swept), r.value, r.finished,
             *(r.metrics.get(m) for m in metric_names), " ".join(r.overrides)] for r in summary.runs]
    with open(folder / "summary.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([header, *rows])
    best = summary.best
    common = [o for o in summary.runs[0].overrides if all(o in r.overrides for r in summary.runs)]
    lines = [f"# Sweep {folder}", "",
             (f"Objective: `{summary.objective}` ({summary.direction}); "
              f"{sum(r.finished for r in summary.runs)} of {len(summary.runs)} runs finished."),
             f"Overrides of every run: `{' '.join(common)}`", ""]
    if best is not None:
        chosen = ", ".join(f"{k}={_fmt_value(best.params.get(k, ''))}" for k in summary.swept)
        lines += [f"Best run: **{best.job}** ({folder / best.job}), {summary.objective} = {best.value:.4g}: {chosen}", ""]
    md_header = ["job", *summary.swept, "objective", *metric_names]
    md_rows = [[r.job, *(_fmt_value(r.params.get(k, "")) for k in summary.swept),
                _fmt(r.value) if r.finished else "not finished", *(_fmt(r.metrics.get(m)) for m in metric_names)]
               for r in summary.runs]
    lines += ["| " + " | ".join(md_header) + " |", "|" + "---|" * len(md_header),
              *("| " + " | ".join(row) + " |" for row in md_rows), ""]
    if best is not None and (folder / best.job / ".hydra/config.yaml").is_file() and any(
            k.startswith("tracker.") for k in summary.swept):
        lines += [f"Best tracker preset: `{_write_best_tracker(folder, best, summary)}`", ""]
    if summary.objective and summary.swept:
        _plot(folder / "summary.png", summary)
    text = "\n".join(lines)
    (folder / "summary.md").write_text(text)
    return summary, text


def _write_best_tracker(folder: Path, best: Run, summary: Summary) -> Path:
    config = yaml.safe_load((folder / best.job / ".hydra/config.yaml").read_text())
    path = folder / "best_tracker.yaml"
    comment = (f"# Tracker preset of the best run ({best.job}, {summary.objective} = {best.value:.4g}) of the sweep\n"
               f"# {folder}. Use it: cp {path} conf/tracker/<name>.yaml; python eval.py tracker=<name>\n")
    path.write_text(comment + yaml.safe_dump(config["tracker"], sort_keys=False))
    return path


def _plot(path: Path, summary: Summary) -> None:
    """One panel per swept parameter: the objective of every finished run against the parameter's value."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4 * len(summary.swept), 3.2), layout="constrained")
    axes = figure.subplots(1, len(summary.swept), squeeze=False)[0]
    runs = [r for r in summary.runs if r.value is not None]
    for ax, key in zip(axes, summary.swept):
        values = [r.params.get(key, "") for r in runs]
        numeric = all(_is_number(v) for v in values)
        if numeric:
            ax.scatter([float(v) for v in values], [r.value for r in runs])
            if all(float(v) > 0 for v in values) and max(float(v) for v in values) > 10 * min(float(v) for v in values):
                ax.set_xscale("log")
        else:
            labels = sorted(set(values))
            ax.scatter([labels.index(v) for v in values], [r.value for r in runs])
            ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
        if summary.best is not None and summary.best in runs:
            best_value = summary.best.params.get(key, "")
            ax.scatter([float(best_value) if numeric else sorted(set(values)).index(best_value)], [summary.best.value],
                       marker="*", s=150, color="tab:red", label="best")
            ax.legend(loc="best")
        ax.set_xlabel(key)
        ax.set_ylabel(summary.objective)
        ax.grid(alpha=0.3)
    figure.savefig(path, dpi=100)


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


class SweepSummary(Callback):
    """Hydra callback (conf/hydra/default.yaml): when a multirun ends, write and print its summary."""

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        folder = Path(config.hydra.sweep.dir)
        direction = config.hydra.sweeper.get("direction")  # Optuna's; the basic sweeper has none
        _, text = write_summary(folder, str(direction).rsplit(".", 1)[-1] if direction else None)
        print(f"\n{text}\nSweep summary: {_written(folder)}")


def _written(folder: Path) -> str:
    return ", ".join(str(folder / name) for name in SUMMARY_FILES if (folder / name).is_file())


@command("sweep_summary")
def main(cfg: DictConfig) -> None:
    folder = Path(cfg.folder)
    if cfg.direction not in (None, "maximize", "minimize"):
        raise ValueError(f"direction={cfg.direction!r}: choose maximize or minimize")
    _, text = write_summary(folder, cfg.direction)
    print(f"{text}\nWritten: {_written(folder)}")  # the command's product


if __name__ == "__main__":
    main()
