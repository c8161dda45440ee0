"""One benchmark run: for every tracker (or saved results) and protocol, run or read each sequence, score it, collect.

Results are always written first and scored from the files, so what is scored is exactly what a public
toolkit would read. A sequence whose input is broken (missing or malformed annotation / result file,
unreadable frame, impossible box) is recorded under ``failures`` with the reason and the run goes on.

Results layout: ``<results_dir>/<protocol>/...`` (``vot``: ``<seq>/<seq>_001.txt``, ``otb``: ``<seq>.txt``,
``davis``: ``<seq>/<frame>.png``, ``ytvos``: ``Annotations/<video>/<frame>.png``). When scoring saved
results, ``results_dir`` may also point straight at one protocol's folder (e.g. a pysot ``baseline`` dir).

Resume: a sequence's results appear whole or not at all (a file, or a folder of PNGs, written as
``*.partial`` and renamed once the sequence is done), so a run that was killed and is started again with the
same results folder scores the finished sequences from their files and tracks only the others; the
unfinished one's partial files are discarded, never mixed with new ones.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from siammask.evaluation.datasets import BoxSequence, Dataset, MaskSequence, datasets_for
from siammask.evaluation.davis import score_davis_sequence, summarise_davis, summarise_davis_dataset
from siammask.evaluation.otb import CURVE_THRESHOLDS, SUMMARY_KEYS, score_otb_sequence, summarise_otb
from siammask.evaluation.results import (
    label_map_path,
    otb_result_path,
    read_label_map,
    read_otb_boxes,
    read_vot_trajectory,
    vot_result_path,
    write_label_map,
    write_otb_boxes,
    write_vot_trajectory,
)
from siammask.evaluation.runners import TrackerLike, run_otb, run_vos, run_vot
from siammask.evaluation.vot import score_vot_sequence, summarise_vot
from siammask.progress import Progress
from siammask.runs import PARTIAL_SUFFIX

PROTOCOLS = ("vot", "otb", "davis", "ytvos")
PARAMETERS = {"vot": ("burnin", "skip", "eao_interval"), "otb": (), "davis": ("bound_th",), "ytvos": ()}
INPUT_ERRORS = (ValueError, OSError)  # bad input of one sequence; anything else is a bug and stops the run

log = logging.getLogger(__name__)


@dataclass
class Entry:
    """What is scored: a tracker (``make_tracker`` builds one; results are written to ``results_dir``)
    or saved results (``make_tracker`` None; read from ``results_dir``)."""

    name: str
    results_dir: Path
    make_tracker: Callable[[], TrackerLike] | None = None


@dataclass
class ProtocolResult:
    summary: dict[str, float]
    per_sequence: dict[str, dict] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    curves: dict[str, np.ndarray] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {**self.summary, "sequences": len(self.per_sequence), "per_sequence": self.per_sequence,
                "failures": self.failures}


def _protocol_dir(entry: Entry, protocol: str) -> Path:
    nested = entry.results_dir / protocol
    if entry.make_tracker is None and not nested.is_dir():
        return entry.results_dir
    return nested


def _vot(seq: BoxSequence, out: Path, params: Mapping, tracker: TrackerLike | None) -> tuple[dict, Any]:
    path = vot_result_path(out, seq.name)
    if tracker is not None:
        write_vot_trajectory(path, run_vot(tracker, seq, int(params["skip"])))
    trajectory = read_vot_trajectory(path, seq.name, len(seq.frames))
    score = score_vot_sequence(trajectory, seq.gt_polygons, seq.image_hw[::-1], int(params["burnin"]))
    return {"accuracy": score.accuracy, "lost": score.lost, "frames": score.num_frames}, score


def _otb(seq: BoxSequence, out: Path, params: Mapping, tracker: TrackerLike | None) -> tuple[dict, Any]:
    path = otb_result_path(out, seq.name)
    if tracker is not None:
        write_otb_boxes(path, run_otb(tracker, seq))
    score = score_otb_sequence(read_otb_boxes(path, seq.name, len(seq.frames)), seq.gt_boxes_xywh)
    return {k: score[k] for k in SUMMARY_KEYS}, score


def _write_label_maps(folder: Path, names: list[str], label_maps: list[np.ndarray]) -> None:
    """One sequence's PNGs, written into ``<folder>.partial`` and renamed to ``folder`` when all are there."""
    partial = folder.with_name(folder.name + PARTIAL_SUFFIX)
    shutil.rmtree(partial, ignore_errors=True)  # left by a killed run
    for name, labels in zip(names, label_maps):
        write_label_map(label_map_path(partial.parent, partial.name, name), labels)
    if folder.exists():
        shutil.rmtree(folder)
    partial.rename(folder)


def _davis(seq: MaskSequence, out: Path, params: Mapping, tracker: TrackerLike | None) -> tuple[dict, Any]:
    names = seq.frames.names
    if tracker is not None:
        _write_label_maps(out / seq.name, names, run_vos(tracker, seq))
    predicted = np.stack([read_label_map(label_map_path(out, seq.name, n), seq.name, seq.image_hw) for n in names])
    if seq.merged:  # e.g. DAVIS 2016 results: 0/255 or any ids, all foreground is the one object
        predicted = (predicted > 0).astype(np.uint8)
    unknown = sorted(set(np.unique(predicted).tolist()) - {0, *seq.object_ids})
    if unknown:
        raise ValueError(f"sequence {seq.name!r}: result masks in {out / seq.name} contain ids {unknown}, "
                         f"the sequence has objects {seq.object_ids}")
    truth = np.stack(seq.labels)  # type: ignore[arg-type]  # a DAVIS-style sequence annotates every frame: no None
    per_object = score_davis_sequence(truth, predicted, seq.object_ids, float(params["bound_th"]))
    means = summarise_davis(list(per_object.values()))
    row = {"J_mean": means["J_mean"], "F_mean": means["F_mean"], "JF_mean": means["JF_mean"],
           "objects": {str(k): v for k, v in per_object.items()}}
    return row, list(per_object.values())


def _ytvos(seq: MaskSequence, out: Path, params: Mapping, tracker: TrackerLike | None) -> tuple[dict, Any]:
    if tracker is None:
        raise ValueError("YouTube-VOS has no public ground truth for its validation split: nothing to score; "
                         "submit the written Annotations/ folder to the challenge server")
    _write_label_maps(out / "Annotations" / seq.name, seq.frames.names, run_vos(tracker, seq))
    return _ytvos_row(seq), None


def _ytvos_row(seq: MaskSequence) -> dict:
    return {"frames": len(seq.frames), "objects": len(seq.object_ids)}


# Any: each scorer takes the sequence type of its protocol's dataset (box or mask), which only the key tells
_SEQUENCE_SCORERS: dict[str, Callable[[Any, Path, Mapping, TrackerLike | None], tuple[dict, Any]]] = {"vot": _vot, "otb": _otb, "davis": _davis, "ytvos": _ytvos}
_FINISHED = {  # where a sequence's results are once it is done (a file or a whole folder)
    "vot": vot_result_path, "otb": otb_result_path, "davis": lambda out, name: out / name,
    "ytvos": lambda out, name: out / "Annotations" / name}


def _summarise(protocol: str, scores: list, params: Mapping) -> tuple[dict, dict]:
    if protocol == "vot":
        s = summarise_vot(scores, int(params["skip"]), tuple(params["eao_interval"]))
        return {k: s[k] for k in ("eao", "accuracy", "robustness", "lost")}, {"eao_curve": s["eao_curve"]}
    if protocol == "otb":
        s = summarise_otb(scores)
        return {k: s[k] for k in SUMMARY_KEYS}, {k: s[k] for k in CURVE_THRESHOLDS}
    if protocol == "davis":
        return summarise_davis_dataset(scores), {}
    return {}, {}


def evaluate_protocol(protocol: str, dataset: Dataset, entry: Entry, params: Mapping,
                      progress: bool = True) -> ProtocolResult:
    """Run (if ``entry`` has a tracker) and score every sequence of ``dataset`` under ``protocol``."""
    if protocol not in _SEQUENCE_SCORERS:
        raise ValueError(f"unknown protocol {protocol!r}; known: {list(PROTOCOLS)}")
    out = _protocol_dir(entry, protocol)
    runner: TrackerLike | None = None if entry.make_tracker is None else entry.make_tracker()
    per_sequence, failures, scores = {}, {}, []
    finished = {name for name in dataset.names if runner is not None and _FINISHED[protocol](out, name).exists()}
    if finished:
        log.info("%s %s: %d of %d sequences already done in %s, scored from their files", entry.name, protocol,
                 len(finished), len(dataset.names), out)
    # every sequence is a line in a log file (every_s=0): sequences are few and each takes a while
    with Progress(len(dataset.names), f"{entry.name} {protocol}", "sequences", enabled=progress,
                  every_s=0.0) as bar:
        for name in dataset.names:
            try:
                seq = dataset.load(name)
                if name in finished and protocol == "ytvos":
                    assert isinstance(seq, MaskSequence)  # the protocol's dataset holds mask sequences
                    row, score = _ytvos_row(seq), None
                else:
                    row, score = _SEQUENCE_SCORERS[protocol](seq, out, params, None if name in finished else runner)
            except INPUT_ERRORS as err:
                failures[name] = str(err)
                bar.update(note=f"{name} failed")
                continue
            per_sequence[name] = row
            scores.append(score)
            bar.update(note=name)
    summary, curves = _summarise(protocol, scores, params)
    return ProtocolResult(summary, per_sequence, failures, curves)


def check_parameters(benchmark: Mapping, protocol: str) -> None:
    """Fail before any tracking on an unknown protocol, a missing parameter or an impossible EAO interval."""
    name = benchmark["name"]
    if protocol not in PROTOCOLS:
        raise ValueError(f"benchmark {name!r} lists unknown protocol {protocol!r}; known: {list(PROTOCOLS)}")
    params = benchmark.get(protocol, {})
    missing = [key for key in PARAMETERS[protocol] if key not in params]
    if missing:
        raise ValueError(f"benchmark {name!r}: protocol {protocol!r} needs {protocol}.{missing} in its config")
    if protocol == "vot":
        low, high = params["eao_interval"]
        if not 1 <= int(low) <= int(high):
            raise ValueError(f"benchmark {name!r}: vot.eao_interval must be [low, high] with 1 <= low <= high "
                             f"(sequence lengths), got {list(params['eao_interval'])}")


def run_benchmark(benchmark: Mapping, entries: list[Entry], synthetic_videos: Any = None,
                  progress: bool = True, datasets: Mapping[str, Dataset] | None = None
                  ) -> dict[str, dict[str, ProtocolResult]]:
    """Every entry under every protocol of the benchmark config: ``{entry name: {protocol: result}}``.

    ``datasets``: the output of :func:`datasets_for`, when the caller built it first (to check the input
    before loading networks); built here otherwise."""
    protocols = list(benchmark["protocols"])
    for protocol in protocols:
        check_parameters(benchmark, protocol)
    datasets = datasets if datasets is not None else datasets_for(benchmark, synthetic_videos)
    return {entry.name: {p: evaluate_protocol(p, datasets[p], entry, benchmark.get(p, {}), progress)
                         for p in protocols}
            for entry in entries}
