"""LaSOT, UAV123, NfS and TrackingNet (full boxes) scored from saved results: equal to pysot-toolkit's OPE.

``pysot_ope`` below re-implements pysot-toolkit's ``ope_benchmark.py`` / ``statistics.py`` from their definitions
(independently of :mod:`siammask.evaluation.otb`): boxes ``x, y, w, h``; success counts ``IoU > t`` over the
frames whose ground truth is all positive; centres are ``x + (w - 1) / 2``, a frame whose ground-truth centre is
not positive has error -1 (within every threshold); LaSOT's frames that are not visible are dropped before
scoring while the denominator stays the sequence length; the dataset numbers are the mean success curve's mean,
and the mean precision curves at index 20 (20 px, 0.2).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from benchmark_layouts import default_boxes, make_lasot, make_nfs, make_trackingnet, make_uav123

from siammask.evaluation import Entry, datasets_for, run_benchmark
from siammask.evaluation.datasets import nfs_dataset
from siammask.evaluation.results import write_otb_boxes

LASOT_ATTRIBUTES = ["Illumination Variation", "Partial Occlusion", "Deformation"]


def pysot_ope(sequences: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]) -> dict[str, float]:
    """(gt, prediction, visible or None) per sequence -> success_auc, precision, norm_precision as pysot computes."""
    success, precision, norm_precision = [], [], []
    for gt, pred, visible in sequences:
        n = len(gt)
        if visible is not None:
            gt, pred = gt[visible], pred[visible]
        iou = -np.ones(len(gt))
        valid = np.sum(gt > 0, axis=1) == 4
        g, p = gt[valid], pred[valid]
        inter = (np.maximum(0, np.minimum(g[:, 0] + g[:, 2], p[:, 0] + p[:, 2]) - np.maximum(g[:, 0], p[:, 0]))
                 * np.maximum(0, np.minimum(g[:, 1] + g[:, 3], p[:, 1] + p[:, 3]) - np.maximum(g[:, 1], p[:, 1])))
        iou[valid] = np.clip(inter / (g[:, 2] * g[:, 3] + p[:, 2] * p[:, 3] - inter), 0, 1)
        success.append([np.sum(iou > t) / n for t in np.arange(0, 1.05, 0.05)])

        def centre(b: np.ndarray) -> np.ndarray:
            return np.stack([b[:, 0] + (b[:, 2] - 1) / 2, b[:, 1] + (b[:, 3] - 1) / 2], axis=1)

        def within(gc: np.ndarray, pc: np.ndarray, thresholds: np.ndarray, n: int = n) -> list[float]:
            dist = -np.ones(len(gc))
            ok = np.sum(gc > 0, axis=1) == 2
            dist[ok] = np.sqrt(np.sum((gc[ok] - pc[ok]) ** 2, axis=1))
            return [np.sum(dist <= t) / n for t in thresholds]

        precision.append(within(centre(gt), centre(pred), np.arange(0, 51)))
        wh = gt[:, 2:4] + 1e-16
        norm_precision.append(within(centre(gt) / wh, centre(pred) / wh, np.arange(0, 51) / 100))
    return {"success_auc": float(np.mean(success)), "precision": float(np.mean(precision, axis=0)[20]),
            "norm_precision": float(np.mean(norm_precision, axis=0)[20])}


def noisy(gt: np.ndarray, seed: int) -> np.ndarray:
    """A prediction near the ground truth (offsets of a few pixels, sizes a little off, a jump now and then)."""
    rng = np.random.default_rng(seed)
    pred = gt + np.concatenate([rng.normal(0, 3, (len(gt), 2)), rng.normal(0, 1.5, (len(gt), 2))], axis=1)
    pred[rng.random(len(gt)) < 0.2, :2] += 30
    pred[:, 2:] = np.maximum(pred[:, 2:], 1)
    pred[0] = gt[0]
    return pred


def score_saved(benchmark: dict, results: Path) -> dict:
    (protocol,) = benchmark["protocols"]
    result = run_benchmark(benchmark, [Entry("results", results)], progress=False)["results"][protocol]
    assert result.failures == {}
    return result


def lasot_config(root: Path, **extra) -> dict:
    return {"name": "lasot", "reader": "lasot", "root": str(root), "split_file": "testing_set.txt",
            "attributes_dir": "att", "attribute_names": LASOT_ATTRIBUTES, "protocols": ["otb"], **extra}


def test_lasot_hand_checked_case_hidden_frames_are_misses_on_every_curve(tmp_path):
    gt = default_boxes(4)
    make_lasot(tmp_path / "lasot", {"bird-1": gt}, hidden={"bird-1": [2]}, attributes={"bird-1": [0, 1, 0]},
               split=["bird-1"])
    pred = gt.copy()
    pred[3, :2] += 100  # frame 3 far away; frame 2 exact but hidden: both misses
    write_otb_boxes(tmp_path / "res" / "bird-1.txt", pred)
    summary = score_saved(lasot_config(tmp_path / "lasot"), tmp_path / "res").summary
    assert summary["success_auc"] == pytest.approx(20 * 0.5 / 21)  # frames 0, 1 above every threshold but 1
    assert summary["precision"] == pytest.approx(0.5) and summary["norm_precision"] == pytest.approx(0.5)
    assert summary == pytest.approx(pysot_ope([(gt, pred, np.array([True, True, False, True]))]))


def test_lasot_scores_agree_with_pysot_and_break_down_per_attribute(tmp_path):
    boxes = {"bird-1": default_boxes(30), "bird-2": default_boxes(25) + [3, 9, 4, 2], "car-1": default_boxes(20)}
    hidden = {"bird-1": [5, 6, 7, 20], "car-1": [3]}
    flags = {"bird-1": [1, 1, 0], "bird-2": [0, 1, 0], "car-1": [1, 0, 0]}
    make_lasot(tmp_path / "lasot", boxes, hidden, flags, split=["bird-1", "bird-2", "car-1"])
    make_lasot(tmp_path / "lasot", {"car-2": default_boxes(5)})  # not in the test split: left out
    preds = {seq: noisy(gt, seed) for seed, (seq, gt) in enumerate(boxes.items())}
    for seq, pred in preds.items():
        write_otb_boxes(tmp_path / "res" / f"{seq}.txt", pred)
    visible = {seq: ~np.isin(np.arange(len(gt)), hidden.get(seq, [])) for seq, gt in boxes.items()}
    result = score_saved(lasot_config(tmp_path / "lasot"), tmp_path / "res")
    assert sorted(result.per_sequence) == ["bird-1", "bird-2", "car-1"]
    expected = pysot_ope([(boxes[s], preds[s], visible[s]) for s in boxes])
    assert result.summary == pytest.approx(expected, abs=1e-3)
    attributes = result.groups["attributes"]
    assert sorted(attributes) == ["Illumination Variation", "Partial Occlusion"]  # Deformation: no sequence
    partial = pysot_ope([(boxes[s], preds[s], visible[s]) for s in ("bird-1", "bird-2")])
    assert attributes["Partial Occlusion"].summary == pytest.approx({**partial, "sequences": 2}, abs=1e-3)


def test_lasot_missing_flag_file_and_missing_split_list_are_named(tmp_path):
    root = make_lasot(tmp_path / "lasot", {"bird-1": default_boxes(4)})
    (root / "bird" / "bird-1" / "out_of_view.txt").unlink()
    with pytest.raises(FileNotFoundError, match="testing_set.txt does not exist"):
        datasets_for(lasot_config(root))
    (dataset,) = datasets_for(lasot_config(root, split_file=None, attributes_dir=None)).values()
    with pytest.raises(FileNotFoundError, match=r"bird-1/out_of_view.txt"):
        dataset.load("bird-1")


def test_uav123_parts_of_a_video_read_their_frame_range_and_nan_frames_score_as_pysot(tmp_path):
    gt_car, gt_part = default_boxes(12), default_boxes(9)
    gt_car[4:6] = np.nan  # target absent
    root = make_uav123(tmp_path / "uav", {"car1": gt_car, "bird1_2": gt_part}, parts={"bird1_2": ("bird1", 7)},
                       attributes={"car1": [1] + [0] * 11, "bird1_2": [1, 1] + [0] * 10})
    benchmark = {"name": "uav123", "reader": "uav123", "root": str(root), "frame_ranges": str(root / "frame_ranges.json"),
                 "attribute_names": [f"a{i}" for i in range(12)], "protocols": ["otb"]}
    (dataset,) = datasets_for(benchmark).values()
    part = dataset.load("bird1_2")
    assert [p.name for p in part.frames.paths[:2]] == ["000007.jpg", "000008.jpg"]  # type: ignore[attr-defined]
    preds = {"car1": noisy(np.nan_to_num(gt_car, nan=20), 1), "bird1_2": noisy(gt_part, 2)}
    for seq, pred in preds.items():
        write_otb_boxes(tmp_path / "res" / f"{seq}.txt", pred)
    result = score_saved(benchmark, tmp_path / "res")
    expected = pysot_ope([(gt_car, preds["car1"], None), (gt_part, preds["bird1_2"], None)])
    assert result.summary == pytest.approx(expected, abs=1e-3)
    assert result.groups["attributes"]["a1"].summary["sequences"] == 1
    del benchmark["frame_ranges"]
    (dataset,) = datasets_for(benchmark).values()
    with pytest.raises(FileNotFoundError, match="frame_ranges"):
        dataset.load("bird1_2")


def test_nfs_keeps_every_eighth_240fps_box_and_scores_as_pysot(tmp_path):
    gt = default_boxes(10)
    root = make_nfs(tmp_path / "nfs", {"Gymnastics": gt})
    seq = nfs_dataset(root).load("Gymnastics")
    np.testing.assert_allclose(seq.gt_boxes_xywh, gt)
    pred = noisy(gt, 3)
    write_otb_boxes(tmp_path / "res" / "Gymnastics.txt", pred)
    result = score_saved({"name": "nfs30", "reader": "nfs", "root": str(root), "protocols": ["otb"]}, tmp_path / "res")
    assert result.summary == pytest.approx(pysot_ope([(gt, pred, None)]), abs=1e-3)


def test_trackingnet_split_with_every_box_is_scored_as_ope_in_frame_number_order(tmp_path):
    gt = default_boxes(12)  # frames 0.jpg .. 11.jpg: "10.jpg" sorts before "2.jpg" by name
    root = make_trackingnet(tmp_path / "tn", "TRAIN_0", {"abc_1": gt}, first_only=False)
    benchmark = {"name": "trackingnet", "reader": "trackingnet", "root": str(root), "split": "TRAIN_0",
                 "first_box_only": False, "protocols": ["trackingnet"], "trackingnet": {"submission": False}}
    (dataset,) = datasets_for(benchmark).values()
    assert [p.stem for p in dataset.load("abc_1").frames.paths] == [str(i) for i in range(12)]  # type: ignore
    pred = noisy(gt, 4)
    write_otb_boxes(tmp_path / "res" / "abc_1.txt", pred)
    assert score_saved(benchmark, tmp_path / "res").summary == pytest.approx(pysot_ope([(gt, pred, None)]), abs=1e-3)
