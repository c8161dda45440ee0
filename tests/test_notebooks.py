"""The notebooks run top to bottom (their code cells executed here, parameters overridden for speed)."""

import json
from pathlib import Path

import matplotlib
import pytest
from model_fixtures import default_checkpoint, light_model_kwargs

matplotlib.use("Agg")
ROOT = Path(__file__).resolve().parents[1]


def run_notebook(name: str, overrides: dict) -> dict:
    book = json.loads((ROOT / "notebooks" / name).read_text())
    cells = ["".join(c["source"]) for c in book["cells"] if c["cell_type"] == "code"]
    namespace: dict = {}
    exec(compile(cells[0], f"{name}[parameters]", "exec"), namespace)  # noqa: S102 - runs our own notebook
    namespace.update(overrides)
    for index, cell in enumerate(cells[1:], start=1):
        exec(compile(cell, f"{name}[{index}]", "exec"), namespace)  # noqa: S102 - as above
    return namespace


def tiny_checkpoint(path: Path) -> Path:
    import pytorch_lightning as pl

    from siammask.lit import ThreeBranchModule

    trainer = pl.Trainer(max_steps=0, logger=False, enable_checkpointing=False, enable_progress_bar=False)
    trainer.strategy.connect(ThreeBranchModule(**light_model_kwargs()))
    trainer.save_checkpoint(path)
    return path


@pytest.mark.slow
def test_demo_notebook_tracks_the_tennis_player(tmp_path, tennis_dir):
    namespace = run_notebook("demo.ipynb", {"CKPT_PATH": tiny_checkpoint(tmp_path / "m.ckpt"), "MAX_FRAMES": 6,
                                            "SHOW_EVERY": 5, "INPUT": tennis_dir})
    assert len(namespace["shown"]) == 1 and namespace["shown"][0][1].shape == (480, 854, 3)


def test_data_browser_notebook_draws_a_sample_grid(tmp_path):
    namespace = run_notebook("data_browser.ipynb", {"COUNT": 2, "OUT": tmp_path / "grid.png"})
    assert (tmp_path / "grid.png").stat().st_size > 0 and len(namespace["samples"]) == 2


def test_compare_notebook_reads_every_run_log(tmp_path):
    for run, values in (("a", [1.0, 0.5]), ("b", [2.0, 1.0])):
        log = tmp_path / "logs" / "train" / "runs" / run / "csv" / "metrics.csv"
        log.parent.mkdir(parents=True)
        log.write_text("step,train/loss\n" + "".join(f"{i},{v}\n" for i, v in enumerate(values)))
    namespace = run_notebook("compare_runs.ipynb", {"ROOT": tmp_path, "SMOOTH": 2})
    assert sorted(namespace["runs"]) == ["logs/train/runs/a", "logs/train/runs/b"]
    assert namespace["final"]["logs/train/runs/b"]["train/loss"] == pytest.approx(1.5)


@pytest.mark.slow
def test_own_data_notebook_fine_tunes_evaluates_before_and_after_and_tracks(tmp_path, tennis_dir):
    namespace = run_notebook("own_data.ipynb", {
        "CKPT_PATH": default_checkpoint(tmp_path / "before.ckpt", 127), "OUT": tmp_path / "example",
        "TENNIS": tennis_dir,
        "CLIPS": 3, "FRAMES_PER_CLIP": 3, "STEPS": 2, "BATCH": 2,
        "EXTRA": ["model.search_size=127", "data.min_steps_per_epoch=1"]})
    metrics = namespace["metrics"]
    for protocol, key in (("vot", "eao"), ("otb", "success_auc"), ("davis", "J_mean")):
        assert metrics[protocol]["sequences"] == 1 and key in metrics["baselines"]["before"][protocol]
    assert len(namespace["masks"]) == 2  # frames 1 and 2 of the held-out clip, tracked (frame 0 keeps its box)
