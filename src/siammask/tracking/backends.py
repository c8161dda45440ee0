"""What answers the tracker's network calls: PyTorch, or the exported graphs in ONNX Runtime (fp32 or int8).

The tracker's arithmetic is the same for all: a backend only replaces ``embed_template``, the search branch and
``masks_at`` (:class:`OnnxNetwork` stands in for :class:`~siammask.models.SiamMask`). Graphs are exported on
first use into a cache beside the checkpoint, keyed by the checkpoint's content and the export settings
(:mod:`siammask.export`), or read from a folder written by ``python -m siammask.export``.
"""

from __future__ import annotations

import importlib.util
import logging
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from siammask.export import (
    MANIFEST,
    ExportSettings,
    cached_graphs,
    check_graphs,
    export_graphs,
    export_identity,
    file_sha256,
)
from siammask.models import SearchOutput, SiamMask
from siammask.tracking.tracker_config import TrackerConfig

log = logging.getLogger(__name__)

BACKENDS = ("pytorch", "onnxruntime", "onnxruntime_int8")


def check_backend(backend: str, device: str = "cpu", calibration: str | None = None) -> str | None:
    """Refuse an unknown backend, a missing onnxruntime, ONNX Runtime on a GPU and int8 without calibration frames,
    before anything is loaded; returns the calibration's fingerprint (int8) or None."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "pytorch":
        return None
    if importlib.util.find_spec("onnxruntime") is None or importlib.util.find_spec("onnx") is None:
        raise ValueError(f"backend={backend} needs the onnx and onnxruntime packages, which are not installed: "
                         f"`pip install onnx onnxruntime`, or use backend=pytorch")
    if torch.device(device).type != "cpu":
        raise ValueError(f"backend={backend} runs on the CPU (ONNX Runtime's CPU provider): set device=cpu, or use "
                         f"backend=pytorch on {device}")
    if backend == "onnxruntime_int8":
        from siammask.quantize import calibration_fingerprint

        return calibration_fingerprint(calibration)
    return None


def set_threads(threads: int | None) -> None:
    """PyTorch's intra-op threads (ONNX Runtime sessions take theirs from :class:`OnnxNetwork`); None keeps the
    default (one per core)."""
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1 or null (one per core), got {threads}")
        torch.set_num_threads(threads)


def build_graphs(ckpt_path: str | Path, tracker_cfg: TrackerConfig | Mapping, out_dir: str | Path | None = None,
                 precision: str = "fp32", calibration: str | None = None, network: SiamMask | None = None,
                 threads: int | None = None) -> dict[str, Path]:
    """The checked graphs of ``ckpt_path`` for this tracker config: from ``out_dir`` if it already holds them (a
    folder of graphs of another checkpoint or config is refused), else exported there, or in the cache beside the
    checkpoint when ``out_dir`` is None."""
    config = TrackerConfig.from_mapping(tracker_cfg)
    ckpt_path = Path(ckpt_path).expanduser()
    identity = tracker_identity(ckpt_path, config, precision, calibration)

    def build(folder: Path, ident: Mapping) -> dict[str, Path]:
        net = network
        if net is None:  # the checkpoint is read only when graphs are to be written
            from siammask.checkpoints import load_trained

            net = load_trained(ckpt_path)[0]
        if precision == "fp32":
            return export_graphs(net, folder, ident)
        from siammask.export import stamp_graphs
        from siammask.quantize import quantize_graphs

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


def pytorch_network(network: SiamMask, config: TrackerConfig, fold_batchnorm: bool = False,
                    channels_last: bool = False) -> SiamMask:
    """The PyTorch network made cheaper for inference: BatchNorm folded into convolutions, channels-last layout."""
    network.eval()
    if fold_batchnorm:
        from siammask.models.fusion import fold_batchnorm as fold

        def probe(net: SiamMask) -> torch.Tensor:
            generator = torch.Generator().manual_seed(0)
            device = next(net.parameters()).device
            template = torch.rand(1, 3, config.exemplar_size, config.exemplar_size, generator=generator) * 255
            search = torch.rand(1, 3, config.search_size, config.search_size, generator=generator) * 255
            template, search = template.to(device), search.to(device)
            out = net(net.embed_template(template), search)
            parts = [out.score, out.mask_corr, *out.skips] + ([out.box] if out.box is not None else [])
            centre = torch.tensor([out.score.shape[-1] // 2], device=device)
            box = torch.tensor([[-config.exemplar_size / 4, -config.exemplar_size / 4, config.exemplar_size / 4,
                                 config.exemplar_size / 4]], device=device)  # a target's size at the crop centre
            parts.append(net.masks_at(out, torch.tensor([0], device=device), centre, centre, box))  # refine's own BNs
            return torch.cat([part.flatten() for part in parts])

        log.info("folded %d BatchNorm layers into their convolutions", fold(network, probe))
    if channels_last:
        network.to(memory_format=torch.channels_last)
    return network


def runtime_network(network: SiamMask, ckpt_path: str | Path, config: TrackerConfig, backend: str = "pytorch",
                    threads: int | None = None, onnx_dir: str | Path | None = None, calibration: str | None = None,
                    fold_batchnorm: bool = False, channels_last: bool = False) -> SiamMask | OnnxNetwork:
    """``network`` (of ``ckpt_path``) as ``backend`` runs it."""
    set_threads(threads)
    if backend == "pytorch":
        return pytorch_network(network, config, fold_batchnorm, channels_last)
    precision = "int8" if backend == "onnxruntime_int8" else "fp32"
    if onnx_dir is None:  # the cache beside the checkpoint
        graphs = build_graphs(ckpt_path, config, None, precision, calibration, network, threads)
    else:  # a folder the user named must already hold this checkpoint's graphs: never overwritten
        graphs = check_graphs(Path(onnx_dir).expanduser(), tracker_identity(ckpt_path, config, precision, calibration),
                              ckpt_path)
    return OnnxNetwork(graphs, network, threads)


def tracker_identity(ckpt_path: str | Path, config: TrackerConfig, precision: str,
                     calibration: str | None) -> dict:
    """The identity (:func:`siammask.export.export_identity`) of the graphs a tracker with ``config`` runs."""
    fingerprint = check_backend("onnxruntime_int8" if precision == "int8" else "onnxruntime", "cpu", calibration)
    return export_identity(file_sha256(ckpt_path), ExportSettings(config.exemplar_size, config.search_size,
                                                                  precision=precision, calibration=fingerprint))


RUNTIME_KEYS = ("backend", "threads", "onnx_dir", "calibration", "fold_batchnorm", "channels_last")


def runtime_options(cfg: Mapping) -> dict:
    """The ``load_tracker`` keyword arguments an entry point's config gives (conf/track.yaml, conf/eval.yaml)."""
    return {key: cfg[key] for key in RUNTIME_KEYS if key in cfg}
