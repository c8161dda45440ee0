"""The exported graphs as a tracker runs them: found in (or written to) a folder or the cache beside the
checkpoint, checked against what the tracker is about to run, and answered by ONNX Runtime in place of the
PyTorch network (:class:`OnnxNetwork`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from siammask.checkpoints import load_trained
from siammask.models import SearchOutput, SiamMask
from siammask.onnx.calibration import Calibration, calibration_fingerprint
from siammask.onnx.graphs import export_graphs
from siammask.onnx.identity import (
    MANIFEST,
    ExportSettings,
    cached_graphs,
    check_graphs,
    export_identity,
    file_sha256,
    stamp_graphs,
)
from siammask.onnx.quantize import quantize_graphs
from siammask.tracking.tracker_config import TrackerConfig


def build_graphs(ckpt_path: str | Path, tracker_cfg: TrackerConfig | Mapping, out_dir: str | Path | None = None,
                 precision: str = "fp32", calibration: Calibration | None = None, network: SiamMask | None = None,
                 threads: int | None = None) -> dict[str, Path]:
    """The checked graphs of ``ckpt_path`` for this tracker config: from ``out_dir`` if it already holds them (a
    folder of graphs of another checkpoint or config is refused), else exported there, or in the cache beside the
    checkpoint when ``out_dir`` is None."""
    config = TrackerConfig.from_mapping(tracker_cfg)
    ckpt_path = Path(ckpt_path).expanduser()
    identity = tracker_identity(ckpt_path, config, precision, calibration)

    def build(folder: Path, ident: Mapping) -> dict[str, Path]:
        net = network if network is not None else load_trained(ckpt_path)[0]  # read only to write graphs
        if precision == "fp32":
            return export_graphs(net, folder, ident)
        assert calibration is not None  # tracker_identity refused int8 without calibration frames
        with tempfile.TemporaryDirectory(dir=folder) as scratch:
            fp32 = export_graphs(net, Path(scratch), {**ident, "precision": "fp32"})
            paths = quantize_graphs(fp32, folder, calibration, config, threads)
        stamp_graphs(paths, folder, ident)
        return paths

    if out_dir is None:
        return cached_graphs(ckpt_path, identity, build)
    out_dir = Path(out_dir).expanduser()
    if (out_dir / MANIFEST).is_file():
        return check_graphs(out_dir, identity, ckpt_path)
    if out_dir.is_dir() and any(out_dir.iterdir()):
        raise ValueError(f"output_dir {str(out_dir)!r} holds other files and no exported graphs ({MANIFEST}): give "
                         f"a new or empty folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    return build(out_dir, identity)


class OnnxNetwork:
    """Stands in for :class:`~siammask.models.SiamMask` in the tracker: the same three calls, answered by ONNX
    Runtime sessions of the exported graphs (any number of targets per call). CPU only."""

    def __init__(self, graphs: Mapping[str, Path], network: SiamMask, threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
        # No spin-waiting between runs: a frame alternates four sessions (each with its own thread pool) and the
        # tracker's Python work, and idle pools spinning on the two cores slowed every frame (the light default
        # 39 -> 21 ms, the paper network 207 -> 167 ms per frame; scripts/benchmark_tracking.py).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.sessions = {name: ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
                         for name, path in graphs.items()}
        # What the tracker reads of the network besides its calls: head widths and mask size.
        self.score_head = SimpleNamespace(out_channels=network.score_head.out_channels)
        self.box_head = None if network.box_head is None else SimpleNamespace(out_channels=network.box_head.out_channels)
        self.mask_size = network.mask_size
        self.mask_output_size = network.mask_output_size
        self.num_skips = len(network.skip_indices)
        self.mask_windows_xyxy = network.mask_windows_xyxy  # arithmetic only: where the decoder's masks lie

    def eval(self) -> OnnxNetwork:
        return self

    def to(self, device: str | torch.device) -> OnnxNetwork:
        if torch.device(device).type != "cpu":
            raise ValueError(f"ONNX Runtime graphs run on the CPU, not {device}")
        return self

    def embed_template(self, template: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.sessions["template"].run(None, {"template": _numpy(template)})[0])

    def __call__(self, template_feature: torch.Tensor, search: torch.Tensor, with_mask: bool = True) -> SearchOutput:
        """The exported search graph always computes the mask correlation; ``with_mask=False`` only drops it."""
        outputs = [torch.from_numpy(value) for value in self.sessions["search"].run(
            None, {"template_feature": _numpy(template_feature), "search": _numpy(search)})]
        score = outputs.pop(0)
        box = outputs.pop(0) if self.box_head is not None else None
        return SearchOutput(score, box, outputs[0] if with_mask else None, outputs[1:])

    def masks_at(self, output: SearchOutput, batch_index: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor,
                 centred_boxes_xyxy: torch.Tensor | None = None, refine: bool = True) -> torch.Tensor:
        session = self.sessions["refine" if refine and "refine" in self.sessions else "mask_head"]
        values = {"mask_corr": output.mask_correlation(), "batch_index": batch_index, "rows": rows, "cols": cols,
                  "centred_boxes_xyxy": centred_boxes_xyxy,
                  **{f"skip{i}": skip for i, skip in enumerate(output.skips)}}
        # a graph takes only the inputs its decoder reads (the exporter drops the others)
        feeds = {}
        for graph_input in session.get_inputs():
            value = values.get(graph_input.name)
            if value is None:
                raise ValueError(f"the {graph_input.name} input of the exported mask graph was not given to masks_at")
            feeds[graph_input.name] = _numpy(value)
        return torch.from_numpy(session.run(None, feeds)[0])


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(tensor.detach().cpu().numpy())


def tracker_identity(ckpt_path: str | Path, config: TrackerConfig, precision: str,
                     calibration: Calibration | None) -> dict:
    """The identity (:func:`~siammask.onnx.identity.export_identity`) of the graphs a tracker with ``config``
    runs."""
    fingerprint = calibration_fingerprint(precision, calibration)
    return export_identity(file_sha256(ckpt_path), ExportSettings(config.exemplar_size, config.search_size,
                                                                  precision=precision, calibration=fingerprint))
