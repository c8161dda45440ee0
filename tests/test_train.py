"""train.py end to end through its command line, as a user runs it (small batches, a few steps)."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from siammask.checkpoints import load_network

ROOT = Path(__file__).resolve().parents[1]
FAST = ["data.batch_size=4", "trainer.log_every_n_steps=1", "callbacks.progress_bar.refresh_rate=0"]


def run_train(*overrides: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "train.py", *overrides], cwd=ROOT, capture_output=True, text=True,
                            timeout=600, env={**os.environ, **(env or {})}, check=False)
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


@pytest.mark.parametrize("head", ["anchor_free", "multi_level"])
def test_every_box_head_trains_from_the_command_line(tmp_path, head):
    run_train(f"model/head={head}", "++trainer.max_steps=3", f"hydra.run.dir={tmp_path}", *FAST)
    assert read_steps(tmp_path) == 3
    assert load_network(tmp_path / "checkpoints" / "last.ckpt").box_head is not None


REFINES = sorted(p.stem for p in (ROOT / "conf/model/refine").glob("*.yaml"))


@pytest.mark.parametrize("refine", REFINES)
def test_every_refine_trains_and_its_checkpoint_rebuilds_it(refine, tmp_path):
    run_train(f"model/refine={refine}", "++trainer.max_steps=3", "++trainer.limit_val_batches=0",
              f"hydra.run.dir={tmp_path}", *FAST)
    assert read_steps(tmp_path) == 3
    network = load_network(tmp_path / "checkpoints" / "last.ckpt")
    target = yaml.safe_load((ROOT / "conf/model/refine" / f"{refine}.yaml").read_text() or "{}") or {}
    expected = target.get("_target_")
    assert (network.refine is None) if expected is None else type(network.refine).__name__ == expected.rsplit(".")[-1]


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
    # resuming a checkpoint already at max_steps trains nothing: one line saying so, the checkpoint untouched
    done = run_train("++trainer.max_steps=5", f"ckpt_path={second / 'checkpoints' / 'last.ckpt'}",
                     f"hydra.run.dir={tmp_path / 'third'}", *FAST, check=False)
    assert done.returncode == 1
    assert "nothing left to train" in done.stderr and "trainer.max_steps=5" in done.stderr
    assert read_steps(second) == 5


def test_default_checkpoint_holds_the_weight_average_that_eval_loads(tmp_path):
    run_train("++trainer.max_steps=4", "callbacks.ema.update_starting_at_step=1", "callbacks.ema.decay=0.5",
              f"hydra.run.dir={tmp_path}", *FAST)
    checkpoint = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert int(checkpoint["averaging_state"]["n_averaged"]) == 3  # after steps 1, 2 and 3 (0-based)
    assert checkpoint["state_dict"].keys() == checkpoint["current_model_state"].keys()
    load_network(tmp_path / "checkpoints" / "last.ckpt")  # eval.py / track.py read the average


@pytest.mark.parametrize("override, message", [("model.no_such_key=1", "no_such_key"),
                                               ("model/backbone=nope", "nope"),
                                               ("model.backbone.name=not_a_timm_model", "unknown timm backbone"),
                                               ("experiment=siammask_base", "download the release file resnet.model")])
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
    clip = 0.05  # far below the gradient norm of an untrained network, so every step is clipped
    probe = tmp_path / "probe.json"
    run_train("trainer.precision=bf16-mixed", "trainer.accumulate_grad_batches=2", f"trainer.gradient_clip_val={clip}",
              "++trainer.max_steps=2", "++trainer.limit_val_batches=0", f"hydra.run.dir={tmp_path}", *FAST,
              "+callbacks.probe._target_=training_probe.TrainingProbe", f"+callbacks.probe.out={probe}",
              env={"PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")])})
    assert read_steps(tmp_path) == 2
    record = json.loads(probe.read_text())
    assert record["precision"] == "bf16-mixed"
    assert len(record["score_dtypes"]) == 4 and set(record["score_dtypes"]) == {"torch.bfloat16"}  # 2 x 2 batches
    assert len(record["before_clipping"]) == len(record["after_step"]) == 2  # one optimiser step per 2 batches
    assert all(norm > 10 * clip for norm in record["before_clipping"])
    assert record["after_step"] == pytest.approx([clip, clip], rel=1e-3)


def test_every_missing_store_of_the_paper_recipe_is_named_in_one_line_without_traceback(tmp_path):
    # the paper backbone without its ImageNet weights file, so that the stores are what is missing
    result = run_train("experiment=siammask_base", "model/backbone=paper_resnet50", f"paths.data_dir={tmp_path}",
                       f"hydra.run.dir={tmp_path / 'run'}", check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    line = result.stderr.strip().splitlines()[-1]  # after Lightning's "Seed set to" line
    assert line.startswith("error: 5 LMDB store(s) cannot be used")
    for key in ("datasets.ytb_vos", "datasets.vid", "datasets.coco", "datasets.det", "val_datasets.vid"):
        assert f"{key}.path: no SiamMask LMDB store" in line


def test_hydra_full_error_shows_the_traceback_of_a_user_mistake(tmp_path, monkeypatch):
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")
    result = run_train("model.backbone.name=hrnet_w18_small", f"hydra.run.dir={tmp_path}", check=False)
    assert result.returncode == 1 and "Traceback" in result.stderr
    assert "backbone 'hrnet_w18_small' cannot be used: timm cannot dilate it to output_stride=8" in result.stderr


def wandb_offline_run(run_dir: Path) -> tuple[dict, dict]:
    """The run record (name, group, tags) and config of an offline W&B run, read from its run-*.wandb file
    (LevelDB-style log of protobuf records: 7-byte file header, then 7-byte chunk headers in 32 KiB blocks)."""
    from wandb.proto import wandb_internal_pb2

    data = next(run_dir.glob("wandb/offline-run-*/run-*.wandb")).read_bytes()
    pos, block, chunks, run, config = 7, 32768, b"", {}, {}
    while pos + 7 <= len(data):
        if block - pos % block < 7:
            pos += block - pos % block
            continue
        length, kind = int.from_bytes(data[pos + 4:pos + 6], "little"), data[pos + 6]
        chunks += data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # a full record, or the last chunk of one
            record = wandb_internal_pb2.Record()
            record.ParseFromString(chunks)
            chunks = b""
            items = record.config.update if record.HasField("config") else record.run.config.update
            config.update({item.key: json.loads(item.value_json) for item in items})
            if record.HasField("run"):
                run = {"name": record.run.display_name, "group": record.run.run_group, "tags": list(record.run.tags)}
    return run, config


def test_every_logger_receives_the_configuration_overrides_and_git_state(tmp_path):
    run_train("-m", "logger=many", "model/backbone=resnet18_light", "++trainer.max_steps=1", f"hydra.sweep.dir={tmp_path}",
              *FAST, env={"WANDB_MODE": "offline", "WANDB_API_KEY": ""})
    run_dir = tmp_path / "0"  # a multirun of one job: its W&B run joins the sweep's group
    run, config = wandb_offline_run(run_dir)
    assert run["name"] == "backbone=resnet18_light,max_steps=1,batch_size=4,log_every_n_steps=1,refresh_rate=0"
    assert run["tags"] == ["quick", "synthetic"] and run["group"] == f"train-{tmp_path.name}"
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    for params in (config, yaml.safe_load((run_dir / "csv" / "hparams.yaml").read_text()),
                   yaml.safe_load((run_dir / "tensorboard" / "hparams.yaml").read_text())):
        assert params["model/backbone/name"] == "resnet18" and params["model/backbone/out_indices"] == [0, 1, 2]
        assert params["model/_target_"] == "siammask.lit.ThreeBranchModule" and params["data/batch_size"] == 4
        assert params["overrides"].startswith("logger=many model/backbone=resnet18_light ++trainer.max_steps=1")
        assert params["git/commit"] == commit and isinstance(params["git/dirty"], bool)


def test_an_unwritable_wandb_folder_stops_train_py_before_training(tmp_path):
    (tmp_path / "a_file").write_text("")
    result = run_train("logger=wandb", f"logger.wandb.save_dir={tmp_path / 'a_file'}", f"hydra.run.dir={tmp_path}",
                       *FAST, check=False, env={"WANDB_MODE": "offline"})
    assert result.returncode != 0 and "W&B cannot write its run files" in result.stderr
    assert not (tmp_path / "checkpoints").exists()


TINY_TRACKING = ["callbacks.tracking_validation.num_videos=1", "callbacks.tracking_validation.videos.num_frames=4",
                 "callbacks.tracking_validation.videos.image_size=[96,72]"]


def test_optuna_sweep_optimises_tracking_j_and_reports_its_best_trial(tmp_path):
    result = run_train("-m", "hparams_search=optuna", "++hydra.sweeper.n_trials=2", "model/backbone=resnet18_light",
                       "++trainer.max_steps=1", "data.batch_size=2", f"hydra.sweep.dir={tmp_path}", *TINY_TRACKING,
                       *FAST[1:])
    values = {job: json.loads((tmp_path / job / "result.json").read_text())["value"] for job in ("0", "1")}
    best = yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())
    assert best["best_value"] == pytest.approx(max(values.values()))
    best_job = max(values, key=values.get)
    assert f"Best run: **{best_job}**" in result.stdout and "Objective: `val/track_J` (maximize)" in result.stdout
    assert (tmp_path / "summary.csv").is_file() and (tmp_path / "summary.png").is_file()


def test_a_sweep_missing_its_objective_names_the_logged_metrics_in_one_line_after_saving_the_run(tmp_path):
    result = run_train("-m", "optimized_metric=val/track_X", "++trainer.max_steps=1", "model/backbone=resnet18_light",
                       f"hydra.sweep.dir={tmp_path}", *FAST, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "error: optimized_metric='val/track_X' is not among this run's metrics" in result.stderr
    assert "'train/loss'" in result.stderr
    assert (tmp_path / "0" / "checkpoints" / "last.ckpt").is_file()  # the work done is kept


def test_submitit_local_launcher_runs_every_job_of_a_multirun(tmp_path):
    result = run_train("-m", "hydra/launcher=submitit_local", "seed=1,2", "++trainer.max_steps=1", "data.batch_size=2",
                       "model/backbone=resnet18_light", f"hydra.sweep.dir={tmp_path}", *FAST[1:])
    assert read_steps(tmp_path / "0") == 1 and read_steps(tmp_path / "1") == 1
    seeds = [yaml.safe_load((tmp_path / job / ".hydra" / "config.yaml").read_text())["seed"] for job in ("0", "1")]
    assert seeds == [1, 2] and list((tmp_path / ".submitit").iterdir())  # submitit's job folders
    assert "2 of 2 runs finished" in result.stdout


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
