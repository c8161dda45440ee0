"""benchmark=custom: one's own videos in the custom layout, scored with the VOT-, OTB- and DAVIS-style protocols;
bad folders fail before any tracking, naming the folder and the problem."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from custom_videos import write_custom_videos
from PIL import Image
from test_evaluation_cli import run_eval, write_tiny_checkpoint

from siammask.evaluation.benchmark import datasets_for
from siammask.evaluation.datasets import custom_dataset
from siammask.evaluation.results import (
    label_map_path,
    otb_result_path,
    vot_result_path,
    write_label_map,
    write_otb_boxes,
    write_vot_trajectory,
)

CUSTOM = {"name": "custom", "reader": "custom", "protocols": ["vot", "otb", "davis"]}


def test_objects_become_box_sequences_over_their_frames_and_videos_mask_sequences(tmp_path):
    root = write_custom_videos(tmp_path / "videos", videos=2, frames=4)
    boxes = (root / "video1" / "boxes.txt").read_text().splitlines()
    (root / "video1" / "boxes.txt").write_text("\n".join(line for line in boxes if not line.startswith("00002,2,")))
    (root / "video1" / "masks" / "00002.png").unlink()  # frame 2: object 1 box-only, object 2 not annotated
    box, mask = custom_dataset(root)
    assert box.names == ["video0-1", "video0-2", "video1-1", "video1-2"] and mask.names == ["video0", "video1"]
    seq = box.load("video1-2")
    assert seq.frames.names == ["00000", "00001", "00003"]
    x, y, w, h = (float(v) for v in boxes[1 + 2 * 3 + 1].split(",")[2:])  # frame 3, object 2 in boxes.txt
    np.testing.assert_allclose(seq.gt_boxes_xywh[2], [x, y, w, h])
    assert box.load("video1-1").frames.names == ["00000", "00001", "00002", "00003"]
    video = mask.load("video1")
    assert video.frames.names == ["00000", "00001", "00003"] and video.object_ids == [1, 2]
    np.testing.assert_array_equal(video.labels[2], np.array(Image.open(root / "video1" / "masks" / "00003.png")))


def test_boxes_of_a_masks_only_folder_are_the_tight_boxes_of_the_masks(tmp_path):
    root = write_custom_videos(tmp_path / "videos", videos=1, frames=2, boxes=False)
    labels = np.array(Image.open(root / "video0" / "masks" / "00001.png"))
    ys, xs = np.nonzero(labels == 2)
    seq = custom_dataset(root)[0].load("video0-2")
    np.testing.assert_allclose(seq.gt_boxes_xywh[1], [xs.min(), ys.min(), xs.max() + 1 - xs.min(),
                                                      ys.max() + 1 - ys.min()])


def test_ground_truth_as_results_scores_perfectly(tmp_path):
    root = write_custom_videos(tmp_path / "videos", videos=2, frames=4)
    box, mask = custom_dataset(root)
    results = tmp_path / "results"
    for name in box.names:
        write_otb_boxes(otb_result_path(results / "otb", name), box.load(name).gt_boxes_xywh)
    for name in mask.names:
        seq = mask.load(name)
        for frame, labels in zip(seq.frames.names, seq.labels):
            write_label_map(label_map_path(results / "davis", name, frame), labels)
    out = tmp_path / "run"
    run_eval("benchmark=custom", f"benchmark.root={root}", "benchmark.protocols=[otb,davis]",
             f"results_dir={results}", f"hydra.run.dir={out}")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["davis"]["J_mean"] == 1.0 and metrics["davis"]["sequences"] == 2
    assert metrics["otb"]["precision"] == 1.0 and metrics["otb"]["sequences"] == 4
    assert (out / "success_plot.png").is_file() and "| results |" in (out / "metrics.md").read_text()


def test_a_folder_without_annotations_is_refused_naming_it(tmp_path):
    root = write_custom_videos(tmp_path / "videos", videos=2, frames=2)
    for video in ("video0", "video1"):
        shutil.rmtree(root / video / "masks")
        (root / video / "boxes.txt").unlink()
    with pytest.raises(ValueError, match=rf"(?s){root} has annotation problems:.*video0: missing_annotation .*"
                                         r"neither masks/ nor boxes.txt found"):
        datasets_for({**CUSTOM, "root": str(root)})


def test_masks_of_another_size_than_the_frames_are_refused_naming_the_file(tmp_path):
    root = write_custom_videos(tmp_path / "videos", videos=1, frames=2)
    mask = root / "video0" / "masks" / "00001.png"
    Image.open(mask).resize((80, 60)).save(mask)
    with pytest.raises(ValueError, match=rf"masks and frames disagree in size .*{mask} is 80x60"):
        datasets_for({**CUSTOM, "root": str(root)})


def test_a_missing_root_is_refused_and_box_only_videos_have_no_mask_sequence_and_say_why(tmp_path):
    with pytest.raises(FileNotFoundError, match=rf"custom dataset root not found: {tmp_path / 'nowhere'}"):
        datasets_for({**CUSTOM, "root": str(tmp_path / "nowhere")})
    root = write_custom_videos(tmp_path / "videos", videos=1, frames=2, masks=False)
    datasets = datasets_for({**CUSTOM, "root": str(root)})
    assert datasets["vot"].names == datasets["otb"].names == ["video0-1", "video0-2"]
    assert datasets["davis"].names == [] and "no annotated masks" in str(datasets["davis"].empty_reason)


def test_box_only_videos_are_scored_where_they_can_be_and_the_report_says_why_the_rest_is_missing(tmp_path):
    root = write_custom_videos(tmp_path / "videos", videos=1, frames=4, masks=False)
    box, _ = custom_dataset(root)
    results = tmp_path / "results"
    for name in box.names:  # the ground truth as results; 4 frames, all within VOT's 10-frame burn-in
        seq = box.load(name)
        write_otb_boxes(otb_result_path(results / "otb", name), seq.gt_boxes_xywh)
        write_vot_trajectory(vot_result_path(results / "vot", name), [1, *seq.gt_polygons[1:]])
    out = tmp_path / "run"
    run_eval("benchmark=custom", f"benchmark.root={root}", f"results_dir={results}", f"hydra.run.dir={out}")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["otb"]["precision"] == 1.0 and metrics["otb"]["sequences"] == 2
    assert metrics["vot"]["lost"] == 0 and metrics["vot"]["accuracy"] is None
    assert metrics["davis"]["sequences"] == 0 and metrics["davis"]["failures"] == {}
    report = (out / "metrics.md").read_text()
    assert "- results: Accuracy: every annotated frame lies within the burn-in (vot.burnin=10" in report
    assert f"- results: no annotated masks: no video of {root} has a masks/ folder (box-only videos)" in report


@pytest.mark.slow
def test_eval_compares_two_checkpoints_in_one_table_under_every_protocol(tmp_path):
    root = write_custom_videos(tmp_path / "videos", videos=1, frames=4)
    after, before = tmp_path / "after" / "m.ckpt", tmp_path / "before" / "m.ckpt"
    write_tiny_checkpoint(after)
    write_tiny_checkpoint(before)
    out = tmp_path / "run"
    run_eval("benchmark=custom", f"benchmark.root={root}", f"ckpt_path={after}", f"compare_ckpt_path={before}",
             f"hydra.run.dir={out}")
    metrics = json.loads((out / "metrics.json").read_text())
    for protocol, key in (("vot", "eao"), ("otb", "success_auc"), ("davis", "J_mean")):
        assert key in metrics[protocol] and key in metrics["baselines"]["before"][protocol]
        assert metrics[protocol]["failures"] == {}
    assert metrics["before_ckpt_path"] == str(before)
    report = (out / "metrics.md").read_text()
    assert report.count("| siammask |") == 3 and report.count("| before |") == 3  # one row each per protocol
    assert {p.name for p in out.glob("*.png")} >= {"eao_curve.png", "success_plot.png", "precision_plot.png"}
