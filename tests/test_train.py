"""train.py end to end through its command line, as a user runs it (small batches, a few steps)."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from siammask.lit.checkpoint import load_network

ROOT = Path(__file__).resolve().parents[1]
FAST = ["data.batch_size=4", "trainer.log_every_n_steps=1", "callbacks.progress_bar.refresh_rate=0"]


def run_train(*overrides: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "train.py", *overrides], cwd=ROOT, capture_output=True, text=True,
                            timeout=600)
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


def read_steps(run_dir: Path) -> int:
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    return checkpoint["global_step"]


pytestmark = pytest.mark.slow


def test_default_training_writes_checkpoints_and_metrics_into_the_run_dir(tmp_path):
    run_train("++trainer.max_steps=20", "++trainer.limit_val_batches=0", f"hydra.run.dir={tmp_path}", *FAST)
    assert read_steps(tmp_path) == 20
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()
    metrics = (tmp_path / "csv" / "metrics.csv").read_text().splitlines()
    header = metrics[0].split(",")
    assert {"train/loss", "train/loss_score", "train/loss_box", "train/loss_mask", "train/box_iou"} <= set(header)


def test_two_branch_with_a_mobilenet_backbone_from_the_command_line(tmp_path):
    run_train("model=two_branch", "model/backbone=mobilenetv3_large_100", "++trainer.max_steps=2",
              f"hydra.run.dir={tmp_path}", *FAST)
    assert read_steps(tmp_path) == 2


def test_any_timm_name_swaps_the_backbone(tmp_path):
    run_train("model.backbone.name=resnet34", "++trainer.max_steps=1", f"hydra.run.dir={tmp_path}", *FAST)
    checkpoint = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert checkpoint["hyper_parameters"]["backbone"]["name"] == "resnet34"


def test_multirun_sweeps_backbones_and_learning_rates_into_separate_folders(tmp_path):
    run_train("-m", "model/backbone=resnet18_light,resnet18", "model.optimizer.lr=0.001,0.002",
              "++trainer.max_steps=1", f"hydra.sweep.dir={tmp_path}", *FAST)
    runs = sorted(p.parent.parent for p in tmp_path.glob("*/checkpoints/last.ckpt"))
    assert [p.name for p in runs] == ["0", "1", "2", "3"]
    lrs = {torch.load(p / "checkpoints/last.ckpt", weights_only=True)["hyper_parameters"]["optimizer"]["lr"] for p in runs}
    assert lrs == {0.001, 0.002}


def test_resume_continues_from_the_saved_step(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    run_train("++trainer.max_steps=3", f"hydra.run.dir={first}", *FAST)
    run_train("++trainer.max_steps=5", f"ckpt_path={first / 'checkpoints' / 'last.ckpt'}", f"hydra.run.dir={second}",
              *FAST)
    assert read_steps(first) == 3 and read_steps(second) == 5


def test_default_checkpoint_holds_the_weight_average_that_eval_loads(tmp_path):
    run_train("++trainer.max_steps=4", "callbacks.ema.update_starting_at_step=1", "callbacks.ema.decay=0.5",
              f"hydra.run.dir={tmp_path}", *FAST)
    checkpoint = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert int(checkpoint["averaging_state"]["n_averaged"]) == 3  # after steps 1, 2 and 3 (0-based)
    assert checkpoint["state_dict"].keys() == checkpoint["current_model_state"].keys()
    load_network(tmp_path / "checkpoints" / "last.ckpt")  # eval.py / track.py read the average


@pytest.mark.parametrize("override, message", [("model.no_such_key=1", "no_such_key"),
                                               ("model/backbone=nope", "nope"),
                                               ("model.backbone.name=not_a_timm_model", "unknown timm backbone")])
def test_bad_configuration_fails_before_training_with_a_clear_message(tmp_path, override, message):
    result = run_train(override, f"hydra.run.dir={tmp_path}", check=False)
    assert result.returncode != 0
    assert message in result.stderr
    assert not (tmp_path / "checkpoints").exists()


def test_tracking_validation_callback_logs_video_scores_during_training(tmp_path):
    run_train("callbacks=[default,tracking_validation]", f"hydra.run.dir={tmp_path}", "data.batch_size=4",
              "trainer.max_steps=-1", "trainer.max_epochs=1", "+trainer.limit_train_batches=2",
              "callbacks.tracking_validation.num_videos=1", "callbacks.tracking_validation.videos.num_frames=4")
    with open(tmp_path / "csv" / "metrics.csv") as handle:
        rows = [row for row in csv.DictReader(handle) if row.get("val/track_J")]
    assert len(rows) == 1
    assert 0.0 <= float(rows[0]["val/track_J"]) <= 1.0 and 0.0 <= float(rows[0]["val/track_JF"]) <= 1.0


def test_prediction_images_are_written_into_the_run_dir_during_training(tmp_path):
    run_train("callbacks=[default,prediction_images]", "callbacks.prediction_images.every_n_steps=2",
              "callbacks.prediction_images.num_pairs=2", "++trainer.max_steps=4", f"hydra.run.dir={tmp_path}", *FAST)
    assert sorted(p.name for p in (tmp_path / "predictions").glob("*.png")) == ["step_000002.png", "step_000004.png"]


def test_mixed_precision_accumulation_and_clipping_are_trainer_flags(tmp_path):
    run_train("trainer.precision=bf16-mixed", "trainer.accumulate_grad_batches=2", "trainer.gradient_clip_val=5",
              "++trainer.max_steps=2", f"hydra.run.dir={tmp_path}", *FAST)
    assert read_steps(tmp_path) == 2


def test_ctrl_c_mid_epoch_saves_that_step_and_prints_the_resume_command(tmp_path):
    # The test callback (tests/signal_helpers.py) sends SIGINT to train.py during step 2, whatever the speed.
    result = subprocess.run(
        [sys.executable, "train.py", "++trainer.max_steps=4", f"hydra.run.dir={tmp_path}", *FAST,
         "+callbacks.signal._target_=signal_helpers.SignalAtStep", "+callbacks.signal.step=2"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT / "tests")})
    assert result.returncode == 130, result.stderr[-3000:]  # 128 + SIGINT, as the shell reports a Ctrl-C
    ckpt_file = tmp_path / "checkpoints" / "interrupted.ckpt"
    assert f"Run folder: {tmp_path}" in result.stdout
    assert f"Stopped by SIGINT at step 2. Checkpoint of that step: {ckpt_file}" in result.stdout
    resume = next(line for line in result.stdout.splitlines() if line.startswith("Resume with: "))
    assert resume.startswith("Resume with: python train.py ++trainer.max_steps=4")
    assert resume.endswith(f"ckpt_path={ckpt_file}")
    assert torch.load(ckpt_file, map_location="cpu", weights_only=True)["global_step"] == 2
