"""One benchmark run: for every tracker (or saved results) and protocol, run or read each sequence, score it, collect.

Results are always written first and scored from the files, so what is scored is exactly what a public
toolkit would read. A sequence whose input is broken (missing or malformed annotation / result file,
unreadable frame, impossible box) is recorded under ``failures`` with the reason and the run goes on.

Results layout: ``<results_dir>/<protocol>/...`` (``vot`` and ``got10k``: ``<seq>/<seq>_001.txt``, ``vot2020``:
``<seq>/<seq>_<anchor:08d>.txt``, ``otb`` and
``trackingnet``: ``<seq>.txt``,
``davis``: ``<seq>/<frame>.png``, ``ytvos``: ``Annotations/<video>/<frame>.png``). When scoring saved
results, ``results_dir`` may also point straight at one protocol's folder (e.g. a pysot ``baseline`` dir).

Resume: a sequence's results appear whole or not at all (a file, or a folder of PNGs, written as
``*.partial`` and renamed once the sequence is done), so a run that was killed and is started again with the
same results folder scores the finished sequences from their files and tracks only the others; the
unfinished one's partial files are discarded, never mixed with new ones.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from siammask.evaluation.datasets import BenchmarkDataset, read_benchmark
from siammask.evaluation.protocols import (
    Protocol,
    ProtocolResult,
    benchmark_protocols,
    make_protocol,
    protocol_class,
)
from siammask.evaluation.runners import TrackerLike
from siammask.progress import Progress

INPUT_ERRORS = (ValueError, OSError)  # bad input of one sequence; anything else is a bug and stops the run

log = logging.getLogger(__name__)


@dataclass
class Entry:
    """What is scored: a tracker (``make_tracker`` builds one; results are written to ``results_dir``)
    or saved results (``make_tracker`` None; read from ``results_dir``)."""

    name: str
    results_dir: Path
    make_tracker: Callable[[], TrackerLike] | None = None


def _protocol_dir(entry: Entry, protocol: str) -> Path:
    nested = entry.results_dir / protocol
    if entry.make_tracker is None and not nested.is_dir():
        return entry.results_dir
    return nested


def evaluate_protocol(protocol: str | Protocol, dataset: BenchmarkDataset, entry: Entry, params: Mapping | None = None,
                      progress: bool = True) -> ProtocolResult:
    """Run (if ``entry`` has a tracker) and score every sequence of ``dataset`` under ``protocol`` (a protocol, or
    the name it is registered under, then built with ``params``)."""
    if isinstance(protocol, str):
        protocol = make_protocol(protocol, params)
    out = _protocol_dir(entry, protocol.name)
    runner: TrackerLike | None = None if entry.make_tracker is None else entry.make_tracker()
    per_sequence, failures, scores = {}, {}, []
    if runner is None:
        _check_results_folder(protocol, dataset, entry.name, out)
    finished = {name for name in dataset.names if runner is not None and protocol.finished_path(out, name).exists()}
    if finished:
        log.info("%s %s: %d of %d sequences already done in %s, scored from their files", entry.name, protocol.name,
                 len(finished), len(dataset.names), out)
    # every sequence is a line in a log file (every_s=0): sequences are few and each takes a while
    with Progress(len(dataset.names), f"{entry.name} {protocol.name}", "sequences", enabled=progress,
                  every_s=0.0) as bar:
        for name in dataset.names:
            try:
                seq = dataset.load(name)
                if runner is None:
                    row, score = protocol.score_saved(seq, out)
                else:
                    if name not in finished:
                        protocol.run(runner, seq, out)
                    row, score = protocol.score(seq, out)
            except INPUT_ERRORS as err:
                failures[name] = str(err)
                bar.update(note=f"{name} failed")
                continue
            per_sequence[name] = row
            scores.append(score)
            bar.update(note=name)
    summary, curves = protocol.summarise(scores)
    if runner is not None:
        summary.update(protocol.finish(out, list(per_sequence)))
    groups = {kind: {group: _group_result(protocol, members) for group, members in named.items()}
              for kind, named in protocol.groups(scores).items()}
    notes = ({"": dataset.empty_reason or "the benchmark lists no sequence"} if not dataset.names
             else protocol.missing_reasons(summary, len(per_sequence)))
    return ProtocolResult(summary, per_sequence, failures, curves, groups, notes)


def _group_result(protocol: Protocol, scores: list) -> ProtocolResult:
    summary, curves = protocol.summarise(scores)
    return ProtocolResult({**summary, "sequences": len(scores)}, curves=curves)


def _check_results_folder(protocol: Protocol, dataset: BenchmarkDataset, entry: str, out: Path) -> None:
    """Saved results that hold files but no sequence of the benchmark are another benchmark's (or a wrong folder):
    refused at once, naming the file expected, instead of a failure per sequence (an empty folder fails per
    sequence, as any missing result does)."""
    if not dataset.names:  # nothing to score here (e.g. box-only videos under DAVIS): nothing to check either
        return
    holds_files = out.is_dir() and any(out.iterdir())
    if holds_files and not any(protocol.finished_path(out, name).exists() for name in dataset.names):
        expected = protocol.finished_path(out, dataset.names[0])
        raise ValueError(f"{entry}: {out} holds no {protocol.name} result of a {dataset.name} sequence (expected "
                         f"e.g. {expected}); is it the results folder of another benchmark?")


def datasets_for(benchmark: Mapping, synthetic_videos: Any = None) -> dict[str, BenchmarkDataset]:
    """The dataset each protocol of a benchmark config (``conf/benchmark/*.yaml``) runs on: the box or the mask
    sequences its reader offers. ``synthetic_videos`` stands in for the synthetic reader's ``generator``."""
    if synthetic_videos is not None:
        benchmark = {**benchmark, "generator": synthetic_videos}
    kinds = {name: protocol_class(name, benchmark["name"]).sequences for name in benchmark["protocols"]}
    offered = read_benchmark(benchmark, set(kinds.values()))
    for name, kind in kinds.items():
        if kind not in offered:
            raise ValueError(f"benchmark {benchmark['name']!r}: protocol {name!r} cannot run on the "
                             f"{benchmark['reader']!r} reader")
    return {name: offered[kind] for name, kind in kinds.items()}


def run_benchmark(benchmark: Mapping, entries: list[Entry], synthetic_videos: Any = None,
                  progress: bool = True, datasets: Mapping[str, BenchmarkDataset] | None = None
                  ) -> dict[str, dict[str, ProtocolResult]]:
    """Every entry under every protocol of the benchmark config: ``{entry name: {protocol: result}}``.

    ``datasets``: the output of :func:`datasets_for`, when the caller built it first (to check the input
    before loading networks); built here otherwise."""
    protocols = benchmark_protocols(benchmark)  # bad protocol settings fail before any sequence is read
    datasets = datasets if datasets is not None else datasets_for(benchmark, synthetic_videos)
    for entry in entries:  # saved results of another benchmark are refused before any tracking starts
        for name, protocol in protocols.items():
            if entry.make_tracker is None:
                _check_results_folder(protocol, datasets[name], entry.name, _protocol_dir(entry, name))
    return {entry.name: {name: evaluate_protocol(protocol, datasets[name], entry, progress=progress)
                         for name, protocol in protocols.items()}
            for entry in entries}
