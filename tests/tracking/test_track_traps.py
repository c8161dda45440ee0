"""track.py where a first hour goes wrong: a truncated frame, Ctrl-C mid-video, an output folder it cannot write."""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import cv2
import numpy as np
import pytest
from command_line import run_command
from test_track_script import load_track_script, track_config
from tracking_helpers import TENNIS_BOX_XYWH, tiny_network

from siammask.tracking import Tracker, TrackerConfig, TrackResult


@pytest.fixture
def frames_with_a_truncated_one(tmp_path: Path, tennis_dir: Path) -> Path:
    """Tennis frames 0-3, frame 2 cut to its first half (an interrupted copy), which OpenCV decodes silently."""
    folder = tmp_path / "frames"
    folder.mkdir()
    for index in range(4):
        shutil.copy(tennis_dir / f"{index:05d}.jpg", folder / f"{index:05d}.jpg")
    data = (folder / "00002.jpg").read_bytes()
    (folder / "00002.jpg").write_bytes(data[:len(data) // 2])
    assert cv2.imread(str(folder / "00002.jpg")) is not None  # the trap: a grey lower half, no error
    return folder


def tiny_tracker(cfg) -> Tracker:
    return Tracker(tiny_network(), TrackerConfig(**cfg.tracker))


def test_a_truncated_frame_stops_tracking_naming_the_file(frames_with_a_truncated_one, tmp_path):
    cfg = track_config(f"input={frames_with_a_truncated_one}", f"bbox={TENNIS_BOX_XYWH}",
                       f"output_dir={tmp_path / 'out'}", "overlay=false")
    with pytest.raises(ValueError, match=r"frame 2 of the input: image '.*00002\.jpg' is truncated .*"
                                         r"on_bad_frame=skip tracks past it"):
        load_track_script().run(cfg, tracker=tiny_tracker(cfg))


def test_on_bad_frame_skip_tracks_past_it_keeping_the_frame_numbers(frames_with_a_truncated_one, tmp_path, caplog):
    cfg = track_config(f"input={frames_with_a_truncated_one}", f"bbox={TENNIS_BOX_XYWH}",
                       f"output_dir={tmp_path / 'out'}", "overlay=false", "on_bad_frame=skip")
    outputs = load_track_script().run(cfg, tracker=tiny_tracker(cfg))
    assert [r["frame"] for r in json.loads(outputs.results_json.read_text())] == [0, 1, 3]
    assert sorted(p.name for p in outputs.masks_dir.iterdir()) == ["00000.png", "00001.png", "00003.png"]
    assert outputs.num_frames == 3 and "skipping frame 2" in caplog.text and "00002.jpg" in caplog.text


def test_a_truncated_first_frame_is_refused_even_when_skipping(frames_with_a_truncated_one, tmp_path):
    first = frames_with_a_truncated_one / "00000.jpg"
    first.write_bytes(first.read_bytes()[:5000])
    cfg = track_config(f"input={frames_with_a_truncated_one}", f"bbox={TENNIS_BOX_XYWH}",
                       f"output_dir={tmp_path / 'out'}", "overlay=false", "on_bad_frame=skip")
    with pytest.raises(ValueError, match=r"frame 0 of the input: image '.*00000\.jpg' is truncated"):
        load_track_script().run(cfg, tracker=tiny_tracker(cfg))


class CtrlCAtFrame(Tracker):
    """Sends SIGINT to this process in the middle of tracking frame ``frame`` (as a user's Ctrl-C arrives)."""

    frame = 2

    def track(self, image: np.ndarray) -> list[TrackResult]:
        self.calls = getattr(self, "calls", 0) + 1
        if self.calls == self.frame:
            os.kill(os.getpid(), signal.SIGINT)
        return super().track(image)


def test_ctrl_c_finishes_the_frame_writes_the_outputs_of_the_frames_done_and_exits_130(tmp_path, tennis_dir, capsys,
                                                                                         monkeypatch):
    cfg = track_config(f"input={tennis_dir}", f"bbox={TENNIS_BOX_XYWH}", "overlay=false", "max_frames=6")
    tracker = CtrlCAtFrame(tiny_network(), TrackerConfig(**cfg.tracker))
    script = load_track_script()
    monkeypatch.setattr(script, "load_tracker", lambda *args, **kwargs: tracker)
    code = run_command(script.main, f"input={tennis_dir}", f"bbox={TENNIS_BOX_XYWH}", "overlay=false", "max_frames=6",
                       "progress=false", "ckpt_path=unused.ckpt", f"output_dir={tmp_path / 'out'}",
                       run_dir=tmp_path / "run")
    assert code == 130
    records = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [r["frame"] for r in records] == [0, 1, 2]  # frame 2, in progress at the Ctrl-C, was finished
    assert json.loads((tmp_path / "out" / "timing.json").read_text())["frames"] == 2  # tracked frames 1 and 2
    assert f"Stopped by Ctrl-C after 3 frames: {tmp_path / 'out' / 'results.json'}" in capsys.readouterr().out
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is given back


@pytest.mark.parametrize("output_dir, message", [
    ("/proc/siammask_out/run", r"output_dir='/proc/siammask_out/run' is not writable .*: choose another folder"),
    ("{file}/run", r"output_dir='.*results\.json/run' cannot be created: '.*results\.json' is a file"),
])
def test_an_output_folder_it_cannot_write_is_refused_before_the_checkpoint_loads(tmp_path, tennis_dir, output_dir,
                                                                               message):
    file = tmp_path / "results.json"
    file.write_text("[]")
    cfg = track_config(f"input={tennis_dir}", f"bbox={TENNIS_BOX_XYWH}", f"output_dir={output_dir.format(file=file)}",
                       f"ckpt_path={tmp_path / 'missing.ckpt'}")  # a missing checkpoint would fail later
    with pytest.raises((ValueError, NotADirectoryError), match=message):
        load_track_script().run(cfg)
