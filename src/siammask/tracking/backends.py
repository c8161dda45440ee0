"""What answers the tracker's network calls: PyTorch, or the exported graphs in ONNX Runtime (fp32 or int8).

The tracker's arithmetic is the same for all: a backend only replaces ``embed_template``, the search branch and
``masks_at`` (:class:`OnnxNetwork` stands in for :class:`~siammask.models.SiamMask`). Graphs are exported on
first use into a cache beside the checkpoint, keyed by the checkpoint's content and the export settings
(:mod:`siammask.onnx`), or read from a folder written by ``python -m siammask.export``.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import torch

from siammask.models import SiamMask
from siammask.onnx import Calibration, OnnxNetwork, build_graphs, check_graphs, tracker_identity
from siammask.onnx.calibration import calibration_fingerprint
from siammask.precision import choose_precision
from siammask.tracking.bf16_network import Bf16Network
from siammask.tracking.tracker_config import TrackerConfig

log = logging.getLogger(__name__)

BACKENDS = ("pytorch", "onnxruntime", "onnxruntime_int8")


def check_backend(backend: str, device: str = "cpu", calibration: Calibration | None = None) -> None:
    """Refuse an unknown backend, a missing onnxruntime, ONNX Runtime on a GPU and int8 without calibration frames,
    before anything is loaded."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "pytorch":
        return
    if importlib.util.find_spec("onnxruntime") is None or importlib.util.find_spec("onnx") is None:
        raise ValueError(f"backend={backend} needs the onnx and onnxruntime packages, which are not installed: "
                         f"`pip install onnx onnxruntime`, or use backend=pytorch")
    if torch.device(device).type != "cpu":
        raise ValueError(f"backend={backend} runs on the CPU (ONNX Runtime's CPU provider): set device=cpu, or use "
                         f"backend=pytorch on {device}")
    calibration_fingerprint("int8" if backend == "onnxruntime_int8" else "fp32", calibration)


PRECISIONS = ("fp32", "bf16", "auto")


def network_precision(precision: str, backend: str, config: TrackerConfig, device: str = "cpu") -> str:
    """``fp32`` or ``bf16`` for ``precision`` (``fp32 | bf16 | auto``). bf16 is a PyTorch backend's: ONNX Runtime's
    CPU provider has no bf16 convolution kernels, so its graphs stay fp32 (or int8). ``auto`` measures this machine
    (:func:`siammask.precision.choose_precision`, cached) and keeps fp32 for ``geometry=release``, whose purpose is
    the release's tracks to the last digit."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "bf16" and backend != "pytorch":
        raise ValueError(f"precision=bf16 runs the PyTorch network in bf16; backend={backend} runs fp32 / int8 "
                         f"graphs: use backend=pytorch precision=bf16, or precision=fp32")
    if precision != "auto":
        return precision
    if backend != "pytorch" or config.geometry == "release":
        return "fp32"
    choice = choose_precision("inference", device)
    log.info("tracking precision %s: %s", choice.precision, choice.reason)
    return choice.precision


def set_threads(threads: int | None) -> None:
    """PyTorch's intra-op threads (ONNX Runtime sessions take theirs from :class:`OnnxNetwork`); None keeps the
    default (one per core)."""
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1 or null (one per core), got {threads}")
        torch.set_num_threads(threads)


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
                    threads: int | None = None, onnx_dir: str | Path | None = None,
                    calibration: Calibration | None = None, fold_batchnorm: bool = False,
                    channels_last: bool = False, precision: str = "fp32",
                    device: str = "cpu") -> SiamMask | OnnxNetwork | Bf16Network:
    """``network`` (of ``ckpt_path``) as ``backend`` runs it, in ``precision`` (:func:`network_precision`)."""
    set_threads(threads)
    chosen = network_precision(precision, backend, config, device)
    if backend == "pytorch":
        prepared = pytorch_network(network, config, fold_batchnorm, channels_last)
        return Bf16Network(prepared) if chosen == "bf16" else prepared
    precision = "int8" if backend == "onnxruntime_int8" else "fp32"
    if onnx_dir is None:  # the cache beside the checkpoint
        graphs = build_graphs(ckpt_path, config, None, precision, calibration, network, threads)
    else:  # a folder the user named must already hold this checkpoint's graphs: never overwritten
        graphs = check_graphs(Path(onnx_dir).expanduser(), tracker_identity(ckpt_path, config, precision, calibration),
                              ckpt_path)
    return OnnxNetwork(graphs, network, threads)

