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


def metrics_document(benchmark: str, source: Mapping[str, Any], results: Results, main: str) -> dict:
    """The content of ``metrics.json``: ``main`` entry's protocol sections at top level, others under baselines."""
    doc: dict[str, Any] = {"benchmark": benchmark, **source}
    doc.update({protocol: r.to_json() for protocol, r in results[main].items()})
    baselines = {name: {p: r.to_json() for p, r in per.items()} for name, per in results.items() if name != main}
    if baselines:
        doc["baselines"] = baselines
    return _json_safe(doc)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|",
            *["| " + " | ".join(r) + " |" for r in rows]]


def markdown_report(benchmark: str, source: Mapping[str, Any], results: Results) -> str:
    """Summary table per protocol (one row per tracker), per-sequence tables, and the failures."""
    lines = [f"# Evaluation: {benchmark}", ""] + [f"- {k}: `{v}`" for k, v in source.items()] + [""]
    protocols = list(next(iter(results.values())).keys()) if results else []
    for protocol in protocols:
        columns = protocol_class(protocol).columns
        lines += [f"## {protocol}", ""]
        header = ["tracker", *[h for _, h in columns], "sequences", "failed"]
        rows = [[name, *[format_value(per[protocol].summary.get(k)) for k, _ in columns],
                 str(len(per[protocol].per_sequence)), str(len(per[protocol].failures))]
                for name, per in results.items()]
        lines += _table(header, rows) + [""]
        headers = dict(columns)
        notes = [f"- {name}: {f'{headers.get(key, key)}: ' if key else ''}{why}" for name, per in results.items()
                 for key, why in per[protocol].notes.items()]
        lines += ["Why a value is missing (-):", "", *notes, ""] if notes else []
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
                 main: str) -> tuple[dict, str]:
    """Write metrics.json, metrics.md and the plots into ``out_dir``; return the document and the table."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = metrics_document(benchmark["name"], source, results, main)
    (out_dir / "metrics.json").write_text(json.dumps(doc, indent=2) + "\n")
    table = markdown_report(benchmark["name"], source, results)
    (out_dir / "metrics.md").write_text(table)
    save_plots(out_dir, benchmark["name"], results, benchmark_protocols(benchmark))
    return doc, table
