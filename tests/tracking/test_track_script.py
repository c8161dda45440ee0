"""track.py end to end, checkpoint discovery and loading."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from tracking_helpers import BAG, BAG_BOX_XYWH, TENNIS, TENNIS_BOX_XYWH, tiny_network

from siammask.tracking import Tracker, TrackerConfig, latest_checkpoint, load_tracker

ROOT = Path(__file__).resolve().parents[2]


def load_track_script():
    spec = importlib.util.spec_from_file_location("track_script", ROOT / "track.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def track_config(*overrides: str):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose("track", overrides=["progress=false", *overrides])


def save_tiny_checkpoint(path: Path, ratios: tuple[float, ...] = (0.33, 0.5, 1.0, 2.0, 3.0)) -> None:
    """A checkpoint in the project's Lightning layout: network hyper-parameters + ``network.*`` weights."""
    from siammask.lit.network_config import build_network

    head = {name: {"_target_": "siammask.models.XCorrHead", "_partial_": True, "hidden_channels": 16}
            for name in ("score", "box", "mask")}
    backbone = {"_target_": "siammask.models.TimmBackbone", "name": "resnet18", "out_indices": [0, 1, 2]}
    hparams = {"backbone": backbone,
               "neck": {"_target_": "siammask.models.Adjust", "_partial_": True, "out_channels": 16},
               "head": head, "refine": None, "anchors": {"stride": 8, "ratios": list(ratios), "scales": [8.0]}}
    network = build_network(hparams["backbone"], hparams["neck"], head, None, len(ratios))
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"hyper_parameters": hparams,
                "state_dict": {f"network.{k}": v for k, v in network.state_dict().items()}}, path)


def read_video_frames(path: Path) -> int:
    capture = cv2.VideoCapture(str(path))
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    return count


def test_track_writes_json_masks_and_overlay_for_a_folder(tmp_path: Path) -> None:
    cfg = track_config(f"input={TENNIS}", f"bbox={TENNIS_BOX_XYWH}", f"output_dir={tmp_path}", "max_frames=4")
    outputs = load_track_script().run(cfg, tracker=Tracker(tiny_network(), TrackerConfig(**cfg.tracker)))
    records = json.loads((tmp_path / "results.json").read_text())
    assert [(r["frame"], r["target"]) for r in records] == [(0, 0), (1, 0), (2, 0), (3, 0)]
    assert records[0]["bbox_xywh"] == TENNIS_BOX_XYWH and records[0]["score"] == 1.0
    assert set(records[1]) == {"frame", "target", "bbox_xywh", "rotated_box", "polygon", "score"}
    assert np.asarray(records[2]["rotated_box"]).shape == (4, 2)
    assert sorted(p.name for p in outputs.masks_dir.iterdir()) == ["00001.png", "00002.png", "00003.png"]
    mask = cv2.imread(str(outputs.masks_dir / "00001.png"), cv2.IMREAD_UNCHANGED)
    assert mask.shape == (480, 854) and set(np.unique(mask)) <= {0, 255}
    assert outputs.overlay_video.exists() and read_video_frames(outputs.overlay_video) == 4


def test_results_report_the_tracker_box_the_mask_rectangle_and_the_box_mode_region(tmp_path: Path) -> None:
    cfg = track_config(f"input={TENNIS}", f"bbox={TENNIS_BOX_XYWH}", f"output_dir={tmp_path}", "max_frames=3",
                       "overlay=false")
    tracker = Tracker(tiny_network(), TrackerConfig(**cfg.tracker))
    load_track_script().run(cfg, tracker=tracker)
    last = json.loads((tmp_path / "results.json").read_text())[-1]
    (cx, cy), (w, h) = tracker._targets.centre_xy[0], tracker._targets.size_wh[0]  # the state after the last frame
    np.testing.assert_allclose(last["bbox_xywh"], [cx - w / 2, cy - h / 2, w, h], atol=1e-3)
    mask = (cv2.imread(str(tmp_path / "masks" / "00002.png"), cv2.IMREAD_GRAYSCALE) > 0).astype(np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    largest = max(contours, key=cv2.contourArea)  # davis preset, geometry=release: the rectangle of pixel centres
    expected = cv2.boxPoints(cv2.minAreaRect(largest.reshape(-1, 2)))
    assert cv2.contourArea(largest) > 100
    np.testing.assert_allclose(np.sort(np.asarray(last["rotated_box"]), axis=0), np.sort(expected, axis=0), atol=2e-3)
    assert last["polygon"] == last["rotated_box"]  # box_mode=min_area_rect: VOT's region is that rectangle


def test_track_names_masks_per_target_for_several_boxes_in_a_video(tmp_path: Path) -> None:
    cfg = track_config(f"input={BAG}", f"bbox=[{BAG_BOX_XYWH},[10,200,80,60]]", f"output_dir={tmp_path}",
                       "max_frames=3", "overlay=false")
    outputs = load_track_script().run(cfg, tracker=Tracker(tiny_network(), TrackerConfig(**cfg.tracker)))
    records = json.loads(outputs.results_json.read_text())
    assert [(r["frame"], r["target"]) for r in records] == [(f, t) for f in range(3) for t in range(2)]
    assert sorted(p.name for p in outputs.masks_dir.iterdir()) == ["00001_0.png", "00001_1.png", "00002_0.png",
                                                                    "00002_1.png"]
    assert outputs.overlay_video is None


@pytest.mark.parametrize("bbox, message", [
    ("[900,10,40,40]", r"bbox 0 \(xywh=\[900.0, 10.0, 40.0, 40.0\]\) of .*tennis.*outside"),
    ("[10,10,0,40]", "zero or negative size"),
    ("[1,2,3]", r"must be \[x, y, w, h\]"),
])
def test_track_rejects_bad_boxes_before_any_work(tmp_path: Path, bbox: str, message: str) -> None:
    cfg = track_config(f"input={TENNIS}", f"bbox={bbox}", f"output_dir={tmp_path / 'out'}")
    with pytest.raises(ValueError, match=message):
        load_track_script().run(cfg, tracker=None)  # would need a checkpoint if it got that far
    assert not (tmp_path / "out").exists()


def test_latest_checkpoint_is_the_newest_last_ckpt(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="make train"):
        latest_checkpoint(tmp_path)
    for name, mtime in (("2024-01-02_00-00-00", 2_000), ("2024-01-01_00-00-00", 3_000)):
        path = tmp_path / name / "checkpoints" / "last.ckpt"
        path.parent.mkdir(parents=True)
        path.write_bytes(b"")
        os.utime(path, (mtime, mtime))
    assert latest_checkpoint(tmp_path) == tmp_path / "2024-01-01_00-00-00" / "checkpoints" / "last.ckpt"


def test_load_tracker_rebuilds_the_network_with_the_checkpoint_anchors(tmp_path: Path) -> None:
    path = tmp_path / "model.ckpt"
    save_tiny_checkpoint(path, ratios=(0.5, 1.0, 2.0))
    tracker = load_tracker(str(path), {"lr": 0.5}, "cpu")
    assert list(tracker.anchors.ratios) == [0.5, 1.0, 2.0]
    assert tracker.anchors.num_anchors == 3 and tracker.config.lr == 0.5
    frame = np.zeros((120, 160, 3), dtype=np.uint8)
    tracker.init(frame, [40, 30, 90, 80])
    assert np.isfinite(tracker.track(frame)[0].box_xyxy).all()
    with pytest.raises(ValueError, match="unknown tracker config key"):
        load_tracker(str(path), {"learning_rate": 0.5}, "cpu")


@pytest.mark.slow
def test_loading_a_tracker_does_not_import_lightning(tmp_path: Path) -> None:
    save_tiny_checkpoint(tmp_path / "model.ckpt")
    code = (f"import sys; from siammask.tracking import load_tracker; load_tracker({str(tmp_path / 'model.ckpt')!r}, "
            f"{{}}); print('pytorch_lightning' in sys.modules, 'lightning' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert result.stdout.split() == ["False", "False"]


def test_track_script_runs_from_the_command_line_on_the_newest_checkpoint(tmp_path: Path) -> None:
    save_tiny_checkpoint(tmp_path / "runs" / "2024-01-01_00-00-00" / "checkpoints" / "last.ckpt")
    command = [sys.executable, str(ROOT / "track.py"), f"input={BAG}", f"bbox={BAG_BOX_XYWH}", "max_frames=3",
               f"ckpt_runs_dir={tmp_path / 'runs'}", f"output_dir={tmp_path / 'out'}", f"hydra.run.dir={tmp_path}",
               "tracker=vot", "progress=false"]
    completed = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-3000:]
    records = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [r["frame"] for r in records] == [0, 1, 2]
    assert read_video_frames(tmp_path / "out" / "overlay.mp4") == 3
