"""Comparison with other trackers' raw results (eval.py compare_dir), per-attribute tables and plots, and several
runs of ours reported as mean ± std."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from benchmark_layouts import default_boxes, make_got10k, make_lasot, make_nfs, make_trackingnet, make_uav123
from test_evaluation_cli import run_eval, write_tiny_checkpoint
from test_evaluation_ope_benchmarks import noisy, pysot_ope

from siammask.evaluation import Entry, run_benchmark, write_report
from siammask.evaluation.protocols import ProtocolResult
from siammask.evaluation.report import run_spread
from siammask.evaluation.results import write_otb_boxes


@pytest.mark.slow
def test_compare_dir_scores_every_tracker_in_one_table_one_plot_and_under_compare(tmp_path):
    boxes = {"bird-1": default_boxes(15), "car-1": default_boxes(12) + [4, 6, 2, 3]}
    flags = {"bird-1": [1, 1] + [0] * 12, "car-1": [0, 1] + [0] * 12}  # the 14 attributes of conf/benchmark/lasot
    root = make_lasot(tmp_path / "lasot", boxes, {"bird-1": [3, 4]}, flags, split=list(boxes))
    visible = {s: ~np.isin(np.arange(len(g)), [3, 4] if s == "bird-1" else []) for s, g in boxes.items()}
    expected = {}
    for seed, folder in enumerate([tmp_path / "ours", tmp_path / "others" / "TrackerA", tmp_path / "others" / "B"]):
        preds = {seq: noisy(gt, 10 * seed + i) for i, (seq, gt) in enumerate(boxes.items())}
        for seq, pred in preds.items():
            write_otb_boxes(folder / f"{seq}.txt", pred)  # the raw-results layout: <tracker>/<seq>.txt
        expected[folder.name] = pysot_ope([(boxes[s], preds[s], visible[s]) for s in boxes])
    out = tmp_path / "run"
    run_eval("benchmark=lasot", f"benchmark.root={root}", "benchmark.attributes_dir=att",
             f"results_dir={tmp_path / 'ours'}", f"compare_dir={tmp_path / 'others'}", f"hydra.run.dir={out}")
    metrics = json.loads((out / "metrics.json").read_text())
    assert {k: metrics["otb"][k] for k in expected["ours"]} == pytest.approx(expected["ours"], abs=1e-3)
    for name in ("TrackerA", "B"):
        compared = metrics["compare"][name]["otb"]
        assert {k: compared[k] for k in expected[name]} == pytest.approx(expected[name], abs=1e-3)
        assert compared["attributes"]["Partial Occlusion"]["sequences"] == 2
    table = (out / "metrics.md").read_text()
    summary = table.split("## otb")[1].split("###")[0]
    assert all(f"| {name} |" in summary for name in ("results", "TrackerA", "B"))
    assert (out / "success_plot.png").is_file() and (out / "norm_precision_plot.png").is_file()
    assert "### otb attributes: Illumination Variation" in table
    assert (out / "attributes" / "Partial_Occlusion" / "success_plot.png").is_file()


def test_uav123_attribute_table_and_plot_per_attribute(tmp_path):
    names = ["Scale Variation", "Aspect Ratio Change"] + [f"a{i}" for i in range(10)]
    boxes = {"car1": default_boxes(10), "person2": default_boxes(8)}
    root = make_uav123(tmp_path / "uav", boxes, attributes={"car1": [1, 0] + [0] * 10, "person2": [1, 1] + [0] * 10})
    benchmark = {"name": "uav123", "reader": "uav123", "root": str(root), "attribute_names": names,
                 "protocols": ["otb"]}
    for seq, gt in boxes.items():
        write_otb_boxes(tmp_path / "res" / f"{seq}.txt", noisy(gt, len(seq)))
    results = run_benchmark(benchmark, [Entry("results", tmp_path / "res")], progress=False)
    doc, table = write_report(tmp_path / "out", benchmark, {}, results, main="results")
    assert doc["otb"]["attributes"]["Scale Variation"]["sequences"] == 2
    assert doc["otb"]["attributes"]["Aspect Ratio Change"]["sequences"] == 1
    only_person = results["results"]["otb"].groups["attributes"]["Aspect Ratio Change"].summary["success_auc"]
    assert only_person == pytest.approx(results["results"]["otb"].per_sequence["person2"]["success_auc"])
    assert "### otb attributes: Scale Variation" in table and "### otb attributes: Aspect Ratio Change" in table
    assert (tmp_path / "out" / "attributes" / "Aspect_Ratio_Change" / "precision_plot.png").is_file()


def test_several_runs_report_mean_and_sample_standard_deviation():
    results = {name: {"otb": ProtocolResult({"success_auc": auc, "precision": 0.5})}
               for name, auc in (("siammask", 0.6), ("siammask_run2", 0.7), ("siammask_run3", 0.8))}
    spread = run_spread(results, list(results))
    assert spread["mean"]["otb"] == pytest.approx({"success_auc": 0.7, "precision": 0.5})
    assert spread["std"]["otb"] == pytest.approx({"success_auc": 0.1, "precision": 0.0})  # ddof 1
    doc, table = write_report_in_memory(results)
    assert doc["runs"]["names"] == list(results) and doc["runs"]["std"]["otb"]["success_auc"] == pytest.approx(0.1)
    assert "| mean ± std of 3 runs | 0.700 ± 0.100 |" in table


def write_report_in_memory(results: dict) -> tuple[dict, str]:
    from siammask.evaluation.report import markdown_report, metrics_document

    runs = list(results)
    return metrics_document("lasot", {}, results, "siammask", runs=runs), markdown_report("lasot", {}, results, runs)


@pytest.mark.slow
@pytest.mark.parametrize("benchmark", ["lasot", "lasot_ext", "got10k_val", "got10k_test", "trackingnet", "uav123",
                                       "nfs30"])
def test_eval_runs_a_checkpoint_on_every_new_layout(tmp_path, benchmark):

    boxes = default_boxes(4)
    root = tmp_path / "data"
    layouts = {
        "lasot": lambda: make_lasot(root, {"cat-1": boxes}, {"cat-1": [2]}, split=["cat-1"]),
        "lasot_ext": lambda: make_lasot(root, {"cat-1": boxes}),
        "got10k_val": lambda: make_got10k(root, "val", {"GOT-10k_Val_000001": boxes}, {"GOT-10k_Val_000001": "cat"}),
        "got10k_test": lambda: make_got10k(root, "test", {"GOT-10k_Test_000001": boxes},
                                           {"GOT-10k_Test_000001": "cat"}, first_only=True),
        "trackingnet": lambda: make_trackingnet(root, "TEST", {"abc_0": boxes}, first_only=True),
        "uav123": lambda: make_uav123(root, {"car1": boxes}, attributes={"car1": [1] + [0] * 11}),
        "nfs30": lambda: make_nfs(root, {"Bolt": boxes}),
    }
    layouts[benchmark]()
    ckpt = tmp_path / "ckpt" / "model.ckpt"
    write_tiny_checkpoint(ckpt)
    out = tmp_path / "run"
    run_eval(f"benchmark={benchmark}", f"benchmark.root={root}", f"ckpt_path={ckpt}", f"hydra.run.dir={out}")
    metrics = json.loads((out / "metrics.json").read_text())
    (protocol,) = {"got10k_val": ["got10k"], "got10k_test": ["got10k"], "trackingnet": ["trackingnet"]}.get(
        benchmark, ["otb"])
    section = metrics[protocol]
    assert section["failures"] == {} and section["sequences"] == 1
    if benchmark in ("got10k_test", "trackingnet"):
        assert Path(section["submission"]).is_file()
    else:
        keys = ("ao", "sr50", "sr75") if protocol == "got10k" else ("success_auc", "precision", "norm_precision")
        assert all(0 <= section[k] <= 1 for k in keys)
