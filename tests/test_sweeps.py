"""Sweep summaries (siammask.sweeps) on fake multirun folders, and the objective a sweeper reads."""

import csv
import json
import subprocess
import sys

import pytest
import yaml

from siammask.sweeps import MissingObjectiveError, objective, write_result, write_summary


def fake_job(folder, job, overrides, metrics=None, objective_name="val/track_J", tracker=None):
    (folder / job / ".hydra").mkdir(parents=True)
    (folder / job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    (folder / job / ".hydra" / "config.yaml").write_text(yaml.safe_dump({"tracker": tracker or {}, "seed": 1}))
    if metrics is not None:
        write_result(folder / job, metrics, objective_name)


def test_summary_tables_every_run_and_names_the_best(tmp_path):
    fake_job(tmp_path, "0", ["model.optimizer.lr=0.001", "seed=1"], {"val/track_J": 0.5, "train/loss": 3.0})
    fake_job(tmp_path, "1", ["model.optimizer.lr=0.01", "seed=1"], {"val/track_J": 0.7, "train/loss": 2.0})
    fake_job(tmp_path, "2", ["model.optimizer.lr=0.1", "seed=1"], {"val/track_J": 0.6, "train/loss": 9.0})
    fake_job(tmp_path, "10", ["model.optimizer.lr=1.0", "seed=1"])  # crashed before writing its result
    summary, text = write_summary(tmp_path)
    assert summary.best.job == "1" and summary.objective == "val/track_J" and summary.swept == ["model.optimizer.lr"]
    with open(tmp_path / "summary.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["job"] for r in rows] == ["0", "1", "2", "10"]  # numeric job order
    assert [r["objective"] for r in rows] == ["0.5", "0.7", "0.6", ""] and rows[3]["finished"] == "False"
    assert rows[1]["train/loss"] == "2.0" and rows[1]["overrides"] == "model.optimizer.lr=0.01 seed=1"
    assert "Best run: **1**" in text and "model.optimizer.lr=0.01" in text and "3 of 4 runs finished" in text
    assert "| 10 | 1 | not finished |" in text and (tmp_path / "summary.md").read_text() == text
    assert (tmp_path / "summary.png").stat().st_size > 0


def test_summary_follows_the_sweeper_direction_and_writes_the_best_tracker_preset(tmp_path):
    (tmp_path / "multirun.yaml").write_text(yaml.safe_dump({"hydra": {"sweeper": {"direction": "minimize"}}}))
    for job, (k, loss) in enumerate([(0.02, 0.3), (0.1, 0.1), (0.2, 0.2)]):
        fake_job(tmp_path, str(job), [f"tracker.penalty_k={k}"], {"vot/lost": loss}, "vot/lost",
                 tracker={"penalty_k": k, "lr": 0.25})
    summary, text = write_summary(tmp_path)
    assert summary.direction == "minimize" and summary.best.job == "1"
    preset = yaml.safe_load((tmp_path / "best_tracker.yaml").read_text())
    assert preset == {"penalty_k": 0.1, "lr": 0.25} and "best_tracker.yaml" in text


def test_the_command_line_summarises_a_folder_and_refuses_one_without_jobs(tmp_path):
    fake_job(tmp_path, "0", ["a=1"], {"val/track_J": 0.5})
    fake_job(tmp_path, "1", ["a=2"], {"val/track_J": 0.4})
    command = [sys.executable, "-m", "siammask.sweeps", f"hydra.run.dir={tmp_path / 'run'}"]
    done = subprocess.run([*command, f"folder={tmp_path}"], capture_output=True, text=True, check=True)
    assert "Best run: **0**" in done.stdout and str(tmp_path / "summary.csv") in done.stdout
    empty = subprocess.run([*command, f"folder={tmp_path / '0'}"], capture_output=True, text=True, check=False)
    assert empty.returncode == 1 and "holds no Hydra job folders" in empty.stderr


def test_a_missing_objective_names_the_metrics_that_exist_in_a_sweep_and_is_only_a_warning_in_a_single_run(caplog):
    assert objective({"val/track_J": 0.25}, "val/track_J") == 0.25 and objective({}, None) is None
    with pytest.raises(MissingObjectiveError, match=r"'val/track_X' is not among .*\['train/loss', 'val/track_J'\]"):
        objective({"val/track_J": 0.25, "train/loss": 1.0}, "val/track_X", sweep=True)
    assert objective({"train/loss": 1.0}, "train/mask_iou", sweep=False) is None
    assert "optimized_metric='train/mask_iou' is not among this run's metrics: ['train/loss']" in caplog.text


def test_result_file_holds_the_objective_and_every_metric(tmp_path):
    path = write_result(tmp_path, {"a": 1, "b": 0.5}, "b")
    assert json.loads(path.read_text()) == {"objective": "b", "value": 0.5, "metrics": {"a": 1.0, "b": 0.5}}
