"""The network as ONNX graphs, between the network (:mod:`siammask.models`) and the tracker's backends
(:mod:`siammask.tracking.backends`): export (:mod:`~siammask.onnx.graphs`), identity, check and cache
(:mod:`~siammask.onnx.identity`), int8 quantisation (:mod:`~siammask.onnx.quantize`) on calibration frames the
caller hands in (:mod:`~siammask.onnx.calibration`), and the graphs as a tracker runs them
(:mod:`~siammask.onnx.runtime`). ``python -m siammask.export`` writes them for a checkpoint.

The ``onnx`` and ``onnxruntime`` packages are imported only where a graph is written, read or run.
"""

from siammask.onnx.calibration import Calibration, folder_calibration
from siammask.onnx.graphs import export_graphs, export_mask_graphs, export_onnx
from siammask.onnx.identity import MANIFEST, ExportSettings, check_graphs, export_identity
from siammask.onnx.quantize import quantize_graphs
from siammask.onnx.runtime import OnnxNetwork, build_graphs, tracker_identity

__all__ = ["MANIFEST", "Calibration", "ExportSettings", "OnnxNetwork", "build_graphs", "check_graphs",
           "export_graphs", "export_identity", "export_mask_graphs", "export_onnx", "folder_calibration",
           "quantize_graphs", "tracker_identity"]
