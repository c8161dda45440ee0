"""Benchmarks for trackers: VOT (EAO / accuracy / robustness), OTB (OPE), DAVIS (J&F), YouTube-VOS (writer).

Metrics (``vot``, ``otb``, ``davis``, ``region``) are plain numpy / shapely / OpenCV; ``datasets`` reads the
public layouts, ``results`` the toolkits' result files, ``runners`` drives a tracker through each protocol,
``benchmark`` runs and scores a whole benchmark and ``report`` writes metrics.json / metrics.md / plots.
``baselines`` (the static-box tracker) needs ``siammask.tracking`` and is imported on its own.
"""

from siammask.evaluation.benchmark import Entry, ProtocolResult, evaluate_protocol, run_benchmark
from siammask.evaluation.datasets import BoxSequence, Dataset, MaskSequence, datasets_for
from siammask.evaluation.report import claim_output_folder, write_report
from siammask.evaluation.runners import run_otb, run_vos, run_vot

__all__ = ["BoxSequence", "Dataset", "Entry", "MaskSequence", "ProtocolResult", "claim_output_folder",
           "datasets_for", "evaluate_protocol", "run_benchmark", "run_otb", "run_vos", "run_vot", "write_report"]
