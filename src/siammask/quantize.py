"""int8 tracker graphs: static QDQ quantisation (ONNX Runtime) of the template and search branches, calibrated on
the crops a tracker would take, from the synthetic videos or from the user's own frames.

Only convolutions with fixed weights are quantised (per output channel): the backbone, adjust layer and heads,
where the time goes. The depthwise correlations (their kernel is a template feature, not a weight), the mask
head and refine at the one chosen RoW per target stay fp32.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from siammask.tracking.geometry import pad_colour, search_window, template_crop
from siammask.tracking.io import IMAGE_SUFFIXES, read_image_rgb
from siammask.tracking.tracker_config import TrackerConfig

CALIBRATION_PAIRS = 8  # template / search crop pairs: ranges settle within a few crops of one kind of footage
SYNTHETIC_SEED = 20190617  # calibration videos, distinct from training and benchmark seeds
# Boxes placed on the user's frames, which come without annotations: centre (x, y) and side, fractions of the image.
FOLDER_BOXES = ((0.5, 0.5, 0.3), (0.3, 0.4, 0.2), (0.7, 0.6, 0.25))

Pair = tuple[np.ndarray, np.ndarray, np.ndarray]  # template frame, its box xyxy (image pixels), the next frame


def calibration_fingerprint(calibration: str | None) -> str:
    """What the int8 graphs are calibrated on, for the graphs' identity; refuses a missing source up front."""
    if calibration is None or str(calibration).strip() == "":
        raise ValueError("backend=onnxruntime_int8 needs calibration frames: calibration=synthetic (crops of the "
                         "synthetic videos) or calibration=<folder of your frames>")
    if calibration == "synthetic":
        return f"synthetic:{SYNTHETIC_SEED}:{CALIBRATION_PAIRS}"
    digest = hashlib.sha256()
    for path in sorted({path for pair in _folder_pairs(Path(calibration).expanduser()) for path in pair}):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return f"frames:{digest.hexdigest()[:16]}:{CALIBRATION_PAIRS}"


def _folder_pairs(folder: Path) -> list[tuple[Path, Path]]:
    """Up to CALIBRATION_PAIRS (frame, next frame) pairs spread over the folder's images."""
    if not folder.is_dir():
        raise NotADirectoryError(f"calibration={str(folder)!r} is not a folder: give a folder of frames (images) "
                                 f"or calibration=synthetic")
    frames = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if len(frames) < 2:
        raise ValueError(f"calibration folder {str(folder)!r} holds {len(frames)} image(s): int8 calibration needs "
                         f"at least 2 frames (search crops come from the frame after a template's)")
    picked = np.linspace(0, len(frames) - 2, min(CALIBRATION_PAIRS, len(frames) - 1)).round().astype(int)
    return [(frames[i], frames[i + 1]) for i in picked]


def calibration_pairs(calibration: str) -> list[Pair]:
    """Crop pairs: a synthetic target's first frame and box and a later frame, or, on the user's frames (which
    come without annotations), boxes placed at FOLDER_BOXES."""
    if calibration == "synthetic":
        from siammask.datamodules.synthetic import SyntheticVideos

        videos = SyntheticVideos(num_videos=CALIBRATION_PAIRS, num_frames=4, seed=SYNTHETIC_SEED)
        return [(videos.render(v, 0)[0], videos.render(v, 0)[1][0], videos.render(v, 3)[0])
                for v in range(CALIBRATION_PAIRS)]
    pairs = []
    for n, (first, following) in enumerate(_folder_pairs(Path(calibration).expanduser())):
        image = read_image_rgb(first)
        h, w = image.shape[:2]
        cx, cy, side = FOLDER_BOXES[n % len(FOLDER_BOXES)]
        half = side * min(h, w) / 2
        pairs.append((image, np.array([cx * w - half, cy * h - half, cx * w + half, cy * h + half]),
                      read_image_rgb(following)))
    return pairs


def calibration_crops(pairs: list[Pair], config: TrackerConfig) -> tuple[np.ndarray, np.ndarray]:
    """(N, 3, 127, 127) templates and (N, 3, 255, 255) search crops, float32 RGB 0-255 as the tracker feeds them."""
    templates, searches = [], []
    for first, box_xyxy, following in pairs:
        pad = pad_colour(config.geometry, first)
        centre, size = (box_xyxy[:2] + box_xyxy[2:]) / 2, box_xyxy[2:] - box_xyxy[:2]
        templates.append(template_crop(config.geometry, first, centre, size, config.context_amount,
                                       config.exemplar_size, pad))
        window = search_window(config.geometry, centre, size, config.context_amount, config.exemplar_size,
                               config.search_size, following.shape[:2])
        searches.append(window.crop(following, pad))
    as_chw = (lambda crops: np.stack(crops).transpose(0, 3, 1, 2).astype(np.float32))
    return as_chw(templates), as_chw(searches)


class _Feeds:
    """An ONNX Runtime ``CalibrationDataReader``: one input dict per crop pair."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]) -> None:
        self._feeds: Iterator[dict[str, np.ndarray]] = iter(feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._feeds, None)


def quantize_graphs(fp32: Mapping[str, Path], out_dir: Path, calibration: str, config: TrackerConfig,
                    threads: int | None = None) -> dict[str, Path]:
    """int8 ``template`` and ``search`` graphs in ``out_dir``, calibrated on ``calibration``'s crops; the mask
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

    templates, searches = calibration_crops(calibration_pairs(calibration), config)
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
        quantize_static(str(prepared), str(paths[name]), _Feeds(feeds[name]), quant_format=QuantFormat.QDQ,
                        op_types_to_quantize=["Conv"], nodes_to_exclude=correlations, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax)
        prepared.unlink()
    return paths
