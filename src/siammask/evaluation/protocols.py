"""The evaluation protocols, one class each, registered in :data:`PROTOCOLS` under the names ``conf/benchmark/*.yaml``
lists in ``protocols`` (its parameters are the config section of the same name, e.g. ``vot: {burnin, ...}``).

A protocol says everything that differs between benchmarks: its parameters, which sequences it runs on (box or
mask), how a tracker runs through a sequence and where the results are written, how a sequence is scored from
its result files and the scores summarised, its report columns, its headline metric and its plots. The benchmark
loop (:mod:`siammask.evaluation.benchmark`), the report and eval.py are the same for all; a new protocol is a
subclass here and an entry in :data:`PROTOCOLS`.
"""

from __future__ import annotations

import math
import re
import shutil
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from siammask.evaluation.datasets import ANCHORED, BOX, MASK, AnchoredSequence, BoxSequence, MaskSequence
from siammask.evaluation.davis import score_davis_sequence, summarise_davis, summarise_davis_dataset
from siammask.evaluation.got10k import (
    AO_CURVE_THRESHOLDS,
    pooled_success_curve,
    sequence_overlaps,
    summarise_overlaps,
)
from siammask.evaluation.otb import (
    CURVE_THRESHOLDS,
    NORM_PRECISION_AT,
    PRECISION_AT,
    SUMMARY_KEYS,
    score_otb_sequence,
    summarise_otb,
)
from siammask.evaluation.plots import curve_plot, format_value
from siammask.evaluation.results import (
    label_map_path,
    otb_result_path,
    read_label_map,
    read_otb_boxes,
    read_vot2020_run,
    read_vot_trajectory,
    time_result_path,
    vot2020_result_path,
    vot2020_time_path,
    vot_result_path,
    write_label_map,
    write_otb_boxes,
    write_submission_zip,
    write_times,
    write_vot_trajectory,
)
from siammask.evaluation.runners import TrackerLike, run_anchor, run_ope_timed, run_otb, run_vos, run_vot
from siammask.evaluation.vot import score_vot_sequence, summarise_vot
from siammask.evaluation.vot2020 import SequenceScore, run_frames, score_run, summarise_vot2020
from siammask.runs import PARTIAL_SUFFIX


@dataclass
class ProtocolResult:
    summary: dict[str, float]
    per_sequence: dict[str, dict] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    curves: dict[str, np.ndarray] = field(default_factory=dict)
    # breakdowns: "attributes" / "classes" -> group name -> the result over that group's sequences (summary, curves)
    groups: dict[str, dict[str, ProtocolResult]] = field(default_factory=dict)
    # why a summary value is missing (summary key, or "" for the whole protocol -> reason): what a "-" means
    notes: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {**self.summary, "sequences": len(self.per_sequence), "per_sequence": self.per_sequence,
                "failures": self.failures, **({"notes": self.notes} if self.notes else {}),
                **{kind: {name: r.summary for name, r in named.items()} for kind, named in self.groups.items()}}


NamedResults = list[tuple[str, ProtocolResult]]  # (entry name, its result under one protocol)


class Protocol(ABC):
    """One protocol with its parameters (checked on construction, so a bad config fails before any tracking)."""

    name: ClassVar[str]
    sequences: ClassVar[str]  # BOX, MASK or ANCHORED: the sequences of a benchmark's reader it runs on
    parameters: ClassVar[tuple[str, ...]] = ()  # keys its config section must have
    columns: ClassVar[tuple[tuple[str, str], ...]] = ()  # (summary key, header) of the summary table
    sequence_columns: ClassVar[tuple[str, ...]] = ()  # per-sequence row keys of the per-sequence table
    headline: ClassVar[str | None] = None  # summary key checkpoints are ranked by (None: nothing to rank by)

    def __init__(self, params: Mapping[str, Any] | None = None, benchmark: str = "?") -> None:
        self.params = dict(params or {})
        missing = [key for key in self.parameters if key not in self.params]
        if missing:
            raise ValueError(f"benchmark {benchmark!r}: protocol {self.name!r} needs {self.name}.{missing} "
                             f"in its config")

    @abstractmethod
    def finished_path(self, out: Path, sequence: str) -> Path:
        """Where a sequence's results are once it is done (a file or a whole folder, written at once)."""

    @abstractmethod
    def run(self, tracker: TrackerLike, seq: Any, out: Path) -> None:
        """Track ``seq`` as the protocol prescribes and write its results under ``out``."""

    @abstractmethod
    def score(self, seq: Any, out: Path) -> tuple[dict, Any]:
        """(per-sequence row, score for :meth:`summarise`) from the result files under ``out``."""

    def score_saved(self, seq: Any, out: Path) -> tuple[dict, Any]:
        """Score results written by someone else (eval.py ``results_dir``)."""
        return self.score(seq, out)

    def summarise(self, scores: list) -> tuple[dict, dict]:
        """(summary numbers, curves) over all scored sequences."""
        return {}, {}

    def groups(self, scores: list) -> dict[str, dict[str, list]]:
        """The scores of each breakdown the benchmark defines (``attributes`` of OTB-100 / LaSOT / UAV123, GOT-10k's
        ``classes``): kind -> group name -> its sequences' scores, each summarised like the whole benchmark."""
        return {}

    def finish(self, out: Path, sequences: list[str]) -> dict[str, Any]:
        """After the tracker ran every sequence: what a server takes (the submission zip of ``sequences``' results
        in ``out``); the returned entries join the summary."""
        return {}

    def missing_reasons(self, summary: Mapping[str, Any], scored: int) -> dict[str, str]:
        """Why a summary value is missing (NaN) although ``scored`` sequences were scored: summary key -> reason."""
        return {}

    def plots(self, out_dir: Path, benchmark: str, results: NamedResults) -> list[Path]:
        """The protocol's plots in ``out_dir``, one curve per entry that scored any sequence (none if no entry did),
        and the same plots per attribute in ``attributes/<attribute>/``."""
        scored = [(name, result) for name, result in results if result.per_sequence]
        if not scored:
            return []
        paths = self.draw(out_dir, benchmark, scored)
        for group in sorted({g for _, r in scored for g in r.groups.get("attributes", {})}):
            folder = out_dir / "attributes" / re.sub(r"[^\w.-]+", "_", group)
            folder.mkdir(parents=True, exist_ok=True)
            paths += self.draw(folder, f"{benchmark} {group}", [(name, r.groups["attributes"][group])
                                                                for name, r in scored if group in r.groups.get(
                                                                    "attributes", {})])
        return paths

    def draw(self, out_dir: Path, benchmark: str, scored: NamedResults) -> list[Path]:
        """The plots of :meth:`plots`, given the entries that scored."""
        return []


class VotProtocol(Protocol):
    """VOT supervised (reset-based) experiment: EAO, accuracy, robustness, lost (:mod:`siammask.evaluation.vot`)."""

    name = "vot"
    sequences = BOX
    parameters = ("burnin", "skip", "eao_interval")
    columns = (("eao", "EAO"), ("eao_ci95", "EAO 95 % interval"), ("accuracy", "Accuracy"),
               ("robustness", "Robustness"), ("lost", "Lost"))
    sequence_columns = ("accuracy", "lost")
    headline = "eao"

    def __init__(self, params: Mapping[str, Any] | None = None, benchmark: str = "?") -> None:
        super().__init__(params, benchmark)
        low, high = self.params["eao_interval"]
        if not 1 <= int(low) <= int(high):
            raise ValueError(f"benchmark {benchmark!r}: vot.eao_interval must be [low, high] with 1 <= low <= high "
                             f"(sequence lengths), got {list(self.params['eao_interval'])}")
        self.burnin, self.skip = int(self.params["burnin"]), int(self.params["skip"])
        self.eao_interval = tuple(self.params["eao_interval"])

    def finished_path(self, out: Path, sequence: str) -> Path:
        return vot_result_path(out, sequence)

    def run(self, tracker: TrackerLike, seq: BoxSequence, out: Path) -> None:
        write_vot_trajectory(vot_result_path(out, seq.name), run_vot(tracker, seq, self.skip))

    def score(self, seq: BoxSequence, out: Path) -> tuple[dict, Any]:
        trajectory = read_vot_trajectory(vot_result_path(out, seq.name), seq.name, len(seq.frames))
        score = score_vot_sequence(trajectory, seq.gt_polygons, seq.image_hw[::-1], self.burnin)
        return {"accuracy": score.accuracy, "lost": score.lost, "frames": score.num_frames}, score

    def summarise(self, scores: list) -> tuple[dict, dict]:
        s = summarise_vot(scores, self.skip, self.eao_interval)
        return {k: s[k] for k in ("eao", "eao_ci95", "accuracy", "robustness", "lost")}, {"eao_curve": s["eao_curve"]}

    def missing_reasons(self, summary: Mapping[str, Any], scored: int) -> dict[str, str]:
        accuracy = summary.get("accuracy")
        if scored and accuracy is not None and math.isnan(accuracy):
            return {"accuracy": f"every annotated frame lies within the burn-in (vot.burnin={self.burnin} frames "
                                f"after each (re-)initialisation are left out of accuracy)"}
        return {}

    def draw(self, out_dir: Path, benchmark: str, scored: NamedResults) -> list[Path]:
        curves = [(np.arange(1, len(r.curves["eao_curve"]) + 1), r.curves["eao_curve"],
                   f"{n} [EAO {format_value(r.summary['eao'])}]") for n, r in scored]
        return [curve_plot(out_dir / "eao_curve.png", f"{benchmark}: expected average overlap", "sequence length",
                           "expected average overlap", curves, self.eao_interval, "EAO interval")]


class Vot2020Protocol(Protocol):
    """VOT2020 short-term, the anchor-based experiment: EAO, accuracy, robustness with masks as ground truth, as
    the vot-toolkit computes them (:mod:`siammask.evaluation.vot2020` names the toolkit file of each definition
    and the few places that differ). Results: the toolkit's ``<seq>/<seq>_<anchor:08d>.txt`` per anchor."""

    name = "vot2020"
    sequences = ANCHORED
    parameters = ("threshold", "grace", "eao_interval")
    columns = (("eao", "EAO"), ("accuracy", "Accuracy"), ("robustness", "Robustness"))
    sequence_columns = ("accuracy", "robustness", "anchors", "failures")
    headline = "eao"

    def __init__(self, params: Mapping[str, Any] | None = None, benchmark: str = "?") -> None:
        super().__init__(params, benchmark)
        self.threshold, self.grace = float(self.params["threshold"]), int(self.params["grace"])
        low, high = (int(v) for v in self.params["eao_interval"])
        if not (0 <= self.threshold <= 1 and self.grace >= 1 and 0 <= low < high):
            raise ValueError(f"benchmark {benchmark!r}: vot2020 needs 0 <= threshold <= 1, grace >= 1 and "
                             f"eao_interval [low, high] with 0 <= low < high, got threshold={self.threshold}, "
                             f"grace={self.grace}, eao_interval={list(self.params['eao_interval'])}")
        self.eao_interval = (low, high)

    def finished_path(self, out: Path, sequence: str) -> Path:
        return out / sequence

    def run(self, tracker: TrackerLike, seq: AnchoredSequence, out: Path) -> None:
        runs = {frame: run_anchor(tracker, seq, (frame, backwards)) for frame, backwards in seq.anchors}

        def write(partial: Path) -> None:
            for frame, (entries, seconds) in runs.items():
                write_times(partial / vot2020_time_path(out, seq.name, frame).name, seconds)
                write_vot_trajectory(partial / vot2020_result_path(out, seq.name, frame).name, entries)

        _write_folder(out / seq.name, write)

    def score(self, seq: AnchoredSequence, out: Path) -> tuple[dict, Any]:
        runs = []
        for anchor in seq.anchors:
            frames = run_frames(anchor, len(seq.frames))
            entries = read_vot2020_run(out, seq.name, anchor[0], len(frames))
            runs.append(score_run(entries, [seq.gt_regions[f] for f in frames], seq.image_hw, self.threshold,
                                  self.grace))
        score = SequenceScore(runs, len(seq.frames))
        row = {"accuracy": score.accuracy, "robustness": score.robustness, "anchors": len(runs),
               "failures": sum(r.failed for r in runs), "frames": score.num_frames}
        return row, score

    def summarise(self, scores: list) -> tuple[dict, dict]:
        s = summarise_vot2020(scores, self.eao_interval)
        return {k: s[k] for k in ("eao", "accuracy", "robustness")}, {"eao_curve": s["eao_curve"]}

    def draw(self, out_dir: Path, benchmark: str, scored: NamedResults) -> list[Path]:
        curves = [(np.arange(len(r.curves["eao_curve"])), r.curves["eao_curve"],
                   f"{n} [EAO {format_value(r.summary['eao'])}]") for n, r in scored]
        return [curve_plot(out_dir / "eao_curve.png", f"{benchmark}: expected average overlap (anchor-based)",
                           "frames after initialisation", "expected average overlap", curves, self.eao_interval,
                           "EAO interval")]


class OtbProtocol(Protocol):
    """OTB one-pass evaluation (OPE): success AUC, precision, normalised precision (:mod:`siammask.evaluation.otb`)."""

    name = "otb"
    sequences = BOX
    columns = (("success_auc", "Success AUC"), ("precision", f"Precision@{PRECISION_AT:g}px"),
               ("norm_precision", f"Norm. precision@{NORM_PRECISION_AT:g}"))
    sequence_columns = tuple(SUMMARY_KEYS)
    headline = "success_auc"

    def finished_path(self, out: Path, sequence: str) -> Path:
        return otb_result_path(out, sequence)

    def run(self, tracker: TrackerLike, seq: BoxSequence, out: Path) -> None:
        write_otb_boxes(otb_result_path(out, seq.name), run_otb(tracker, seq))

    def score(self, seq: BoxSequence, out: Path) -> tuple[dict, Any]:
        if not seq.fully_annotated:
            raise ValueError(f"sequence {seq.name!r}: {seq.source} gives only the first box, so one-pass scores "
                             f"cannot be computed here; this split is scored by its server: use the benchmark config "
                             f"that writes its submission (benchmark=got10k_test or trackingnet)")
        score = score_otb_sequence(read_otb_boxes(otb_result_path(out, seq.name), seq.name, len(seq.frames)),
                                   seq.gt_boxes_xywh, seq.visible)
        return {k: score[k] for k in SUMMARY_KEYS}, {**score, "attributes": seq.attributes}

    def summarise(self, scores: list) -> tuple[dict, dict]:
        s = summarise_otb(scores)
        return {k: s[k] for k in SUMMARY_KEYS}, {k: s[k] for k in CURVE_THRESHOLDS}

    def groups(self, scores: list) -> dict[str, dict[str, list]]:
        names = sorted({a for score in scores for a in score["attributes"]})
        return {"attributes": {a: [s for s in scores if a in s["attributes"]] for a in names}} if names else {}

    def draw(self, out_dir: Path, benchmark: str, scored: NamedResults) -> list[Path]:
        success = [(CURVE_THRESHOLDS["success_curve"], r.curves["success_curve"],
                    f"{n} [AUC {format_value(r.summary['success_auc'])}]") for n, r in scored]
        paths = [curve_plot(out_dir / "success_plot.png", f"{benchmark}: success plot of OPE", "overlap threshold",
                            "success rate", success)]
        for kind, x_label in (("precision", "location error threshold (px)"),
                              ("norm_precision", "normalised location error threshold")):
            curves = [(CURVE_THRESHOLDS[f"{kind}_curve"], r.curves[f"{kind}_curve"],
                       f"{n} [{format_value(r.summary[kind])}]") for n, r in scored]
            paths.append(curve_plot(out_dir / f"{kind}_plot.png", f"{benchmark}: {kind.replace('_', ' ')} plot of OPE",
                                    x_label, kind.replace("_", " "), curves))
        return paths


class TrackingnetProtocol(OtbProtocol):
    """TrackingNet: one pass, ``<seq>.txt`` per sequence; the TEST split (first box only) is written and zipped
    for the server (``submission: true``), a split with every box (``TRAIN_<k>``) is scored as OPE."""

    name = "trackingnet"
    parameters = ("submission",)

    def score(self, seq: BoxSequence, out: Path) -> tuple[dict, Any]:
        if self.params["submission"] and not seq.fully_annotated:
            return {"frames": len(read_otb_boxes(otb_result_path(out, seq.name), seq.name, len(seq.frames)))}, None
        return super().score(seq, out)

    def summarise(self, scores: list) -> tuple[dict, dict]:
        return super().summarise([s for s in scores if s is not None])

    def groups(self, scores: list) -> dict[str, dict[str, list]]:
        return super().groups([s for s in scores if s is not None])

    def draw(self, out_dir: Path, benchmark: str, scored: NamedResults) -> list[Path]:
        """OPE plots of the entries scored on boxes (none for a submission, whose rows only count frames)."""
        with_boxes = [(n, r) for n, r in scored if not np.isnan(r.summary["success_auc"])]
        return super().draw(out_dir, benchmark, with_boxes) if with_boxes else []

    def finish(self, out: Path, sequences: list[str]) -> dict[str, Any]:
        if not self.params["submission"]:
            return {}
        files = [otb_result_path(out, name) for name in sequences]
        return {"submission": str(write_submission_zip(out, files, out.with_suffix(".zip")))}


class Got10kProtocol(Protocol):
    """GOT-10k: one pass, results ``<seq>/<seq>_001.txt`` and ``<seq>_time.txt``; ``val`` is scored (AO, SR0.5,
    SR0.75, per class; :mod:`siammask.evaluation.got10k`), ``test`` (first box only) written and zipped for the
    server (``submission: true``)."""

    name = "got10k"
    sequences = BOX
    parameters = ("submission",)
    columns = (("ao", "AO"), ("sr50", "SR0.5"), ("sr75", "SR0.75"))
    sequence_columns = ("ao", "sr50", "sr75", "frames")
    headline = "ao"

    def finished_path(self, out: Path, sequence: str) -> Path:
        return vot_result_path(out, sequence)

    def run(self, tracker: TrackerLike, seq: BoxSequence, out: Path) -> None:
        boxes_xywh, seconds = run_ope_timed(tracker, seq)
        write_times(time_result_path(out, seq.name), seconds)
        write_otb_boxes(vot_result_path(out, seq.name), boxes_xywh)  # last: its presence means "done"

    def score(self, seq: BoxSequence, out: Path) -> tuple[dict, Any]:
        boxes = read_otb_boxes(vot_result_path(out, seq.name), seq.name, len(seq.frames))
        if not seq.fully_annotated:
            if not self.params["submission"]:
                raise ValueError(f"sequence {seq.name!r}: {seq.source} gives only the first box; the test split is "
                                 f"scored by the server (got10k.submission: true writes its zip)")
            return {"frames": len(boxes)}, None
        visible = seq.visible if seq.visible is not None else np.ones(len(boxes), bool)
        overlaps = sequence_overlaps(boxes, seq.gt_boxes_xywh, visible, seq.image_hw[::-1])
        return {**summarise_overlaps([overlaps]), "frames": len(overlaps)}, (overlaps, seq.category)

    def summarise(self, scores: list) -> tuple[dict, dict]:
        overlaps = [o for o, _ in filter(None, scores)]
        return summarise_overlaps(overlaps), {"success_curve": pooled_success_curve(overlaps)}

    def groups(self, scores: list) -> dict[str, dict[str, list]]:
        scored = [s for s in scores if s is not None and s[1] is not None]
        classes = sorted({category for _, category in scored})
        return {"classes": {c: [s for s in scored if s[1] == c] for c in classes}} if classes else {}

    def finish(self, out: Path, sequences: list[str]) -> dict[str, Any]:
        if not self.params["submission"]:
            return {}
        files = [path for name in sequences for path in (vot_result_path(out, name), time_result_path(out, name))]
        return {"submission": str(write_submission_zip(out, files, out.with_suffix(".zip")))}

    def draw(self, out_dir: Path, benchmark: str, scored: NamedResults) -> list[Path]:
        curves = [(AO_CURVE_THRESHOLDS, r.curves["success_curve"], f"{n} [AO {format_value(r.summary['ao'])}]")
                  for n, r in scored if "success_curve" in r.curves]
        return [curve_plot(out_dir / "success_plot.png", f"{benchmark}: success plot", "overlap threshold",
                           "success rate", curves)] if curves else []


def _write_folder(folder: Path, write: Callable[[Path], None]) -> None:
    """One sequence's files, written by ``write`` into ``<folder>.partial`` and renamed to ``folder`` when all are
    there (so a killed run leaves the whole folder or none)."""
    partial = folder.with_name(folder.name + PARTIAL_SUFFIX)
    shutil.rmtree(partial, ignore_errors=True)  # left by a killed run
    write(partial)
    if folder.exists():
        shutil.rmtree(folder)
    partial.rename(folder)


def _write_label_maps(folder: Path, names: list[str], label_maps: list[np.ndarray]) -> None:
    """One sequence's PNGs, as :func:`_write_folder` writes a folder."""
    def write(partial: Path) -> None:
        for name, labels in zip(names, label_maps):
            write_label_map(label_map_path(partial.parent, partial.name, name), labels)

    _write_folder(folder, write)


class DavisProtocol(Protocol):
    """DAVIS semi-supervised: J / F mean, recall, decay and J&F (:mod:`siammask.evaluation.davis`)."""

    name = "davis"
    sequences = MASK
    parameters = ("bound_th",)
    columns = (("JF_mean", "J&F"), ("J_mean", "J mean"), ("J_mean_ci95", "J mean 95 % interval"),
               ("J_recall", "J recall"), ("J_decay", "J decay"),
               ("F_mean", "F mean"), ("F_recall", "F recall"), ("F_decay", "F decay"))
    sequence_columns = ("J_mean", "F_mean", "JF_mean")
    headline = "JF_mean"

    def __init__(self, params: Mapping[str, Any] | None = None, benchmark: str = "?") -> None:
        super().__init__(params, benchmark)
        self.bound_th = float(self.params["bound_th"])

    def finished_path(self, out: Path, sequence: str) -> Path:
        return out / sequence

    def run(self, tracker: TrackerLike, seq: MaskSequence, out: Path) -> None:
        _write_label_maps(out / seq.name, seq.frames.names, run_vos(tracker, seq))

    def score(self, seq: MaskSequence, out: Path) -> tuple[dict, Any]:
        predicted = np.stack([read_label_map(label_map_path(out, seq.name, n), seq.name, seq.image_hw)
                              for n in seq.frames.names])
        if seq.merged:  # e.g. DAVIS 2016 results: 0/255 or any ids, all foreground is the one object
            predicted = (predicted > 0).astype(np.uint8)
        unknown = sorted(set(np.unique(predicted).tolist()) - {0, *seq.object_ids})
        if unknown:
            raise ValueError(f"sequence {seq.name!r}: result masks in {out / seq.name} contain ids {unknown}, "
                             f"the sequence has objects {seq.object_ids}")
        truth = np.stack(seq.labels)  # type: ignore[arg-type]  # a DAVIS-style sequence annotates every frame: no None
        per_object = score_davis_sequence(truth, predicted, seq.object_ids, self.bound_th)
        means = summarise_davis(list(per_object.values()))
        row = {"J_mean": means["J_mean"], "F_mean": means["F_mean"], "JF_mean": means["JF_mean"],
               "objects": {str(k): v for k, v in per_object.items()}}
        return row, list(per_object.values())

    def summarise(self, scores: list) -> tuple[dict, dict]:
        return summarise_davis_dataset(scores), {}


class YtvosProtocol(Protocol):
    """YouTube-VOS validation: no public ground truth, so the run writes the challenge submission
    (``Annotations/<video>/<frame>.png``) and reports only what it wrote."""

    name = "ytvos"
    sequences = MASK
    sequence_columns = ("frames", "objects")

    def finished_path(self, out: Path, sequence: str) -> Path:
        return out / "Annotations" / sequence

    def run(self, tracker: TrackerLike, seq: MaskSequence, out: Path) -> None:
        _write_label_maps(out / "Annotations" / seq.name, seq.frames.names, run_vos(tracker, seq))

    def score(self, seq: MaskSequence, out: Path) -> tuple[dict, Any]:
        return {"frames": len(seq.frames), "objects": len(seq.object_ids)}, None

    def score_saved(self, seq: MaskSequence, out: Path) -> tuple[dict, Any]:
        raise ValueError("YouTube-VOS has no public ground truth for its validation split: nothing to score; "
                         "submit the written Annotations/ folder to the challenge server")


PROTOCOLS: dict[str, type[Protocol]] = {p.name: p for p in (VotProtocol, Vot2020Protocol, OtbProtocol,
                                                             TrackingnetProtocol, Got10kProtocol, DavisProtocol,
                                                             YtvosProtocol)}


def protocol_class(name: str, benchmark: str = "?") -> type[Protocol]:
    """The protocol registered as ``name``; an unknown name raises listing the known ones."""
    if name not in PROTOCOLS:
        raise ValueError(f"benchmark {benchmark!r} lists unknown protocol {name!r}; known: {list(PROTOCOLS)}")
    return PROTOCOLS[name]


def make_protocol(name: str, params: Mapping[str, Any] | None = None, benchmark: str = "?") -> Protocol:
    """The protocol registered as ``name`` with its parameters."""
    return protocol_class(name, benchmark)(params, benchmark)


def benchmark_protocols(benchmark: Mapping[str, Any]) -> dict[str, Protocol]:
    """The protocols a benchmark config lists, in order, each with its config section as parameters."""
    return {name: make_protocol(name, benchmark.get(name, {}), benchmark["name"]) for name in benchmark["protocols"]}
