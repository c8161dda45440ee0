"""scripts/plot_training.py: a run's curves go beside the run by default, never over the tracked docs/ figure."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
from command_line import run_command

ROOT = Path(__file__).resolve().parents[1]


def test_the_curves_go_into_the_run_folder_unless_out_is_given(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("plot_training", ROOT / "scripts" / "plot_training.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    run = tmp_path / "run"
    (run / "csv" / "version_0").mkdir(parents=True)
    pd.DataFrame({"step": [1, 2, 3], "train/loss_score": [0.7, 0.6, 0.5], "train/box_iou": [0.1, 0.2, 0.3]}).to_csv(
        run / "csv" / "version_0" / "metrics.csv", index=False)
    monkeypatch.chdir(tmp_path)  # where README's command runs: a folder with docs/ in a clone
    assert run_command(script.main, f"run_dir={run}", run_dir=tmp_path) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # nothing in the current folder
    assert (run / "training_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert run_command(script.main, f"run_dir={run}", f"out={tmp_path / 'curve.png'}", run_dir=tmp_path) == 0
    assert (tmp_path / "curve.png").is_file()
