"""eval.py end to end in a subprocess: scoring saved results, and the default run on the newest checkpoint."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from evaluation_fakes import make_davis, make_vot_release
from hydra import compose, initialize_config_dir

from siammask.evaluation import PROTOCOLS
from siammask.evaluation.datasets import davis_dataset, vot_dataset
from siammask.evaluation.results import label_map_path, vot_result_path, write_label_map, write_vot_trajectory

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = sorted(p.stem for p in (ROOT / "conf" / "benchmark").glob("*.yaml"))


def run_eval(*overrides: str, env: dict | None = None, expect: int = 0) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, str(ROOT / "eval.py"), "progress=false", *overrides], cwd=ROOT,
                            capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})},
                            check=False)
    assert result.returncode == expect, result.stderr[-3000:]
    return result


@pytest.mark.parametrize("benchmark", BENCHMARKS)
def test_every_benchmark_config_composes_with_its_tracker_preset(benchmark):
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("eval", overrides=[f"benchmark={benchmark}"])
        pinned = compose("eval", overrides=[f"benchmark={benchmark}", "tracker=vot"])
    assert cfg.benchmark.name == benchmark and set(cfg.benchmark.protocols) <= set(PROTOCOLS)
    expected_preset = {"davis": "davis", "ytvos": "davis", "synthetic": "synthetic"}.get(cfg.benchmark.reader, "vot")
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        preset = compose("eval", overrides=[f"tracker={expected_preset}"]).tracker
    assert cfg.tracker == preset
    assert pinned.tracker.lr == 0.25  # the command line still chooses the tracker


def test_scoring_saved_vot_results_writes_metrics_table_plot_and_lists_the_bad_file(tmp_path):
    root = make_vot_release(tmp_path / "VOT2018", {"ball": 12, "car": 12})
    gt = vot_dataset(root).load("ball").gt_polygons
    write_vot_trajectory(vot_result_path(tmp_path / "res", "ball"), [1] + gt[1:])
    write_vot_trajectory(vot_result_path(tmp_path / "res", "car"), [1] + gt[1:5])
    out = tmp_path / "run"
    result = run_eval("benchmark=vot2018", f"benchmark.root={root}", f"results_dir={tmp_path / 'res'}",
                      f"hydra.run.dir={out}", "benchmark.vot.eao_interval=[2,12]")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["vot"]["eao"] == pytest.approx(1.0) and metrics["vot"]["accuracy"] == pytest.approx(1.0)
    assert metrics["vot"]["lost"] == 0 and metrics["vot"]["robustness"] == 0.0
    assert list(metrics["vot"]["per_sequence"]) == ["ball"]
    assert "car_001.txt has 5 lines but the sequence has 12 frames" in metrics["vot"]["failures"]["car"]
    assert "| results | 1.000 | [1.000, 1.000] | 1.000 | 0.000 | 0 |" in result.stdout and "car_001.txt" in result.stdout
    assert (out / "metrics.md").read_text() in result.stdout and (out / "eao_curve.png").is_file()


@pytest.mark.parametrize("results, message", [
    ("missing", r"error: results_dir '.*missing' is not a folder"),
    ("empty", r"error: no sequence could be scored \(2 failures; the first, vot/ball: .*ball_001.txt"),
])
def test_results_that_score_nothing_end_in_one_line_and_exit_1(tmp_path, results, message):
    root = make_vot_release(tmp_path / "VOT2018", {"ball": 6, "car": 6})
    (tmp_path / "empty").mkdir()
    result = run_eval("benchmark=vot2018", f"benchmark.root={root}", f"results_dir={tmp_path / results}",
                      f"hydra.run.dir={tmp_path / 'run'}", "benchmark.vot.eao_interval=[2,6]", expect=1)
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert re.match(message, result.stderr)


def test_a_folder_given_to_the_generated_default_benchmark_is_refused_in_one_line(tmp_path):
    result = run_eval(f"benchmark.root={tmp_path}", f"hydra.run.dir={tmp_path / 'run'}", expect=1)
    assert result.stderr.startswith("error: benchmark 'synthetic' generates its videos and reads no folder")
    assert "benchmark=custom benchmark.root=<folder>" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()  # nothing was written: no run folder left behind


def test_scoring_saved_davis_pngs_end_to_end(tmp_path):
    root = make_davis(tmp_path / "DAVIS", {"dogs": 5})
    seq = davis_dataset(root, 2017).load("dogs")
    for name, labels in zip(seq.frames.names, seq.labels):
        write_label_map(label_map_path(tmp_path / "res", "dogs", name), np.where(labels == 2, 0, labels))
    out = tmp_path / "run"
    run_eval("benchmark=davis2017", f"benchmark.root={root}", f"results_dir={tmp_path / 'res'}",
             f"hydra.run.dir={out}")
    davis = json.loads((out / "metrics.json").read_text())["davis"]
    assert davis["J_mean"] == pytest.approx(0.5)  # object 1 perfect, object 2 never predicted
    assert davis["per_sequence"]["dogs"]["objects"]["2"]["J_mean"] == 0.0 and davis["failures"] == {}


def write_tiny_checkpoint(path: Path) -> None:
    import pytorch_lightning as pl

    from siammask.lit import ThreeBranchModule

    head = {n: {"_target_": "siammask.models.XCorrHead", "_partial_": True, "hidden_channels": 8}
            for n in ("score", "box", "mask")}
    module = ThreeBranchModule(
        backbone={"_target_": "siammask.models.TimmBackbone", "name": "resnet18", "out_indices": [0, 1, 2]},
        neck={"_target_": "siammask.models.Adjust", "_partial_": True, "out_channels": 8}, head=head, refine=None,
        loss={"score": 1.0, "box": 1.2, "mask": 36.0}, optimizer={"_target_": "torch.optim.SGD", "lr": 0.01},
        targets={"_target_": "siammask.anchors.AnchorTargetAssigner"})
    trainer = pl.Trainer(max_steps=0, logger=False, enable_checkpointing=False, enable_progress_bar=False)
    trainer.strategy.connect(module)
    path.parent.mkdir(parents=True)
    trainer.save_checkpoint(path)


@pytest.mark.slow
def test_default_run_evaluates_the_newest_training_with_both_protocols_and_the_static_baseline(tmp_path):
    old = tmp_path / "logs" / "train" / "runs" / "2020-01-01_00-00-00" / "checkpoints" / "last.ckpt"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"an older, broken checkpoint that must not be picked")
    os.utime(old, (1e9, 1e9))
    newest = tmp_path / "logs" / "train" / "runs" / "2024-01-01_00-00-00" / "checkpoints" / "last.ckpt"
    write_tiny_checkpoint(newest)
    for run in (old, newest):  # both `make train` runs: no command-line override saved by Hydra
        (run.parents[1] / ".hydra").mkdir()
        (run.parents[1] / ".hydra" / "overrides.yaml").write_text("[]\n")
    run_eval("benchmark.num_videos=1", "benchmark.num_frames=6", "benchmark.generator.image_size=[96,72]",
             env={"PROJECT_ROOT": str(tmp_path)})
    (run_dir,) = (tmp_path / "logs" / "eval" / "runs").iterdir()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["benchmark"] == "synthetic" and Path(metrics["ckpt_path"]) == newest
    assert set(metrics["vot"]) >= {"eao", "accuracy", "robustness", "lost"} and len(metrics["vot"]["per_sequence"]) == 2
    assert set(metrics["davis"]) >= {"J_mean", "F_mean", "JF_mean"} and metrics["davis"]["failures"] == {}
    assert metrics["baselines"]["static_box"]["vot"]["lost"] >= 0
    assert (run_dir / "results" / "siammask" / "davis" / "video000" / "00005.png").is_file()


@pytest.mark.slow
def test_tracker_sweep_returns_the_objective_and_writes_the_best_preset(tmp_path):
    ckpt = tmp_path / "ckpt" / "model.ckpt"
    write_tiny_checkpoint(ckpt)
    result = run_eval("hparams_search=tracker_optuna", "++hydra.sweeper.n_trials=2", f"ckpt_path={ckpt}",  # multirun
                      "benchmark.num_videos=1", "benchmark.num_frames=6", "benchmark.generator.image_size=[96,72]",
                      f"hydra.sweep.dir={tmp_path / 'sweep'}")
    sweep = tmp_path / "sweep"
    values = {job: json.loads((sweep / job / "result.json").read_text())["value"] for job in ("0", "1")}
    best_job = max(values, key=values.get)
    assert f"Best run: **{best_job}**" in result.stdout and "davis/J_mean" in result.stdout
    preset = yaml.safe_load((sweep / "best_tracker.yaml").read_text())
    chosen = yaml.safe_load((sweep / best_job / ".hydra" / "config.yaml").read_text())["tracker"]
    assert preset == chosen and preset["window_influence"] != 0.2  # the trial's value, not the synthetic preset's
    assert not (sweep / best_job / "results" / "static_box").exists()  # the baseline is not re-run per trial
