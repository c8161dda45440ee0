"""Whole protocols over tiny datasets: results written then scored, broken sequences listed, reports written."""

import json

import numpy as np
import pytest
from evaluation_fakes import (
    BoxOracle,
    MaskOracle,
    davis_labels,
    make_davis,
    make_vot_release,
    moving_box,
    write_frames,
    write_json,
)
from siammask.datamodules.synthetic import SyntheticVideos

from siammask.evaluation import Entry, evaluate_protocol, run_benchmark, write_report
from siammask.evaluation.baselines import StaticBoxTracker
from siammask.evaluation.datasets import davis_dataset, otb_dataset, vot_dataset, ytvos_dataset
from siammask.evaluation.results import (
    read_label_map,
    read_vot_trajectory,
    vot_result_path,
    write_label_map,
    write_vot_trajectory,
)

VOT_PARAMS = {"burnin": 10, "skip": 5, "eao_interval": [1, 8]}


def test_vot_protocol_scores_good_sequences_and_lists_broken_ones(tmp_path, capsys):
    root = make_vot_release(tmp_path / "data", {"good": 8, "nogt": 8, "broken": 8})
    (root / "nogt" / "groundtruth.txt").unlink()
    (root / "broken" / "color" / "00000004.png").write_bytes(b"garbage")
    dataset = vot_dataset(root)
    seq = dataset.load("good")
    entry = Entry("oracle", tmp_path / "results", lambda: BoxOracle(seq.gt_polygons, fail_at={3}))
    result = evaluate_protocol("vot", dataset, entry, VOT_PARAMS, progress=True)
    lines = capsys.readouterr().err.splitlines()  # not a terminal: one progress line per sequence
    assert len(lines) == 3 and lines[-1].startswith("oracle vot: 3/3 sequences")
    assert sum("(good)" in line for line in lines) == 1 and sum("(broken failed)" in line for line in lines) == 1
    assert list(result.per_sequence) == ["good"]
    assert set(result.failures) == {"nogt", "broken"}
    assert "groundtruth.txt" in result.failures["nogt"] and "00000004.png" in result.failures["broken"]
    assert result.summary["lost"] == 1 and result.per_sequence["good"]["lost"] == 1
    assert result.summary["robustness"] == pytest.approx(100 / 8)
    written = read_vot_trajectory(vot_result_path(tmp_path / "results" / "vot", "good"), "good")
    assert [e for e in written if isinstance(e, int)] == [1, 2, 0, 0, 0, 0]  # init, fail at 3, skip 4-7 (end)


def test_saved_results_are_scored_and_a_short_file_is_a_listed_failure(tmp_path):
    root = make_vot_release(tmp_path / "data", {"a": 6, "b": 6, "c": 6})
    dataset = vot_dataset(root)
    results = tmp_path / "baseline"  # pysot's <tracker>/baseline folder, pointed at directly
    for name in ("a", "b"):
        gt = dataset.load(name).gt_polygons
        write_vot_trajectory(vot_result_path(results, name), [1] + gt[1:] if name == "a" else [1] + gt[1:4])
    result = evaluate_protocol("vot", dataset, Entry("saved", results), {**VOT_PARAMS, "burnin": 1}, progress=False)
    assert result.summary["accuracy"] == pytest.approx(1.0) and result.summary["lost"] == 0
    assert "has 4 lines but the sequence has 6 frames" in result.failures["b"]
    assert "c_001.txt" in result.failures["c"]


def test_otb_protocol_with_an_oracle_gives_full_precision(tmp_path):
    write_frames(tmp_path / "Car" / "img", 5, suffix=".png", digits=4)
    (tmp_path / "Car" / "groundtruth_rect.txt").write_text("\n".join(",".join(map(str, moving_box(f)))
                                                                     for f in range(5)))
    dataset = otb_dataset(tmp_path)
    gt = dataset.load("Car").gt_polygons
    result = evaluate_protocol("otb", dataset, Entry("oracle", tmp_path / "out", lambda: BoxOracle(gt)), {},
                               progress=False)
    assert result.summary == pytest.approx({"success_auc": 20 / 21, "precision": 1.0, "norm_precision": 1.0})
    assert (tmp_path / "out" / "otb" / "Car.txt").is_file()


def test_davis_protocol_oracle_scores_one_and_wrong_ids_are_refused(tmp_path):
    root = make_davis(tmp_path / "DAVIS", {"dogs": 4, "cats": 4})
    dataset = davis_dataset(root, 2017)
    labels = {n: dataset.load(n).labels for n in dataset.names}
    oracles = iter([MaskOracle(labels["dogs"]), MaskOracle(labels["cats"])])
    result = evaluate_protocol("davis", dataset, Entry("oracle", tmp_path / "out", lambda: next(oracles)),
                               {"bound_th": 0.008}, progress=False)
    assert result.failures == {}
    assert result.summary["JF_mean"] == pytest.approx(1.0) and result.summary["J_decay"] == pytest.approx(0.0)
    assert set(result.per_sequence["dogs"]["objects"]) == {"1", "2"}
    png = tmp_path / "out" / "davis" / "cats" / "00002.png"
    write_label_map(png, read_label_map(png, "cats") * 3)
    rescored = evaluate_protocol("davis", dataset, Entry("saved", tmp_path / "out"), {"bound_th": 0.008},
                                 progress=False)
    assert "contain ids [3, 6]" in rescored.failures["cats"] and "dogs" in rescored.per_sequence


def test_static_box_baseline_on_synthetic_videos_and_the_report_files(tmp_path):
    benchmark = {"name": "synthetic", "reader": "synthetic", "num_videos": 2, "protocols": ["vot", "davis"],
                 "vot": {"burnin": 10, "skip": 5, "eao_interval": [2, 12]}, "davis": {"bound_th": 0.008}}
    videos = SyntheticVideos(num_videos=2, num_frames=12, image_size=(96, 72), seed=7, num_targets=2)
    entries = [Entry("static_box", tmp_path / "results" / "static_box", StaticBoxTracker),
               Entry("again", tmp_path / "results" / "again", StaticBoxTracker)]
    results = run_benchmark(benchmark, entries, videos, progress=False)
    vot, davis = results["static_box"]["vot"], results["static_box"]["davis"]
    assert len(vot.per_sequence) == 4 and len(davis.per_sequence) == 2
    assert 0 < vot.summary["eao"] <= 1 and 0 < davis.summary["J_mean"] < 1
    assert results["again"]["vot"].summary == vot.summary  # deterministic: the same tracker scores the same
    doc, table = write_report(tmp_path, benchmark, {"ckpt_path": "none"}, results, main="static_box")
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved == doc
    assert set(saved["vot"]) >= {"eao", "accuracy", "robustness", "lost", "per_sequence", "failures"}
    assert set(saved["davis"]) >= {"J_mean", "J_recall", "J_decay", "F_mean", "F_recall", "F_decay", "JF_mean"}
    assert saved["baselines"]["again"]["vot"]["eao"] == saved["vot"]["eao"]
    assert "| static_box |" in table and (tmp_path / "metrics.md").read_text() == table
    assert (tmp_path / "eao_curve.png").stat().st_size > 0


@pytest.mark.parametrize("benchmark, message", [
    ({"protocols": ["lasot"]}, "unknown protocol 'lasot'"),
    ({"protocols": ["vot"], "vot": {"burnin": 10, "skip": 5}}, r"needs vot.\['eao_interval'\]"),
    ({"protocols": ["vot"], "vot": {"burnin": 10, "skip": 5, "eao_interval": [10, 6]}}, "1 <= low <= high"),
    ({"protocols": ["davis"]}, "bound_th")])
def test_bad_protocol_settings_fail_before_any_sequence_is_read(benchmark, message):
    with pytest.raises(ValueError, match=message):
        run_benchmark({"name": "x", "reader": "vot", "root": "/nowhere", **benchmark}, [], None)


def test_youtube_vos_writes_the_submission_layout_for_every_frame(tmp_path):
    base = tmp_path / "ytb" / "valid"
    write_frames(base / "JPEGImages" / "vid1", 4, hw=(24, 32), start=0, digits=5)
    full = [davis_labels(f) for f in range(4)]
    for f in range(2):
        full[f][full[f] == 2] = 0  # object 2 appears in frame 2
    write_label_map(base / "Annotations" / "vid1" / "00000.png", full[0])
    write_label_map(base / "Annotations" / "vid1" / "00002.png", np.where(full[2] == 2, 2, 0))
    write_json(base / "meta.json", {"videos": {"vid1": {"objects": {"1": {"frames": ["00000", "00001"]},
                                                                    "2": {"frames": ["00002", "00003"]}}}}})
    dataset = ytvos_dataset(tmp_path / "ytb")
    result = evaluate_protocol("ytvos", dataset, Entry("oracle", tmp_path / "out", lambda: MaskOracle(full)), {},
                               progress=False)
    assert result.per_sequence == {"vid1": {"frames": 4, "objects": 2}} and result.summary == {}
    for f in range(4):
        written = read_label_map(tmp_path / "out" / "ytvos" / "Annotations" / "vid1" / f"{f:05d}.png", "vid1")
        np.testing.assert_array_equal(written, full[f])
    saved = evaluate_protocol("ytvos", dataset, Entry("saved", tmp_path / "out"), {}, progress=False)
    assert "no public ground truth" in saved.failures["vid1"]


def test_davis2016_style_merged_object_accepts_binary_0_255_results(tmp_path):
    root = make_davis(tmp_path / "DAVIS", {"dogs": 4}, year=2016)
    dataset = davis_dataset(root, 2016, merge_objects=True)
    for f, name in enumerate(dataset.load("dogs").frames.names):
        write_label_map(tmp_path / "res" / "dogs" / f"{name}.png", np.where(davis_labels(f) > 0, 255, 0))
    result = evaluate_protocol("davis", dataset, Entry("saved", tmp_path / "res"), {"bound_th": 0.008},
                               progress=False)
    assert result.summary["J_mean"] == pytest.approx(1.0) and result.failures == {}


class KilledAtFrame(StaticBoxTracker):
    """The static tracker, interrupted (as by Ctrl-C) at its ``frames``-th tracked frame."""

    def __init__(self, frames: int):
        super().__init__()
        self.frames = frames
        self.calls = 0

    def track(self, image_rgb):
        self.calls += 1
        if self.calls == self.frames:
            raise KeyboardInterrupt
        return super().track(image_rgb)


def test_an_evaluation_killed_halfway_and_run_again_writes_the_metrics_of_an_uninterrupted_run(tmp_path):
    benchmark = {"name": "synthetic", "reader": "synthetic", "protocols": ["vot", "davis"], "num_videos": 2,
                 "vot": {**VOT_PARAMS, "burnin": 1, "eao_interval": [2, 6]}, "davis": {"bound_th": 0.008}}
    videos = SyntheticVideos(num_videos=2, num_frames=6, image_size=(96, 72), num_targets=2, seed=5)

    def evaluate(out, make_tracker):
        results = run_benchmark(benchmark, [Entry("static", out / "results", make_tracker)], videos, progress=False)
        return write_report(out, benchmark, {"tracker": "static"}, results, main="static")[0]

    uninterrupted = evaluate(tmp_path / "uninterrupted", StaticBoxTracker)
    out = tmp_path / "resumed"
    trackers = iter([StaticBoxTracker(), KilledAtFrame(5 + 2)])  # one per protocol: VOT whole, then DAVIS
    with pytest.raises(KeyboardInterrupt):  # killed at the second tracked frame of the second DAVIS video
        evaluate(out, lambda: next(trackers))
    davis = out / "results" / "davis"
    assert (davis / "video000").is_dir() and not (davis / "video001").exists()
    (davis / "video001.partial").mkdir()  # a killed write's leftovers must not be mixed in
    write_label_map(davis / "video001.partial" / "00000.png", np.full((72, 96), 1, np.uint8))
    finished = {p: p.stat().st_mtime_ns for p in (out / "results").rglob("*") if p.is_file()}

    assert evaluate(out, StaticBoxTracker) == uninterrupted
    assert json.loads((out / "metrics.json").read_text()) == json.loads(
        (tmp_path / "uninterrupted" / "metrics.json").read_text())
    assert all(p.stat().st_mtime_ns == t for p, t in finished.items() if ".partial" not in str(p))  # not redone
    assert not (davis / "video001.partial").exists()
