"""track.py end to end, checkpoint discovery and loading."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from PIL import Image
from tracking_helpers import BAG_BOX_XYWH, TENNIS_BOX_XYWH, tiny_network

from siammask.anchors import AnchorSpec
from siammask.models import build_network
from siammask.tracking import Tracker, TrackerConfig, latest_checkpoint, load_tracker
from siammask.tracking.video import H264Writer

ROOT = Path(__file__).resolve().parents[2]


def load_track_script():
    """The code track.py runs (siammask.cli.track, also the console command siammask-track)."""
    return importlib.import_module("siammask.cli.track")


def track_config(*overrides: str):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose("track", overrides=["progress=false", *overrides])


def save_tiny_checkpoint(path: Path, ratios: tuple[float, ...] = (0.33, 0.5, 1.0, 2.0, 3.0)) -> None:
    """A checkpoint in the project's Lightning layout: network hyper-parameters + ``network.*`` weights."""
    head = {name: {"_target_": "siammask.models.XCorrHead", "_partial_": True, "hidden_channels": 16}
            for name in ("score", "box", "mask")}
    backbone = {"_target_": "siammask.models.TimmBackbone", "name": "resnet18", "out_indices": [0, 1, 2]}
    hparams = {"backbone": backbone,
               "neck": {"_target_": "siammask.models.Adjust", "_partial_": True, "out_channels": 16},
               "head": head, "refine": None, "anchors": {"stride": 8, "ratios": list(ratios), "scales": [8.0]}}
    network = build_network(hparams["backbone"], hparams["neck"], head, None, AnchorSpec(ratios=ratios))
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


def test_track_writes_json_masks_and_overlay_for_a_folder(tennis_dir: Path, tmp_path: Path) -> None:
    cfg = track_config(f"input={tennis_dir}", f"bbox={TENNIS_BOX_XYWH}", f"output_dir={tmp_path}", "max_frames=4")
    outputs = load_track_script().run(cfg, tracker=Tracker(tiny_network(), TrackerConfig(**cfg.tracker)))
    records = json.loads((tmp_path / "results.json").read_text())
    assert [(r["frame"], r["target"]) for r in records] == [(0, 0), (1, 0), (2, 0), (3, 0)]
    assert records[0]["bbox_xywh"] == TENNIS_BOX_XYWH and records[0]["score"] == 1.0
    assert set(records[1]) == {"frame", "target", "bbox_xywh", "rotated_box", "polygon", "score"}
    assert np.asarray(records[2]["rotated_box"]).shape == (4, 2)
    assert sorted(p.name for p in outputs.masks_dir.iterdir()) == ["00000.png", "00001.png", "00002.png",
                                                                    "00003.png"]
    mask = cv2.imread(str(outputs.masks_dir / "00001.png"), cv2.IMREAD_UNCHANGED)
    assert mask.shape == (480, 854) and set(np.unique(mask)) <= {0, 255}
    first = cv2.imread(str(outputs.masks_dir / "00000.png"), cv2.IMREAD_UNCHANGED) > 0  # the given box, filled
    x, y, w, h = (int(v) for v in TENNIS_BOX_XYWH)
    assert first.sum() == w * h and first[y:y + h, x:x + w].all()
    assert outputs.overlay_video.exists() and read_video_frames(outputs.overlay_video) == 4
    with av.open(str(outputs.overlay_video)) as container:  # H.264 in 4:2:0, as browsers play it
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"


def test_results_report_the_tracker_box_the_mask_rectangle_and_the_box_mode_region(tennis_dir: Path, tmp_path: Path) -> None:
    cfg = track_config(f"input={tennis_dir}", f"bbox={TENNIS_BOX_XYWH}", f"output_dir={tmp_path}", "max_frames=3",
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


def test_track_names_masks_per_target_for_several_boxes_in_a_video(bag_video: Path, tmp_path: Path) -> None:
    cfg = track_config(f"input={bag_video}", f"bbox=[{BAG_BOX_XYWH},[10,200,80,60]]", f"output_dir={tmp_path}",
                       "max_frames=3", "overlay=false")
    outputs = load_track_script().run(cfg, tracker=Tracker(tiny_network(), TrackerConfig(**cfg.tracker)))
    records = json.loads(outputs.results_json.read_text())
    assert [(r["frame"], r["target"]) for r in records] == [(f, t) for f in range(3) for t in range(2)]
    assert sorted(p.name for p in outputs.masks_dir.iterdir()) == [f"{f:05d}_{t}.png" for f in range(3)
                                                                    for t in range(2)]
    assert outputs.overlay_video is None


@pytest.mark.parametrize("bbox, message", [
    ("[900,10,40,40]", r"bbox 0 \(xywh=\[900.0, 10.0, 40.0, 40.0\]\) of .*tennis.*outside"),
    ("[10,10,0,40]", "zero or negative size"),
    ("[1,2,3]", r"must be \[x, y, w, h\]"),
])
def test_track_rejects_bad_boxes_before_any_work(tennis_dir: Path, tmp_path: Path, bbox: str, message: str) -> None:
    cfg = track_config(f"input={tennis_dir}", f"bbox={bbox}", f"output_dir={tmp_path / 'out'}")
    with pytest.raises(ValueError, match=message):
        load_track_script().run(cfg, tracker=None)  # would need a checkpoint if it got that far
    assert not (tmp_path / "out").exists()


def fake_run(runs_dir: Path, name: str, overrides: str = "[]\n", mtime: float = 1_000) -> Path:
    """A train.py run folder: Hydra's saved overrides and a (empty) last.ckpt written at ``mtime``."""
    path = runs_dir / name / "checkpoints" / "last.ckpt"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")
    os.utime(path, (mtime, mtime))
    (runs_dir / name / ".hydra").mkdir()
    (runs_dir / name / ".hydra" / "overrides.yaml").write_text(overrides)
    return path


def test_latest_checkpoint_is_the_newest_make_train_run_never_a_run_with_overrides(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="make train"):
        latest_checkpoint(tmp_path)
    fake_run(tmp_path, "2024-01-02_00-00-00", mtime=2_000)
    newest = fake_run(tmp_path, "2024-01-01_00-00-00", mtime=3_000)
    fake_run(tmp_path, "2024-01-03_00-00-00", overrides="- ++trainer.max_steps=2\n", mtime=4_000)  # a quick test
    assert latest_checkpoint(tmp_path) == newest


def test_without_a_make_train_run_the_search_is_refused_saying_what_was_left_out(tmp_path: Path) -> None:
    fake_run(tmp_path, "2024-01-03_00-00-00", overrides="- model/backbone=resnet18\n")
    with pytest.raises(FileNotFoundError, match=r"1 run\(s\) with command-line overrides are not taken.*ckpt_path="):
        latest_checkpoint(tmp_path)


def test_load_tracker_rebuilds_the_network_with_the_checkpoint_anchors(tmp_path: Path) -> None:
    path = tmp_path / "model.ckpt"
    save_tiny_checkpoint(path, ratios=(0.5, 1.0, 2.0))
    tracker = load_tracker(str(path), {"lr": 0.5}, "cpu")
    assert list(tracker.decoder.ratios) == [0.5, 1.0, 2.0]
    assert tracker.decoder.num_anchors == 3 and tracker.config.lr == 0.5
    frame = np.zeros((120, 160, 3), dtype=np.uint8)
    tracker.init(frame, [40, 30, 90, 80])
    assert np.isfinite(tracker.track(frame)[0].box_xyxy).all()
    with pytest.raises(ValueError, match="unknown tracker config key"):
        load_tracker(str(path), {"learning_rate": 0.5}, "cpu")


def save_release_base_file(path: Path) -> None:
    """The paper base network's tensors under the official release's names (foolwood/SiamMask
    experiments/siammask_base/custom.py: features.features, features.downsample, rpn_model.cls / .loc, mask_model)."""
    from siammask.checkpoints import release_model_config

    model = release_model_config(sharp=False)
    network = build_network(model.backbone, model.neck, model.head, None, AnchorSpec())
    ours_to_release = {"backbone.": "features.features.", "neck.": "features.downsample.",
                       "score_head.": "rpn_model.cls.", "box_head.": "rpn_model.loc.", "mask_head.": "mask_model.mask."}
    state = {}
    for key, value in network.state_dict().items():
        prefix = next(p for p in ours_to_release if key.startswith(p))
        state[ours_to_release[prefix] + key[len(prefix):]] = value
    torch.save({"state_dict": state}, path)


@pytest.mark.slow
@pytest.mark.parametrize("save", [save_tiny_checkpoint, save_release_base_file], ids=["project", "release"])
def test_loading_a_tracker_does_not_import_lightning(tmp_path: Path, save) -> None:
    save(tmp_path / "model.ckpt")
    code = (f"import sys; from siammask.tracking import load_tracker; load_tracker({str(tmp_path / 'model.ckpt')!r}, "
            f"'davis'); print('pytorch_lightning' in sys.modules, 'lightning' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert result.stdout.split() == ["False", "False"]


def test_track_script_runs_from_the_command_line_on_the_newest_checkpoint(bag_video: Path, tmp_path: Path) -> None:
    save_tiny_checkpoint(fake_run(tmp_path / "runs", "2024-01-01_00-00-00"))
    command = [sys.executable, str(ROOT / "track.py"), f"input={bag_video}", f"bbox={BAG_BOX_XYWH}", "max_frames=3",
               f"ckpt_runs_dir={tmp_path / 'runs'}", f"output_dir={tmp_path / 'out'}", f"hydra.run.dir={tmp_path}",
               "tracker=vot", "progress=false"]
    completed = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert completed.returncode == 0, completed.stderr[-3000:]
    records = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [r["frame"] for r in records] == [0, 1, 2]
    assert read_video_frames(tmp_path / "out" / "overlay.mp4") == 3
    assert "ckpt_path not given: using the newest `make train` run's checkpoint" in completed.stderr
    assert str(tmp_path / "runs" / "2024-01-01_00-00-00" / "checkpoints" / "last.ckpt") in completed.stderr


@pytest.mark.slow
def test_track_script_finds_the_project_folders_when_started_elsewhere(tmp_path: Path) -> None:
    command = [sys.executable, str(ROOT / "track.py"), "input=x", "--cfg", "job", "--resolve", "-p", "ckpt_runs_dir"]
    env = {k: v for k, v in os.environ.items() if k != "PROJECT_ROOT"}
    completed = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env,
                               check=False)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.strip().splitlines()[-1] == str(ROOT / "logs" / "train" / "runs")


@pytest.mark.slow
@pytest.mark.parametrize("override, message", [
    ("max_frames=0", "error: max_frames must be a positive number of frames or null"),
    ("bbox=[[1,2,3]]", "error: bbox must be [x, y, w, h]"),
])
def test_track_script_user_mistakes_end_in_one_line_without_traceback(tennis_dir: Path, tmp_path: Path, override: str,
                                                                       message: str) -> None:
    command = [sys.executable, str(ROOT / "track.py"), f"input={tennis_dir}", f"bbox={TENNIS_BOX_XYWH}", override,
               f"hydra.run.dir={tmp_path}", f"output_dir={tmp_path / 'out'}"]
    completed = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert completed.returncode == 1
    assert completed.stderr.strip().splitlines() == [completed.stderr.strip()] and "Traceback" not in completed.stderr
    assert completed.stderr.startswith(message)
    assert not (tmp_path / "out").exists()


def test_without_a_box_or_a_mask_track_says_what_to_give(tennis_dir: Path, tmp_path: Path) -> None:
    cfg = track_config(f"input={tennis_dir}", f"output_dir={tmp_path / 'out'}")
    with pytest.raises(ValueError, match=r"give the targets on the first frame: bbox=\[x,y,w,h\].*mask="):
        load_track_script().run(cfg, tracker=None)
    assert not (tmp_path / "out").exists()


def test_a_box_reaching_past_the_image_is_clipped_with_a_warning(tennis_dir: Path, tmp_path: Path, caplog) -> None:
    cfg = track_config(f"input={tennis_dir}", "bbox=[800,400,100,100]", f"output_dir={tmp_path}", "max_frames=2",
                       "overlay=false")
    with caplog.at_level("WARNING"):
        load_track_script().run(cfg, tracker=Tracker(tiny_network(), TrackerConfig(**cfg.tracker)))
    records = json.loads((tmp_path / "results.json").read_text())
    assert records[0]["bbox_xywh"] == [800.0, 400.0, 54.0, 80.0]  # the 854x480 frame's corner
    assert "reaches past the 854x480 image" in caplog.text and "clipped to xywh=[800.0, 400.0, 54.0, 80.0]" in caplog.text


def test_a_first_frame_mask_starts_the_targets_and_is_frame_0s_mask(tennis_dir: Path, tmp_path: Path) -> None:
    labels = np.zeros((480, 854), dtype=np.uint8)
    labels[120:300, 320:450], labels[50:90, 30:100] = 1, 2
    png = Image.fromarray(labels, mode="P")
    png.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0])
    png.save(tmp_path / "first.png")
    cfg = track_config(f"input={tennis_dir}", f"mask={tmp_path / 'first.png'}", f"output_dir={tmp_path / 'out'}",
                       "max_frames=2", "overlay=false")
    outputs = load_track_script().run(cfg, tracker=Tracker(tiny_network(), TrackerConfig(**cfg.tracker)))
    records = json.loads(outputs.results_json.read_text())
    assert [r["bbox_xywh"] for r in records[:2]] == [[320.0, 120.0, 130.0, 180.0], [30.0, 50.0, 70.0, 40.0]]
    for target, label in ((0, 1), (1, 2)):
        saved = cv2.imread(str(outputs.masks_dir / f"00000_{target}.png"), cv2.IMREAD_UNCHANGED)
        assert np.array_equal(saved > 0, labels == label)


def test_the_overlay_is_h264_with_even_sides_for_odd_sized_frames(tmp_path: Path) -> None:
    writer = H264Writer(tmp_path / "o.mp4", 29.97, (53, 71))
    for value in (0, 120, 240):
        writer.write(np.full((53, 71, 3), value, dtype=np.uint8))
    writer.close()
    with av.open(str(tmp_path / "o.mp4")) as container:
        stream = container.streams.video[0]
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
    assert (stream.width, stream.height) == (72, 54) and len(decoded) == 3
    assert abs(int(decoded[2][10, 10, 0]) - 240) <= 3  # the frames' content, not a blank video
