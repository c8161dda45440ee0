"""What a benchmark run leaves behind: ``metrics.json``, a readable ``metrics.md`` table, and PNG plots.

``metrics.json`` holds one section per protocol for the evaluated tracker (``vot``: eao, accuracy,
robustness, lost; ``otb``: success_auc, precision, norm_precision; ``davis``: J/F mean, recall, decay, JF_mean
and the J / F means' 95 % bootstrap intervals over sequences; ``ytvos``: what was written), each with
``per_sequence`` and ``failures`` (sequence -> reason), and the same for every baseline under ``baselines``.
NaN (nothing to average) is written as null.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from siammask.evaluation.benchmark import ProtocolResult
from siammask.evaluation.otb import CURVE_THRESHOLDS, NORM_PRECISION_AT, PRECISION_AT, SUMMARY_KEYS

Results = dict[str, dict[str, ProtocolResult]]  # entry name -> protocol -> result

_COLUMNS = {  # protocol -> (key, header) of the summary table
    "vot": [("eao", "EAO"), ("accuracy", "Accuracy"), ("robustness", "Robustness"), ("lost", "Lost")],
    "otb": [("success_auc", "Success AUC"), ("precision", f"Precision@{PRECISION_AT:g}px"),
            ("norm_precision", f"Norm. precision@{NORM_PRECISION_AT:g}")],
    "davis": [("JF_mean", "J&F"), ("J_mean", "J mean"), ("J_mean_ci95", "J mean 95 % interval"),
              ("J_recall", "J recall"), ("J_decay", "J decay"),
              ("F_mean", "F mean"), ("F_recall", "F recall"), ("F_decay", "F decay")],
    "ytvos": [],
}
_SEQUENCE_COLUMNS = {"vot": ["accuracy", "lost"], "otb": list(SUMMARY_KEYS),
                     "davis": ["J_mean", "F_mean", "JF_mean"], "ytvos": ["frames", "objects"]}


def _json_safe(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (np.integer, int)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return None if math.isnan(value) else float(value)
    return value


def metrics_document(benchmark: str, source: Mapping[str, Any], results: Results, main: str) -> dict:
    """The content of ``metrics.json``: ``main`` entry's protocol sections at top level, others under baselines."""
    doc: dict[str, Any] = {"benchmark": benchmark, **source}
    doc.update({protocol: r.to_json() for protocol, r in results[main].items()})
    baselines = {name: {p: r.to_json() for p, r in per.items()} for name, per in results.items() if name != main}
    if baselines:
        doc["baselines"] = baselines
    return _json_safe(doc)


def _fmt(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return f"{value:.3f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|",
            *["| " + " | ".join(r) + " |" for r in rows]]


def markdown_report(benchmark: str, source: Mapping[str, Any], results: Results) -> str:
    """Summary table per protocol (one row per tracker), per-sequence tables, and the failures."""
    lines = [f"# Evaluation: {benchmark}", ""] + [f"- {k}: `{v}`" for k, v in source.items()] + [""]
    protocols = list(next(iter(results.values())).keys()) if results else []
    for protocol in protocols:
        columns = _COLUMNS[protocol]
        lines += [f"## {protocol}", ""]
        header = ["tracker", *[h for _, h in columns], "sequences", "failed"]
        rows = [[name, *[_fmt(per[protocol].summary.get(k)) for k, _ in columns],
                 str(len(per[protocol].per_sequence)), str(len(per[protocol].failures))]
                for name, per in results.items()]
        lines += _table(header, rows) + [""]
        seq_cols = _SEQUENCE_COLUMNS[protocol]
        names = sorted({s for per in results.values() for s in per[protocol].per_sequence})
        if names:
            header = ["sequence", *[f"{e} {c}" for e in results for c in seq_cols]]
            rows = [[s, *[_fmt(results[e][protocol].per_sequence.get(s, {}).get(c)) for e in results
                          for c in seq_cols]] for s in names]
            lines += [f"### {protocol} per sequence", ""] + _table(header, rows) + [""]
    failures = [(e, p, s, why) for e, per in results.items() for p, r in per.items() for s, why in r.failures.items()]
    lines += ["## Failures", ""]
    lines += [f"- {e} / {p} / `{s}`: {why}" for e, p, s, why in failures] or ["none"]
    return "\n".join(lines) + "\n"


def _plot(path: Path, title: str, xlabel: str, ylabel: str, curves: list[tuple[np.ndarray, np.ndarray, str]],
          span: tuple[float, float] | None = None) -> Path:
    fig = Figure(figsize=(6, 4.5))
    ax = fig.subplots()
    for x, y, label in curves:
        ax.plot(x, y, label=label, linewidth=2)
    if span is not None:
        ax.axvspan(*span, color="grey", alpha=0.15, label="EAO interval")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel, ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path


def save_plots(out_dir: Path, benchmark: str, results: Results, eao_interval: tuple[int, int] | None) -> list[Path]:
    """EAO curve (vot) and success / precision / normalised precision plots (otb), one curve per tracker."""
    out_dir, paths = Path(out_dir), []
    vot = [(n, per["vot"]) for n, per in results.items() if "vot" in per and per["vot"].per_sequence]
    if vot:
        eao_curves = [(np.arange(1, len(r.curves["eao_curve"]) + 1), r.curves["eao_curve"],
                       f"{n} [EAO {_fmt(r.summary['eao'])}]") for n, r in vot]
        paths.append(_plot(out_dir / "eao_curve.png", f"{benchmark}: expected average overlap", "sequence length",
                           "expected average overlap", eao_curves, eao_interval))
    otb = [(n, per["otb"]) for n, per in results.items() if "otb" in per and per["otb"].per_sequence]
    if otb:
        success = [(CURVE_THRESHOLDS["success_curve"], r.curves["success_curve"],
                    f"{n} [AUC {_fmt(r.summary['success_auc'])}]")
                   for n, r in otb]
        paths.append(_plot(out_dir / "success_plot.png", f"{benchmark}: success plot of OPE", "overlap threshold",
                           "success rate", success))
        for kind, x_label in (("precision", "location error threshold (px)"),
                              ("norm_precision", "normalised location error threshold")):
            curves = [(CURVE_THRESHOLDS[f"{kind}_curve"], r.curves[f"{kind}_curve"], f"{n} [{_fmt(r.summary[kind])}]")
                      for n, r in otb]
            paths.append(_plot(out_dir / f"{kind}_plot.png", f"{benchmark}: {kind.replace('_', ' ')} plot of OPE",
                               x_label, kind.replace("_", " "), curves))
    return paths


def claim_output_folder(out_dir: str | Path, identity: Mapping[str, Any]) -> None:
    """Record what is evaluated in ``<out_dir>/evaluation.json``; a folder that holds another evaluation's
    results (another checkpoint, tracker or benchmark setting) is refused, so resumed results are never mixed."""
    path = Path(out_dir) / "evaluation.json"
    identity = _json_safe(identity)
    if path.is_file():
        before = json.loads(path.read_text())
        differing = sorted(k for k in before.keys() | identity.keys() if before.get(k) != identity.get(k))
        if differing:
            raise ValueError(f"{out_dir} holds the results of another evaluation (different {differing}, see "
                             f"{path}); evaluate into a new folder, or delete that one to start over")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(identity, indent=2) + "\n")


def write_report(out_dir: str | Path, benchmark: Mapping, source: Mapping[str, Any], results: Results,
                 main: str) -> tuple[dict, str]:
    """Write metrics.json, metrics.md and the plots into ``out_dir``; return the document and the table."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = metrics_document(benchmark["name"], source, results, main)
    (out_dir / "metrics.json").write_text(json.dumps(doc, indent=2) + "\n")
    table = markdown_report(benchmark["name"], source, results)
    (out_dir / "metrics.md").write_text(table)
    interval = benchmark.get("vot", {}).get("eao_interval") if "vot" in benchmark["protocols"] else None
    save_plots(out_dir, benchmark["name"], results, tuple(interval) if interval is not None else None)
    return doc, table
