"""Tracking speed on this CPU: the original release (optional), and this project's networks on each backend, for
1, 2, 4, 8 targets. Prints Markdown tables (the README's), optionally writes them as JSON.

    .venv/bin/python scripts/benchmark_tracking.py [release_root=/path/to/foolwood/SiamMask] [threads=2]
        [max_frames=70] [targets=[1,2,4,8]] [json=out.json]          (conf/benchmark_tracking.yaml)

Per-frame time is the wall time of one ``Tracker.track`` call (crop, network, post-processing: the whole frame;
frames are decoded beforehand), median over the tracked frames (the first frame, initialisation, excluded), as
track.py's timing.json. Networks: the paper's SiamMask-sharp (ResNet-50, refine) and the light default
(experiment=quick), seeded random weights (speed does not depend on them). With ``release_root`` (a checkout of
github.com/foolwood/SiamMask, run as it is with the shims of scripts/compare_with_release.py) the release's own
tracker runs first, and the paper network of every backend loads the very same weights, converted from the
release's file, with the release's DAVIS settings. The int8 graphs are calibrated on the synthetic videos.

The machine must be quiet: the header records the CPU and the 1-minute load average before and after.
"""

from __future__ import annotations

import copy
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from itertools import islice
from pathlib import Path

import cv2
import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from siammask.datamodules.synthetic import synthetic_calibration

from siammask.command import command, compose_config
from siammask.crop import PAPER_CROP
from siammask.geometry import xywh_to_xyxy
from siammask.models import SiamMask
from siammask.onnx import OnnxNetwork, export_graphs, quantize_graphs
from siammask.tracking import Tracker, TrackerConfig, open_frames
from siammask.tracking.backends import BACKENDS, pytorch_network
from siammask.tracking.loading import tracker_preset
from siammask.tracking.timing import cpu_model, load_average

ROOT = Path(__file__).resolve().parents[1]
PAPER = ["model/backbone=paper_resnet50", "model.neck.out_channels=256", "model.head.hidden_channels=256",
         "model/refine=sharp", "model.refine.batch_norm=false"]  # the release's refine, without the default's BNs
NETWORKS = {"paper SiamMask-sharp": PAPER, "light default (experiment=quick)": ["experiment=quick"]}
# PyTorch inference options compared (load_tracker's fold_batchnorm / channels_last).
PYTORCH_OPTIONS = {"pytorch": {}, "pytorch, BN folded": {"fold_batchnorm": True},
                   "pytorch, BN folded, channels-last": {"fold_batchnorm": True, "channels_last": True}}
GRAPH_SETTINGS = {"exemplar_size": PAPER_CROP.exemplar_size, "search_size": PAPER_CROP.search_size, "opset": 17}


def configured_network(overrides: list[str]) -> SiamMask:
    torch.manual_seed(0)
    return instantiate(compose_config("train", overrides).model).network.eval()


def davis_config() -> TrackerConfig:
    """The davis preset as track.py composes it (it inherits vot and interpolates the crop node)."""
    return TrackerConfig.from_mapping(tracker_preset("davis"))


def backend_networks(network: SiamMask, config: TrackerConfig, workdir: Path, threads: int,
                     backends: list[str]) -> dict[str, Callable[[], SiamMask | OnnxNetwork]]:
    """Row name -> a maker of the network as that backend runs it (made when its row is timed)."""
    makers: dict[str, Callable[[], SiamMask | OnnxNetwork]] = {}
    if "pytorch" in backends:
        for name, options in PYTORCH_OPTIONS.items():
            makers[name] = (lambda o=options: pytorch_network(copy.deepcopy(network), config, **o))
    graphs: dict[str, dict] = {}

    def onnx(precision: str) -> OnnxNetwork:
        if "fp32" not in graphs:
            graphs["fp32"] = export_graphs(network, workdir / "fp32", GRAPH_SETTINGS)
        if precision == "int8" and "int8" not in graphs:
            (workdir / "int8").mkdir(exist_ok=True)
            graphs["int8"] = quantize_graphs(graphs["fp32"], workdir / "int8", synthetic_calibration(),
                                             config, threads)
        return OnnxNetwork(graphs[precision], network, threads)

    if "onnxruntime" in backends:
        makers["onnxruntime"] = lambda: onnx("fp32")
    if "onnxruntime_int8" in backends:
        makers["onnxruntime_int8"] = lambda: onnx("int8")
    return makers


def search_gflop(network: SiamMask) -> float:
    """Floating-point operations (multiply and add counted apart) of one target's search crop: backbone, heads,
    and the mask (refine) at one RoW, as the tracker runs them per frame."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad():
        template = network.embed_template(torch.zeros(1, 3, PAPER_CROP.exemplar_size, PAPER_CROP.exemplar_size))
        with FlopCounterMode(display=False) as counter:
            output = network(template, torch.zeros(1, 3, PAPER_CROP.search_size, PAPER_CROP.search_size))
            centre = torch.tensor([output.score.shape[-1] // 2])
            network.masks_at(output, torch.tensor([0]), centre, centre)
    return counter.get_total_flops() / 1e9


def target_boxes(count: int, first_xywh: tuple[float, ...], image_hw: tuple[int, int]) -> np.ndarray:
    """(count, 4) xyxy: the given box, then 100 px squares spread over the image (other, overlapping targets)."""
    h, w = image_hw
    boxes = [xywh_to_xyxy(np.array(first_xywh))]
    for i in range(1, count):
        x = (w - 100) * ((i * 0.37) % 1.0)
        y = (h - 100) * ((i * 0.61) % 1.0)
        boxes.append(np.array([x, y, x + 100, y + 100]))
    return np.stack(boxes)


def time_tracker(network: SiamMask | OnnxNetwork, config: TrackerConfig, frames: list[np.ndarray],
                 boxes_xyxy: np.ndarray) -> dict[str, float]:
    tracker = Tracker(network, config)
    tracker.init(frames[0], boxes_xyxy)
    totals, stages = [], []
    for frame in frames[1:]:
        start = time.perf_counter()
        tracker.track(frame)
        totals.append(time.perf_counter() - start)
        stages.append(tracker.timings)
    result = {"ms": statistics.median(totals) * 1000}
    for name in ("crop", "network", "post"):
        result[name] = statistics.median(getattr(s, name) for s in stages) * 1000
    return result


def time_release(release_root: Path, frame_paths: list[Path], box_xywh: tuple[float, ...],
                 workdir: Path) -> tuple[float, Path]:
    """The release's own tracker (SiamMask-sharp, DAVIS settings, refine) on seeded random weights: median ms per
    tracked frame, and those weights saved in the release's format."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from compare_with_release import RELEASE_HP, import_release, seeded_release_model

    release = import_release(release_root.resolve())
    images = [cv2.imread(str(p)) for p in frame_paths]
    model = seeded_release_model(release, images[0])
    ckpt = workdir / "release_format.pth"
    torch.save({"epoch": 20, "state_dict": {"module." + k: v for k, v in model.state_dict().items()}}, ckpt)
    x, y, w, h = box_xywh
    times = []
    with torch.no_grad():
        state = release.init(images[0], np.array([x + w / 2, y + h / 2]), np.array([w, h]), model, RELEASE_HP["davis"])
        for image in images[1:]:
            start = time.perf_counter()
            state = release.track(state, image, mask_enable=True, refine_enable=True)
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000, ckpt


def markdown(title: str, columns: list[str], rows: dict[str, list[str]]) -> str:
    lines = [title, "", "| | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    lines += [f"| {name} | " + " | ".join(cells) + " |" for name, cells in rows.items()]
    return "\n".join(lines)


@command("benchmark_tracking")
def main(cfg: DictConfig) -> None:
    unknown = sorted((set(cfg.backends) - set(BACKENDS)) | (set(cfg.networks or ()) - set(NETWORKS)))
    if unknown:
        raise ValueError(f"{unknown}: backends are {', '.join(BACKENDS)}; networks are {', '.join(NETWORKS)}")
    threads, frames_dir = int(cfg.threads), Path(cfg.frames_dir)
    torch.set_num_threads(threads)
    frame_paths = sorted(frames_dir.glob("*.jpg"))[:cfg.max_frames]
    frames = list(islice(open_frames(frames_dir), cfg.max_frames))
    if len(frames) < 2:
        raise ValueError(f"frames_dir={str(frames_dir)!r} needs at least 2 frames")
    load_before = load_average()
    config = davis_config()
    with tempfile.TemporaryDirectory(prefix="benchmark_tracking_") as tmp:  # graphs and weights, ~200 MB
        figures = time_all(cfg, Path(tmp), frame_paths, frames, config)
    figures["machine"] = {"cpu": cpu_model(), "threads": threads, "load_average_1min_before": load_before,
                          "load_average_1min_after": load_average(), "torch": torch.__version__,
                          "frames": len(frames) - 1, "frames_dir": str(frames_dir)}
    print(report(figures, list(cfg.targets)))
    if cfg.json is not None:
        Path(cfg.json).write_text(json.dumps(figures, indent=2))


def time_all(cfg: DictConfig, workdir: Path, frame_paths: list[Path], frames: list[np.ndarray],
             config: TrackerConfig) -> dict[str, dict]:
    """The release (optional), then every network on every backend: the figures before the machine record."""
    figures: dict[str, dict] = {"release": None, "networks": {}}
    networks = {name: NETWORKS[name] for name in cfg.networks or NETWORKS}
    paper_name = next(iter(NETWORKS))
    release_ms = None
    box_xywh = tuple(float(v) for v in cfg.bbox)
    if cfg.release_root is not None:
        release_root = Path(cfg.release_root)
        if not (release_root / "tools" / "test.py").is_file():
            raise ValueError(f"release_root={str(release_root)!r} is not a checkout of foolwood/SiamMask "
                             "(no tools/test.py)")
        release_ms, release_ckpt = time_release(release_root, frame_paths, box_xywh, workdir)
        figures["release"] = {"ms": release_ms}
    for name, overrides in networks.items():
        if name == paper_name and release_ms is not None:
            from siammask.checkpoints import load_trained

            network = load_trained(release_ckpt)[0]
        else:
            network = configured_network(overrides)
        figures["networks"][name] = {}
        figures.setdefault("gflop_per_target", {})[name] = search_gflop(network)
        folder = workdir / name.split()[0]
        for row, make in backend_networks(network, config, folder, int(cfg.threads), list(cfg.backends)).items():
            made = make()
            figures["networks"][name][row] = {
                str(count): time_tracker(made, config, frames, target_boxes(count, box_xywh, frames[0].shape[:2]))
                for count in cfg.targets}
            print(f"{name}, {row}: " + ", ".join(f"{c} target(s) {v['ms']:.1f} ms"
                                                 for c, v in figures["networks"][name][row].items()), flush=True)
    return figures


def report(figures: dict, targets: list[int]) -> str:
    machine = figures["machine"]
    header = (f"{machine['cpu']}, {machine['threads']} threads, 1-minute load {machine['load_average_1min_before']} "
              f"before / {machine['load_average_1min_after']} after, {machine['frames']} tracked frames, torch "
              f"{machine['torch']}")
    release = figures["release"]
    one = str(targets[0])
    rows = {}
    if release is not None:
        rows["original release (SiamMask-sharp, PyTorch)"] = [f"{release['ms']:.1f}", f"{1000 / release['ms']:.1f}",
                                                              "1.00x"]
    for network, backends in figures["networks"].items():
        gflop = figures["gflop_per_target"][network] * int(one)
        for row, by_count in backends.items():
            ms = by_count[one]["ms"]
            speedup = f"{release['ms'] / ms:.2f}x" if release is not None and "paper" in network else "-"
            rows[f"{network}, {row}"] = [f"{ms:.1f}", f"{1000 / ms:.1f}", speedup, f"{by_count[one]['network']:.1f}",
                                         f"{gflop:.1f}", f"{gflop / by_count[one]['network'] * 1000:.0f}"]
    single = markdown(f"Tracking, {one} target, ms per frame (median, whole frame) - {header}",
                      ["ms / frame", "FPS", "vs release", "network ms", "GFLOP", "GFLOP/s in the network"], rows)
    several = markdown("Several targets: ms per frame (median), and the time relative to one target",
                       [f"{c} target{'s' if c > 1 else ''}" for c in targets],
                       {f"{network}, {row}": [f"{by_count[str(c)]['ms']:.1f} ({by_count[str(c)]['ms'] / by_count[one]['ms']:.2f}x)"
                                              for c in targets]
                        for network, backends in figures["networks"].items() for row, by_count in backends.items()})
    return single + "\n\n" + several


if __name__ == "__main__":
    main()
