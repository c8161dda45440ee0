"""scripts/follow_real_footage.py: the judgement of a track against hand labels, and a run on real frames."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from model_fixtures import default_checkpoint

ROOT = Path(__file__).resolve().parents[1]


def script():
    spec = importlib.util.spec_from_file_location("follow_real_footage", ROOT / "scripts/follow_real_footage.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def record(frame: int, xywh: list[float]) -> dict:
    x, y, w, h = xywh
    return {"frame": frame, "target": 0, "bbox_xywh": xywh,
            "polygon": [[x, y], [x + w, y], [x + w, y + h], [x, y + h]]}


def test_a_frame_is_followed_when_the_tracked_centre_lies_in_the_label_and_the_boxes_overlap():
    follow = script()
    label = np.array([100.0, 100.0, 200.0, 200.0])
    assert follow.judge(np.array([150.0, 150.0, 250.0, 250.0]), label) == (True, pytest.approx(2500 / 17500))
    # Overlapping, but the centre (225, 150) is outside the label: not followed.
    assert follow.judge(np.array([190.0, 100.0, 260.0, 200.0]), label)[0] is False
    assert follow.judge(np.array([300.0, 300.0, 320.0, 320.0]), label) == (False, 0.0)


def test_clip_score_counts_labelled_frames_after_the_first_and_names_the_first_missed():
    follow = script()
    labels = {f: np.array([100.0, 100.0, 200.0, 200.0]) for f in (0, 2, 4, 6)}
    results = [record(0, [100, 100, 100, 100]), record(2, [100, 100, 100, 100]),
               record(4, [400, 400, 10, 10]), record(6, [120, 120, 60, 60])]
    score = follow.score_clip(results, labels)
    assert score["frames_tracked"] == 4
    for name in ("tracker_box", "region_bounds"):
        assert score[name]["followed"] == 2 and score[name]["labelled"] == 3
        assert score[name]["first_missed"] == 4
        assert score[name]["iou"] == {2: 1.0, 4: 0.0, 6: 0.36}
    # A labelled frame the track never reached (stopped early) counts as missed.
    assert follow.score_clip(results[:2], labels)["tracker_box"]["first_missed"] == 4


@pytest.mark.slow
def test_the_script_tracks_each_clip_from_its_first_label_and_writes_scores_and_stills(tennis_dir, tmp_path):
    clip = tmp_path / "clip"
    clip.mkdir()
    for name in sorted(tennis_dir.iterdir())[:6]:
        shutil.copy(name, clip / name.name)
    ckpt = default_checkpoint(tmp_path / "model.ckpt")
    follow = script()
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("follow_real_footage", overrides=[
            f"ckpt_path={ckpt}", f"output_dir={tmp_path / 'out'}", f"figures_dir={tmp_path / 'figures'}",
            "still_width=200", "~clips",
            f"+clips={{tennis:{{input:'{clip}',stills:[0,5],labels:{{0:[305,112,163,248],5:[250,105,180,270]}}}}}}"])
        scores = follow.main(cfg)
    written = json.loads((tmp_path / "out/follow.json").read_text())
    assert list(written) == ["tennis"] and written["tennis"]["frames_tracked"] == 6
    assert written["tennis"]["tracker_box"]["labelled"] == 1 and scores["tennis"]["tracker_box"]["labelled"] == 1
    first = json.loads((tmp_path / "out/tennis/results.json").read_text())[0]
    assert first["bbox_xywh"] == [305.0, 112.0, 163.0, 248.0]  # tracked from the first label
    still = cv2.imread(str(tmp_path / "figures/tennis.png"))
    assert still.shape[1] == 400 and still.shape[0] == round(480 * 200 / 854)
    assert "| tennis | 6 | tracker_box |" in (tmp_path / "out/follow.md").read_text()
