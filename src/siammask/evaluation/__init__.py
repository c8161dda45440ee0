"""Benchmarks for trackers: VOT (EAO / accuracy / robustness; VOT2020's anchor-based experiment too), OPE (OTB,
LaSOT, UAV123, NfS, TrackingNet), GOT-10k (AO / SR), DAVIS (J&F), and the server submissions of GOT-10k test, TrackingNet and YouTube-VOS
(docs/benchmarks_list.md).

Metrics (``vot``, ``vot2020``, ``otb``, ``got10k``, ``davis``, ``region``) are plain numpy / shapely / OpenCV; ``datasets`` reads the
public layouts (one reader per ``reader`` of ``conf/benchmark``), ``results`` the toolkits' result files,
``runners`` drives a tracker through each protocol, ``protocols`` holds one class per protocol (parameters,
runner, scoring, summary, report columns, plots) registered by name, ``benchmark`` runs and scores a whole
benchmark (per attribute / class too) and ``report`` writes metrics.json / metrics.md / plots, other trackers'
results (eval.py ``compare_dir``) and the spread of several runs of ours included.
``baselines`` (the static-box tracker) needs ``siammask.tracking`` and is imported on its own.
"""

from siammask.evaluation.benchmark import Entry, datasets_for, evaluate_protocol, run_benchmark
from siammask.evaluation.datasets import BenchmarkDataset, BoxSequence, MaskSequence
from siammask.evaluation.protocols import PROTOCOLS, Protocol, ProtocolResult
from siammask.evaluation.report import claim_output_folder, write_report
from siammask.evaluation.runners import run_otb, run_vos, run_vot

__all__ = ["PROTOCOLS", "BenchmarkDataset", "BoxSequence", "Entry", "MaskSequence", "Protocol", "ProtocolResult",
           "claim_output_folder", "datasets_for", "evaluate_protocol", "run_benchmark", "run_otb", "run_vos", "run_vot", "write_report"]
