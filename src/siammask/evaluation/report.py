"""What a benchmark run leaves behind: ``metrics.json``, a readable ``metrics.md`` table, and PNG plots.

``metrics.json`` holds one section per protocol for the evaluated tracker (``vot``: eao, accuracy,
robustness, lost; ``vot2020``: eao, accuracy, robustness; ``otb``: success_auc, precision, norm_precision; ``davis``: J/F mean, recall, decay, JF_mean
and the J / F means' 95 % bootstrap intervals over sequences; ``ytvos``: what was written), each with
``per_sequence`` and ``failures`` (sequence -> reason), per attribute / class summaries (``attributes``,
``classes``) where the benchmark defines them, and the same for every baseline under ``baselines``, for other
trackers' saved results (eval.py ``compare_dir``) under ``compare``; several runs of ours (``run_ckpt_paths``)
add their mean and standard deviation under ``runs``.
NaN (nothing to average) is written as null.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from siammask.evaluation.plots import format_value
from siammask.evaluation.protocols import Protocol, ProtocolResult, benchmark_protocols, protocol_class

Results = dict[str, dict[str, ProtocolResult]]  # entry name -> protocol -> result


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


def metrics_document(benchmark: str, source: Mapping[str, Any], results: Results, main: str,
                     compare: Collection[str] = (), runs: Sequence[str] = ()) -> dict:
    """The content of ``metrics.json``: ``main`` entry's protocol sections at top level, other trackers' saved
    results (``compare``) under ``compare.<name>``, the mean and spread of several runs of ours (``runs``, main
    among them) under ``runs``, and the others under baselines."""
    doc: dict[str, Any] = {"benchmark": benchmark, **source}
    doc.update({protocol: r.to_json() for protocol, r in results[main].items()})
    sections = {"compare": [n for n in results if n in compare],
                "baselines": [n for n in results if n != main and n not in compare]}
    for section, names in sections.items():
        if names:
            doc[section] = {name: {p: r.to_json() for p, r in results[name].items()} for name in names}
    if len(runs) > 1:
        doc["runs"] = {"names": list(runs), **run_spread(results, runs)}
    return _json_safe(doc)


def run_spread(results: Results, runs: Sequence[str]) -> dict[str, dict[str, dict[str, float]]]:
    """Mean and standard deviation (ddof 1: a sample of the recipe's runs) of each scalar summary over ``runs``."""
    protocols = results[runs[0]]
    out: dict[str, dict[str, dict[str, float]]] = {"mean": {}, "std": {}}
    for protocol, first in protocols.items():
        keys = [k for k, v in first.summary.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
        values = {k: np.array([results[r][protocol].summary.get(k, np.nan) for r in runs], np.float64) for k in keys}
        out["mean"][protocol] = {k: float(np.mean(v)) for k, v in values.items()}
        out["std"][protocol] = {k: float(np.std(v, ddof=1)) for k, v in values.items()}
    return out


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|",
            *["| " + " | ".join(r) + " |" for r in rows]]


def markdown_report(benchmark: str, source: Mapping[str, Any], results: Results, runs: Sequence[str] = ()) -> str:
    """Summary table per protocol (one row per tracker, and the mean ± std of several runs of ours), a table per
    attribute / class, per-sequence tables, and the failures."""
    lines = [f"# Evaluation: {benchmark}", ""] + [f"- {k}: `{v}`" for k, v in source.items()] + [""]
    protocols = list(next(iter(results.values())).keys()) if results else []
    for protocol in protocols:
        columns = protocol_class(protocol).columns
        lines += [f"## {protocol}", ""]
        header = ["tracker", *[h for _, h in columns], "sequences", "failed"]
        rows = [[name, *[format_value(per[protocol].summary.get(k)) for k, _ in columns],
                 str(len(per[protocol].per_sequence)), str(len(per[protocol].failures))]
                for name, per in results.items()]
        if len(runs) > 1:
            spread = run_spread(results, runs)
            rows.append([f"mean ± std of {len(runs)} runs", *[
                f"{format_value(spread['mean'][protocol].get(k))} ± {format_value(spread['std'][protocol].get(k))}"
                for k, _ in columns], "-", "-"])
        lines += _table(header, rows) + [""]
        headers = dict(columns)
        notes = [f"- {name}: {f'{headers.get(key, key)}: ' if key else ''}{why}" for name, per in results.items()
                 for key, why in per[protocol].notes.items()]
        lines += ["Why a value is missing (-):", "", *notes, ""] if notes else []
        lines += _group_tables(protocol, columns, results)
        seq_cols = protocol_class(protocol).sequence_columns
        names = sorted({s for per in results.values() for s in per[protocol].per_sequence})
        if names:
            header = ["sequence", *[f"{e} {c}" for e in results for c in seq_cols]]
            rows = [[s, *[format_value(results[e][protocol].per_sequence.get(s, {}).get(c)) for e in results
                          for c in seq_cols]] for s in names]
            lines += [f"### {protocol} per sequence", ""] + _table(header, rows) + [""]
    failures = [(e, p, s, why) for e, per in results.items() for p, r in per.items() for s, why in r.failures.items()]
    lines += ["## Failures", ""]
    lines += [f"- {e} / {p} / `{s}`: {why}" for e, p, s, why in failures] or ["none"]
    return "\n".join(lines) + "\n"


def _group_tables(protocol: str, columns: Sequence[tuple[str, str]], results: Results) -> list[str]:
    """One table per attribute (or class): a row per tracker, the protocol's summary columns over its sequences."""
    lines: list[str] = []
    kinds = sorted({kind for per in results.values() for kind in per[protocol].groups})
    for kind in kinds:
        names = sorted({g for per in results.values() for g in per[protocol].groups.get(kind, {})})
        for group in names:
            rows = [[name, *[format_value(r.summary.get(k)) for k, _ in columns], format_value(r.summary["sequences"])]
                    for name, per in results.items() if (r := per[protocol].groups.get(kind, {}).get(group))]
            lines += [f"### {protocol} {kind}: {group}", "",
                      *_table(["tracker", *[h for _, h in columns], "sequences"], rows), ""]
    return lines


def save_plots(out_dir: Path, benchmark: str, results: Results, protocols: Mapping[str, Protocol]) -> list[Path]:
    """Each protocol's plots (e.g. the EAO curve, OTB's success and precision plots), one curve per entry."""
    return [path for name, protocol in protocols.items()
            for path in protocol.plots(Path(out_dir), benchmark, [(n, per[name]) for n, per in results.items()
                                                                 if name in per])]


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
                 main: str, compare: Collection[str] = (), runs: Sequence[str] = ()) -> tuple[dict, str]:
    """Write metrics.json, metrics.md and the plots into ``out_dir``; return the document and the table.
    ``compare``: entries that are other trackers' saved results; ``runs``: entries that are runs of ours."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = metrics_document(benchmark["name"], source, results, main, compare, runs)
    (out_dir / "metrics.json").write_text(json.dumps(doc, indent=2) + "\n")
    table = markdown_report(benchmark["name"], source, results, runs)
    (out_dir / "metrics.md").write_text(table)
    save_plots(out_dir, benchmark["name"], results, benchmark_protocols(benchmark))
    return doc, table
