"""Tracker backends: ONNX Runtime (fp32 / int8) tracks as PyTorch does, graphs are cached and checked against their
checkpoint, bad input is refused before tracking, BatchNorm folding keeps the outputs, track.py writes timing.json."""

from __future__ import annotations

import importlib.util
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from command_line import run_command
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from siammask.datamodules.synthetic import synthetic_calibration
from test_track_script import ROOT, load_track_script, save_tiny_checkpoint, track_config
from tracking_helpers import TENNIS_BOX_XYWH, tiny_network

from siammask.geometry import xywh_to_xyxy
from siammask.models.fusion import fold_batchnorm
from siammask.onnx import (
    MANIFEST,
    OnnxNetwork,
    build_graphs,
    export_graphs,
    folder_calibration,
    quantize_graphs,
)
from siammask.tracking import Tracker, TrackerConfig, load_tracker
from siammask.tracking.backends import pytorch_network
from siammask.tracking.geometry import pad_colour, search_window, template_crop

PAPER_SHARP = ["model/backbone=paper_resnet50", "model.neck.out_channels=256", "model.head.hidden_channels=256",
               "model/refine=sharp", "model.refine.batch_norm=false"]
DEFAULT = ["experiment=quick"]
CONFIG = TrackerConfig()
SECOND_BOX_XYWH = [60.0, 200.0, 120.0, 110.0]
EXPORT_SETTINGS = {"exemplar_size": 127, "search_size": 255, "opset": 17}


def configured_network(overrides: list[str], frame: np.ndarray) -> torch.nn.Module:
    """A seeded random network as conf/ builds it, its mask logits shifted so that masks cover part of their RoW
    (random weights otherwise give all-or-nothing masks, which any backend would match)."""
    torch.manual_seed(0)
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        network = instantiate(compose("train", overrides=overrides).model).network.eval()
    box = xywh_to_xyxy(np.array(TENNIS_BOX_XYWH))
    centre, size = (box[:2] + box[2:]) / 2, box[2:] - box[:2]
    pad = pad_colour(CONFIG.geometry, frame)
    crops = [template_crop(CONFIG.geometry, frame, centre, size, CONFIG.context_amount, CONFIG.exemplar_size, pad),
             search_window(CONFIG.geometry, centre, size, CONFIG.context_amount, CONFIG.exemplar_size,
                           CONFIG.search_size, frame.shape[:2]).crop(frame, pad)]
    template, search = (torch.from_numpy(c).permute(2, 0, 1)[None].float() for c in crops)
    with torch.no_grad():
        output = network(network.embed_template(template), search)
        centre_cell = torch.tensor([output.score.shape[-1] // 2])
        norms = [m for m in network.refine.modules() if isinstance(m, torch.nn.BatchNorm2d)] if network.refine else []
        if norms:  # the refine's BatchNorm statistics of this frame's RoWs, as training leaves them, not N(0, 1)
            for norm in norms:
                norm.reset_running_stats()
                norm.momentum = None  # one batch: its statistics exactly
                norm.train()
            cells = torch.arange(output.score.shape[-1])
            rows, cols = (grid.flatten() for grid in torch.meshgrid(cells, cells, indexing="ij"))
            network.masks_at(output, torch.zeros_like(rows), rows, cols)
            for norm in norms:
                norm.eval()
        logits = network.masks_at(output, torch.tensor([0]), centre_cell, centre_cell)
        last = network.refine.post2 if network.refine is not None else network.mask_head.head[-1]
        last.bias -= float(logits.median()) - float(np.log(CONFIG.seg_thr / (1 - CONFIG.seg_thr)))
    return network


def track(network: torch.nn.Module, frames: list[np.ndarray], boxes_xywh: list[list[float]]) -> list[list]:
    tracker = Tracker(network, CONFIG)
    tracker.init(frames[0], xywh_to_xyxy(np.array(boxes_xywh)))
    return [tracker.track(frame) for frame in frames[1:]]


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.count_nonzero(a | b)
    return np.count_nonzero(a & b) / union if union else 1.0


def assert_close_tracks(reference: list[list], other: list[list], box_px: float, min_iou: float) -> None:
    for frame_reference, frame_other in zip(reference, other):
        for mine, theirs in zip(frame_reference, frame_other):
            assert 1000 < np.count_nonzero(mine.mask) < 0.9 * mine.mask.size  # neither empty nor whole: IoU means something
            assert np.abs(mine.box_xyxy - theirs.box_xyxy).max() <= box_px
            assert mask_iou(mine.mask, theirs.mask) >= min_iou


@pytest.fixture(scope="module")
def default_network(tennis_frames) -> torch.nn.Module:
    return configured_network(DEFAULT, tennis_frames[0])


@pytest.fixture(scope="module")
def default_graphs(default_network, tmp_path_factory) -> dict[str, Path]:
    return export_graphs(default_network, tmp_path_factory.mktemp("default_graphs"), EXPORT_SETTINGS)


@pytest.mark.xdist_group("backends_default")
def test_onnxruntime_tracks_two_targets_of_the_default_network_as_pytorch(default_network, default_graphs,
                                                                          tennis_frames) -> None:
    boxes = [TENNIS_BOX_XYWH, SECOND_BOX_XYWH]
    reference = track(default_network, tennis_frames, boxes)
    assert_close_tracks(reference, track(OnnxNetwork(default_graphs, default_network), tennis_frames, boxes),
                        box_px=0.5, min_iou=0.99)


@pytest.mark.xdist_group("backends_default")
def test_int8_graphs_calibrated_on_the_tennis_frames_keep_the_masks(tennis_dir: Path, default_network, default_graphs, tennis_frames,
                                                                      tmp_path) -> None:
    int8 = quantize_graphs(default_graphs, tmp_path, folder_calibration(tennis_dir), CONFIG, threads=1)
    reference = track(default_network, tennis_frames, [TENNIS_BOX_XYWH])
    assert_close_tracks(reference, track(OnnxNetwork(int8, default_network), tennis_frames, [TENNIS_BOX_XYWH]),
                        box_px=np.inf, min_iou=0.9)


@pytest.mark.xdist_group("backends_default")
def test_int8_graphs_run_every_weighted_convolution_in_int8(default_graphs, tmp_path) -> None:
    """Seeded random weights give many equal (zero) BatchNorm biases, which the exporter shares through Identity
    nodes; those convolutions must still become ONNX Runtime's QLinearConv, not fp32 between (de)quantisers."""
    import onnx
    import onnxruntime as ort

    int8 = quantize_graphs(default_graphs, tmp_path, synthetic_calibration(), CONFIG, threads=1)
    # the search graph's three depthwise correlations (score, box, mask heads) take template features as weights
    for name, correlations in (("template", 0), ("search", 3)):
        convs = [node for node in onnx.load(str(default_graphs[name])).graph.node if node.op_type == "Conv"]
        options = ort.SessionOptions()
        options.optimized_model_filepath = str(tmp_path / f"{name}.optimized.onnx")
        ort.InferenceSession(str(int8[name]), options, providers=["CPUExecutionProvider"])
        ops = [node.op_type for node in onnx.load(options.optimized_model_filepath).graph.node]
        assert ops.count("Conv") == correlations, name
        assert ops.count("QLinearConv") == len(convs) - correlations, name


def test_onnxruntime_tracks_the_paper_network_as_pytorch(tennis_frames, tmp_path) -> None:
    network = configured_network(PAPER_SHARP, tennis_frames[0])  # ~34 GFLOP a frame: two tracked frames
    frames = tennis_frames[:3]
    reference = track(network, frames, [TENNIS_BOX_XYWH])
    graphs = export_graphs(network, tmp_path, EXPORT_SETTINGS)
    assert set(graphs) == {"template", "search", "mask_head", "refine"}
    assert_close_tracks(reference, track(OnnxNetwork(graphs, network), frames, [TENNIS_BOX_XYWH]), box_px=0.5,
                        min_iou=0.99)


@pytest.fixture()
def checkpoint(tmp_path) -> Path:
    path = tmp_path / "model.ckpt"
    save_tiny_checkpoint(path)
    return path


def test_graphs_are_exported_on_first_use_beside_the_checkpoint_and_reused(checkpoint, tennis_frames) -> None:
    first = load_tracker(checkpoint, TrackerConfig(), backend="onnxruntime", threads=1)
    folders = list((checkpoint.parent / "model.ckpt.onnx").iterdir())
    assert len(folders) == 1 and (folders[0] / MANIFEST).is_file()
    stamp = (folders[0] / "search.onnx").stat().st_mtime_ns
    second = load_tracker(checkpoint, TrackerConfig(), backend="onnxruntime", threads=1)
    assert (folders[0] / "search.onnx").stat().st_mtime_ns == stamp  # not exported again
    reference = load_tracker(checkpoint, TrackerConfig(), fold_batchnorm=False)
    for tracker in (first, second, reference):
        tracker.init(tennis_frames[0], xywh_to_xyxy(TENNIS_BOX_XYWH))
    expected = reference.track(tennis_frames[1])[0]
    for tracker in (first, second):
        np.testing.assert_allclose(tracker.track(tennis_frames[1])[0].box_xyxy, expected.box_xyxy, atol=1e-3)
    load_tracker(checkpoint, {"search_size": 239}, backend="onnxruntime", threads=1)  # other settings, other key
    assert len(list((checkpoint.parent / "model.ckpt.onnx").iterdir())) == 2


def test_a_cached_graph_of_another_checkpoint_is_rebuilt_with_a_warning(checkpoint, tmp_path, caplog) -> None:
    other = tmp_path / "other" / "model.ckpt"
    torch.manual_seed(1)
    save_tiny_checkpoint(other)
    load_tracker(checkpoint, TrackerConfig(), backend="onnxruntime", threads=1)
    load_tracker(other, TrackerConfig(), backend="onnxruntime", threads=1)
    cached = next((checkpoint.parent / "model.ckpt.onnx").iterdir())
    shutil.copyfile(next((other.parent / "model.ckpt.onnx").iterdir()) / "search.onnx", cached / "search.onnx")
    with caplog.at_level(logging.WARNING):
        load_tracker(checkpoint, TrackerConfig(), backend="onnxruntime", threads=1)
    assert "rebuilding the ONNX cache" in caplog.text and "checkpoint_sha256" in caplog.text
    build_graphs(checkpoint, {}, cached)  # the rebuilt folder matches its checkpoint again


def test_a_named_onnx_dir_of_another_checkpoint_or_config_is_refused(checkpoint, tmp_path) -> None:
    other = tmp_path / "other.ckpt"
    torch.manual_seed(1)
    save_tiny_checkpoint(other)
    exported = tmp_path / "exported"
    build_graphs(other, {}, exported)
    with pytest.raises(ValueError, match=r"does not belong to checkpoint .*model\.ckpt.*checkpoint_sha256"):
        load_tracker(checkpoint, TrackerConfig(), backend="onnxruntime", onnx_dir=exported)
    with pytest.raises(ValueError, match="search_size is 255, expected 239"):
        load_tracker(other, {"search_size": 239}, backend="onnxruntime", onnx_dir=exported)
    assert load_tracker(other, TrackerConfig(), backend="onnxruntime", onnx_dir=exported).num_targets == 0


def test_bad_backend_input_is_refused_before_the_checkpoint_is_read(tmp_path, monkeypatch) -> None:
    unread = tmp_path / "absent.ckpt"  # never opened: each refusal comes first
    with pytest.raises(ValueError, match="needs calibration frames: calibration=synthetic"):
        load_tracker(unread, TrackerConfig(), backend="onnxruntime_int8")
    with pytest.raises(NotADirectoryError, match="calibration="):
        load_tracker(unread, TrackerConfig(), backend="onnxruntime_int8", calibration=folder_calibration(tmp_path / "nowhere"))
    with pytest.raises(ValueError, match="backend must be one of"):
        load_tracker(unread, TrackerConfig(), backend="tensorrt")
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else
                        find_spec(name, *a))
    with pytest.raises(ValueError, match="needs the onnx and onnxruntime packages"):
        load_tracker(unread, TrackerConfig(), backend="onnxruntime")


def test_export_command_writes_graphs_that_track_and_refuses_to_overwrite_another_checkpoints(checkpoint,
                                                                                              tmp_path) -> None:
    from siammask.export import main

    out = tmp_path / "graphs"
    assert run_command(main, f"ckpt_path={checkpoint}", f"output_dir={out}", run_dir=tmp_path) == 0
    assert {p.name for p in out.iterdir()} >= {"template.onnx", "search.onnx", "mask_head.onnx", MANIFEST}
    load_tracker(checkpoint, {"seg_thr": 0.35}, backend="onnxruntime", onnx_dir=out)  # davis preset's sizes
    other = tmp_path / "other.ckpt"
    torch.manual_seed(1)
    save_tiny_checkpoint(other)
    assert run_command(main, f"ckpt_path={other}", f"output_dir={out}", run_dir=tmp_path) == 1
    assert not list(tmp_path.glob("*.log")) and not (tmp_path / ".hydra").exists()  # writes only its output_dir


@pytest.mark.parametrize("refine", [False, True])
def test_folding_batchnorm_keeps_the_tracks(refine, tennis_frames) -> None:
    network = tiny_network(refine=refine)
    reference = track(network, tennis_frames, [TENNIS_BOX_XYWH])
    batchnorms = sum(isinstance(m, torch.nn.BatchNorm2d) for m in network.modules())
    folded = fold_batchnorm(network, lambda net: net.embed_template(torch.rand(1, 3, 127, 127,
                            generator=torch.Generator().manual_seed(0)) * 255).flatten())
    assert 0 < folded and sum(isinstance(m, torch.nn.BatchNorm2d) for m in network.modules()) < batchnorms
    for mine, theirs in zip(reference, track(network, tennis_frames, [TENNIS_BOX_XYWH])):
        np.testing.assert_allclose(mine[0].box_xyxy, theirs[0].box_xyxy, atol=1e-3)
        assert mask_iou(mine[0].mask, theirs[0].mask) >= 0.999


def test_the_tracker_folds_the_batchnorms_of_a_normalised_refine_too(tennis_frames) -> None:
    reference = track(tiny_network(refine=True, batch_norm=True), tennis_frames, [TENNIS_BOX_XYWH])
    network = pytorch_network(tiny_network(refine=True, batch_norm=True), TrackerConfig(), fold_batchnorm=True)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in network.refine.modules())  # 12 before
    for mine, theirs in zip(reference, track(network, tennis_frames, [TENNIS_BOX_XYWH])):
        np.testing.assert_allclose(mine[0].box_xyxy, theirs[0].box_xyxy, atol=1e-3)
        assert mask_iou(mine[0].mask, theirs[0].mask) >= 0.999


def test_track_script_writes_timing_json_over_the_tracked_frames(tennis_dir: Path, tmp_path) -> None:
    tracker = Tracker(tiny_network(), TrackerConfig())
    cfg = track_config(f"input={tennis_dir}", f"bbox=[{TENNIS_BOX_XYWH},{SECOND_BOX_XYWH}]", "max_frames=3",
                       f"output_dir={tmp_path}", "overlay=false", "threads=1")
    load_track_script().run(cfg, tracker=tracker)
    timing = json.loads((tmp_path / "timing.json").read_text())
    assert timing["frames"] == 2 and timing["targets"] == 2  # the first frame (initialisation) is not timed
    assert timing["backend"] == "pytorch" and timing["threads"] == 1
    stages = timing["stages_median_ms"]
    assert set(stages) == {"crop", "network", "post"} and all(v > 0 for v in stages.values())
    assert timing["median_ms_per_frame"] >= stages["network"]
    assert timing["cpu"] and timing["load_average_1min"] >= 0


def test_eval_script_tracks_with_the_chosen_backend(checkpoint, tmp_path) -> None:
    eval_script = importlib.import_module("siammask.cli.eval")
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("eval", overrides=[f"ckpt_path={checkpoint}", "backend=onnxruntime", "threads=1"])
    entries, _ = eval_script.tracker_entries(cfg, tmp_path)
    assert isinstance(entries[0].make_tracker().network, OnnxNetwork)
