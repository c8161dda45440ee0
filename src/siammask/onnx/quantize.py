"""int8 tracker graphs: static QDQ quantisation (ONNX Runtime) of the template and search branches, calibrated on
the crops a tracker would take from the frames the caller hands in (:mod:`siammask.onnx.calibration`).

Only convolutions with fixed weights are quantised (per output channel): the backbone, adjust layer and heads,
where the time goes. The depthwise correlations (their kernel is a template feature, not a weight), the mask
head and refine at the one chosen RoW per target stay fp32.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from siammask.onnx.calibration import Calibration, calibration_crops
from siammask.tracking.tracker_config import TrackerConfig


class _Feeds:
    """An ONNX Runtime ``CalibrationDataReader``: one input dict per crop pair."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]) -> None:
        self._feeds: Iterator[dict[str, np.ndarray]] = iter(feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._feeds, None)


def quantize_graphs(fp32: Mapping[str, Path], out_dir: Path, calibration: Calibration, config: TrackerConfig,
                    threads: int | None = None) -> dict[str, Path]:
    """int8 ``template`` and ``search`` graphs in ``out_dir``, calibrated on the crops of ``calibration``'s frames; the mask
    graphs copied as they are."""
    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quant_pre_process,
        quantize_static,
    )

    templates, searches = calibration_crops(calibration.pairs(), config)
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    template_session = ort.InferenceSession(str(fp32["template"]), options, providers=["CPUExecutionProvider"])
    features = [template_session.run(None, {"template": t[None]})[0] for t in templates]
    feeds = {"template": [{"template": t[None]} for t in templates],
             "search": [{"template_feature": f, "search": s[None]} for f, s in zip(features, searches)]}
    paths = {}
    for name, path in fp32.items():
        paths[name] = out_dir / path.name
        if name not in feeds:
            shutil.copyfile(path, paths[name])
            continue
        # ONNX Runtime's recommended pre-processing: its graph optimiser folds the exporter's Identity nodes (one
        # per repeated constant, e.g. equal biases), whose convolutions would otherwise stay fp32 between
        # quantise / dequantise pairs (seen with seeded random weights: 50 of 57 convolutions, no speed-up).
        prepared = out_dir / f"{path.stem}.prepared.onnx"
        quant_pre_process(str(path), str(prepared), skip_symbolic_shape=True)
        graph = onnx.load(str(prepared))
        weights = {init.name for init in graph.graph.initializer}
        convs = [node for node in graph.graph.node if node.op_type == "Conv"]
        correlations = [node.name for node in convs if node.input[1] not in weights]
        # reduce_range: 7-bit weights. ONNX Runtime's int8 convolutions on CPUs without VNNI (AVX2) add pairs of
        # u8 x s8 products in 16 bits, which saturate with full-range weights (ONNX Runtime's quantisation guide);
        # measured: the light default's tennis masks fell to IoU 0.83 of fp32's on an AVX2-only EPYC with 8-bit
        # weights, >= 0.9 with 7-bit. One setting on every CPU, so graphs do not depend on the machine.
        quantize_static(str(prepared), str(paths[name]), _Feeds(feeds[name]), quant_format=QuantFormat.QDQ,
                        op_types_to_quantize=["Conv"], nodes_to_exclude=correlations, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax, reduce_range=True)
        prepared.unlink()
    return paths
