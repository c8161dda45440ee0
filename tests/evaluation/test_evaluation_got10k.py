"""GOT-10k: val scored from saved results equals the got10k toolkit's own report; test and TrackingNet TEST write
the servers' submission zips file by file."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
from benchmark_layouts import default_boxes, make_got10k, make_trackingnet

from siammask.evaluation import Entry, datasets_for, run_benchmark
from siammask.evaluation.baselines import StaticBoxTracker
from siammask.evaluation.results import read_number_rows, write_otb_boxes, write_times

SEQS = ["GOT-10k_Val_000001", "GOT-10k_Val_000002", "GOT-10k_Val_000003"]


def got10k_config(root: Path, split: str = "val") -> dict:
    test = split == "test"
    return {"name": f"got10k_{split}", "reader": "got10k", "root": str(root), "split": split, "first_box_only": test,
            "protocols": ["got10k"], "got10k": {"submission": test}}


def test_val_ao_sr_and_per_class_equal_the_got10k_toolkit(tmp_path):
    toolkit = pytest.importorskip("got10k.experiments")
    rng = np.random.default_rng(0)
    boxes = {s: default_boxes(n) + [2 * i, 3 * i, i, 0] for i, (s, n) in enumerate(zip(SEQS, (20, 15, 12)))}
    covers = {SEQS[0]: [8] * 5 + [0] * 3 + [3] * 12, SEQS[2]: [0, 0] + [5] * 10}  # 0: absent, left out
    classes = {SEQS[0]: "cat", SEQS[1]: "cat", SEQS[2]: "dog"}
    root = make_got10k(tmp_path / "GOT-10k", "val", boxes, classes, covers)
    ours = tmp_path / "results" / "GOT-10k" / "ours"
    for seq, gt in boxes.items():
        pred = gt + np.concatenate([rng.normal(0, 2.5, (len(gt), 2)), rng.normal(0, 2, (len(gt), 2))], axis=1)
        pred[-3:, 0] += 40  # leaves the 50 px wide image: both boxes are bounded by the image first
        write_otb_boxes(ours / seq / f"{seq}_001.txt", pred)
        write_times(ours / seq / f"{seq}_time.txt", np.full(len(gt), 0.02))  # the toolkit reads them too
    result = run_benchmark(got10k_config(root), [Entry("results", ours)], progress=False)["results"]["got10k"]
    assert result.failures == {}

    report = toolkit.ExperimentGOT10k(str(root), subset="val", result_dir=str(tmp_path / "results"),
                                      report_dir=str(tmp_path / "reports")).report(["ours"])["ours"]
    overall = report["overall"]
    assert result.summary["ao"] == pytest.approx(overall["ao"], abs=1e-3)
    assert result.summary["sr50"] == pytest.approx(overall["sr"], abs=1e-3)
    assert result.summary["sr75"] == pytest.approx(overall["succ_curve"][75], abs=1e-3)  # > 0.75 on 101 points
    np.testing.assert_allclose(result.curves["success_curve"], overall["succ_curve"], atol=1e-3)
    seq_wise = report["seq_wise"]
    visible = {s: int(np.sum(np.asarray(covers.get(s, [1] * len(boxes[s])))[1:] > 0)) for s in SEQS}
    cat = sum(seq_wise[s]["ao"] * visible[s] for s in SEQS[:2]) / (visible[SEQS[0]] + visible[SEQS[1]])
    assert result.groups["classes"]["cat"].summary["ao"] == pytest.approx(cat, abs=1e-3)  # frames pooled per class
    assert result.groups["classes"]["dog"].summary["ao"] == pytest.approx(seq_wise[SEQS[2]]["ao"], abs=1e-3)
    assert result.per_sequence[SEQS[2]]["frames"] == 10  # first frame and the two absent ones left out


def test_test_split_writes_the_server_submission_zip(tmp_path):
    names = ["GOT-10k_Test_000001", "GOT-10k_Test_000002"]
    boxes = {s: default_boxes(n) for s, n in zip(names, (5, 4))}
    root = make_got10k(tmp_path / "GOT-10k", "test", boxes, dict.fromkeys(names, "fish"), first_only=True)
    out = tmp_path / "run" / "siammask"
    result = run_benchmark(got10k_config(root, "test"), [Entry("siammask", out, StaticBoxTracker)],
                           progress=False)["siammask"]["got10k"]
    assert result.failures == {} and Path(result.summary["submission"]) == out / "got10k.zip"
    with zipfile.ZipFile(out / "got10k.zip") as archive:
        assert sorted(archive.namelist()) == sorted(f"{s}/{s}{suffix}.txt" for s in names
                                                    for suffix in ("_001", "_time"))
        for seq, gt in boxes.items():
            rows = [np.array(line.split(","), float) for line in archive.read(f"{seq}/{seq}_001.txt").decode().split()]
            np.testing.assert_allclose(rows, np.repeat(gt[:1], len(gt), axis=0))  # the static box, every frame
            times = archive.read(f"{seq}/{seq}_time.txt").decode().split()
            assert len(times) == len(gt) and all(float(t) >= 0 for t in times)
    unscored = run_benchmark({**got10k_config(root, "test"), "got10k": {"submission": False}},
                             [Entry("siammask", tmp_path / "other", StaticBoxTracker)], progress=False)
    assert all("scored by the server" in why for why in unscored["siammask"]["got10k"].failures.values())


def test_trackingnet_test_writes_one_file_per_sequence_zipped_without_folders(tmp_path):
    boxes = {"-3TIfnTSM6c_2": default_boxes(6), "a1qoB1eERn0_0": default_boxes(11)}
    root = make_trackingnet(tmp_path / "TrackingNet", "TEST", boxes, first_only=True)
    benchmark = {"name": "trackingnet", "reader": "trackingnet", "root": str(root), "split": "TEST",
                 "first_box_only": True, "protocols": ["trackingnet"], "trackingnet": {"submission": True}}
    out = tmp_path / "run" / "siammask"
    result = run_benchmark(benchmark, [Entry("siammask", out, StaticBoxTracker)], progress=False)["siammask"]
    assert result["trackingnet"].failures == {}
    with zipfile.ZipFile(out / "trackingnet.zip") as archive:
        assert sorted(archive.namelist()) == sorted(f"{s}.txt" for s in boxes)
        for seq, gt in boxes.items():
            lines = archive.read(f"{seq}.txt").decode().split()
            assert len(lines) == len(gt)
            np.testing.assert_allclose(np.array(lines[0].split(","), float), gt[0])


def test_wrong_layouts_name_what_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"val/list.txt"):
        datasets_for(got10k_config(tmp_path / "nothing"))
    root = make_got10k(tmp_path / "GOT-10k", "val", {SEQS[0]: default_boxes(4)}, {SEQS[0]: "cat"})
    (root / "val" / SEQS[0] / "cover.label").unlink()
    (dataset,) = datasets_for(got10k_config(root)).values()
    with pytest.raises(FileNotFoundError, match="cover.label"):
        dataset.load(SEQS[0])
    with pytest.raises(FileNotFoundError, match=r"TEST/anno"):
        datasets_for({"name": "trackingnet", "reader": "trackingnet", "root": str(tmp_path), "protocols": ["otb"]})


def test_results_of_another_benchmark_are_refused(tmp_path):
    root = make_got10k(tmp_path / "GOT-10k", "val", {SEQS[0]: default_boxes(4)}, {SEQS[0]: "cat"})
    lasot_like = tmp_path / "lasot_results"
    write_otb_boxes(lasot_like / "airplane-1.txt", default_boxes(4))
    with pytest.raises(ValueError, match="another benchmark"):
        run_benchmark(got10k_config(root), [Entry("results", lasot_like)], progress=False)
    assert read_number_rows(lasot_like / "airplane-1.txt", "airplane-1")  # nothing of it was touched
