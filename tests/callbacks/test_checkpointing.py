"""Exact resume and nothing lost on a stop: in-process train.py runs of a narrow model on tiny epochs."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_dir
from siammask.callbacks.checkpointing import AtomicCheckpointIO, SaveOnSignal, TrainingStopped

from siammask.hydra_glue import register_resolvers
from siammask.runs import resolve_ckpt_path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))  # signal_helpers, also named in the configs below
from signal_helpers import SignalAtStep

from siammask.cli.train import train

register_resolvers()
STEPS = 6
# 4 batches of 2 pairs per epoch: 6 steps cross an epoch boundary; a narrow model; EMA from the first step.
TINY = ["data.batch_size=2", "data.sampler.samples_per_epoch=8", f"trainer.max_steps={STEPS}",
        "model.neck.out_channels=16", "model.head.hidden_channels=16", "callbacks.ema.update_starting_at_step=1",
        "callbacks.progress_bar.refresh_rate=0", "++trainer.enable_model_summary=false", "logger=csv"]


def train_tiny(run_dir: Path, *overrides: str) -> None:
    """train.py's ``train`` on the tiny setup."""
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        train(compose("train", overrides=[*TINY, f"paths.output_dir={run_dir}", *overrides]))


def run(run_dir: Path, *overrides: str) -> dict[str, torch.Tensor]:
    """:func:`train_tiny`; returns the final checkpoint's weights (average and raw)."""
    train_tiny(run_dir, *overrides)
    return final_weights(run_dir)


def signal_at_step(step: int, name: str) -> list[str]:
    """Overrides adding the test callback that signals this process during step ``step``."""
    return ["+callbacks.signal._target_=signal_helpers.SignalAtStep", f"+callbacks.signal.step={step}",
            f"+callbacks.signal.signal_name={name}"]


def final_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert ckpt["global_step"] == STEPS
    return {**{f"avg.{k}": v for k, v in ckpt["state_dict"].items()},
            **{f"raw.{k}": v for k, v in ckpt["current_model_state"].items()}}


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    differing = [k for k in a if not torch.equal(a[k], b[k])]
    assert not differing, f"{len(differing)} tensors differ, e.g. {differing[:3]}"


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict[str, torch.Tensor]:
    return run(tmp_path_factory.mktemp("uninterrupted") / "run")


def test_the_same_seed_gives_bit_identical_weights_and_periodic_checkpoints_keep_their_newest(uninterrupted,
                                                                                                 tmp_path):
    # saving a checkpoint every step (by time) and every 4 steps leaves the training untouched
    weights = run(tmp_path / "run", "callbacks.checkpoint_every_steps.every_n_train_steps=4",
                  "callbacks.checkpoint_every_minutes.train_time_interval.minutes=0")
    assert_same_weights(weights, uninterrupted)
    saved = {p.name: torch.load(p, weights_only=True)["global_step"] for p in (tmp_path / "run").rglob("*.ckpt")}
    assert saved == {"every_steps.ckpt": 4, "every_minutes.ckpt": STEPS, "last.ckpt": STEPS}


@pytest.mark.parametrize("name, step", [("SIGINT", 3), ("SIGTERM", 5)])  # mid first / second epoch
def test_a_stop_signal_mid_epoch_saves_that_step_and_resuming_it_matches_an_uninterrupted_run(uninterrupted,
                                                                                               tmp_path, name, step):
    with pytest.raises(TrainingStopped) as stopped:
        run(tmp_path / "stopped", *signal_at_step(step, name))
    assert stopped.value.step == step and stopped.value.signal_name == name
    ckpt = torch.load(stopped.value.ckpt_path, map_location="cpu", weights_only=True)
    assert ckpt["global_step"] == step
    # the place in the epoch (4 batches each): the loader's state, and Lightning's count of finished batches
    fit_loop = ckpt["loops"]["fit_loop"]
    assert fit_loop["state_dict"]["combined_loader"] == [{"epoch": (step - 1) // 4, "batches": (step - 1) % 4 + 1}]
    assert fit_loop["epoch_loop.batch_progress"]["current"]["completed"] == (step - 1) % 4
    assert signal.getsignal(signal.Signals[name]) is not SaveOnSignal  # handlers given back
    # ckpt_path=last from a new run folder next to the stopped one: the newest checkpoint there.
    assert_same_weights(run(tmp_path / "resumed", "ckpt_path=last"), uninterrupted)


KILLED_DURING_SAVE = """
import io, os, signal, sys, torch
from siammask.callbacks.checkpointing import AtomicCheckpointIO
real_save = torch.save
def save_half_then_die(obj, handle):  # the process is killed in the middle of writing the file
    buffer = io.BytesIO()
    real_save(obj, buffer)
    handle.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    handle.flush()
    os.kill(os.getpid(), signal.SIGKILL)
torch.save = save_half_then_die
AtomicCheckpointIO().save_checkpoint({"global_step": 2, "weight": torch.full((1000,), 2.0)}, sys.argv[1])
"""


def test_a_save_killed_midway_leaves_the_previous_checkpoint_loadable_and_chosen(tmp_path):
    path = tmp_path / "run" / "checkpoints" / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"global_step": 1, "weight": torch.ones(1000)}, path)
    killed = subprocess.run([sys.executable, "-c", KILLED_DURING_SAVE, str(path)], capture_output=True, text=True,
                            timeout=120, check=False)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    partial = path.with_name("last.ckpt.partial")
    assert partial.is_file() and partial.stat().st_size > 0  # the killed write went there
    ckpt = torch.load(path, weights_only=True)
    assert ckpt["global_step"] == 1 and torch.equal(ckpt["weight"], torch.ones(1000))
    assert resolve_ckpt_path("last", tmp_path / "run") == path


class Regression(pl.LightningModule):
    """A linear model on fixed random data: the cheapest thing Lightning can fit."""

    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.mse_loss(self.layer(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)

    def train_dataloader(self):
        data = torch.utils.data.TensorDataset(torch.randn(16, 4), torch.randn(16, 1))
        return torch.utils.data.DataLoader(data, batch_size=4)


def test_a_preemption_signal_is_handed_to_the_launchers_handler_after_the_step_is_saved(tmp_path):
    saver = SaveOnSignal(tmp_path, signals=["SIGUSR2"])
    seen = []

    def requeue(signum, frame):  # e.g. submitit's: requeue the job, then exit
        seen.append((signal.Signals(signum).name, torch.load(saver.ckpt_path, weights_only=True)["global_step"]))

    original = signal.signal(signal.SIGUSR2, requeue)
    try:
        trainer = pl.Trainer(max_steps=8, callbacks=[saver, SignalAtStep(2, "SIGUSR2")], logger=False,
                             default_root_dir=tmp_path, enable_progress_bar=False, enable_model_summary=False,
                             plugins=[AtomicCheckpointIO()])
        with pytest.raises(TrainingStopped, match="SIGUSR2 at step 2"):
            trainer.fit(Regression())
        assert seen == [("SIGUSR2", 2)]
        assert signal.getsignal(signal.SIGUSR2) is requeue  # given back
    finally:
        signal.signal(signal.SIGUSR2, original)


def test_the_opt_in_wall_clock_limit_says_loudly_that_it_cut_the_run_short(tmp_path, capsys):
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        assert compose("train").trainer.max_time is None  # off by default: the configured steps always run
        cfg = compose("train", overrides=[*TINY, f"paths.output_dir={tmp_path}", "trainer.max_steps=100000",
                                          "trainer.max_time=00:00:00:01"])
    train(cfg)
    err = capsys.readouterr().err
    assert "RUN CUT SHORT by trainer.max_time at step" in err and "of 100000 steps" in err


# The paper stages' freezing at the tiny scale: experiment=siammask_base's callbacks (layer2 unfrozen at epoch 1
# here, the release's at 10) and SGD, a random timm ResNet-18 (its BatchNorms start at mean 0, variance 1), no
# weight average; experiment=siammask_sharp's trained parts and loss weights, started from the base run. Both save
# a step checkpoint at step 5, the second batch of the second epoch (4 batches each): the resumed run restarts
# mid-epoch, where Lightning calls no on_train_epoch_start.
RESUME_STEP = 5
PAPER_TINY = ["model/backbone=resnet18_light", "model/optimizer=sgd", "~callbacks.ema", "model.bad_loss=skip",
              "model.max_loss=1e4", "model.mask_positions_per_pair=null",
              f"callbacks.checkpoint_every_steps.every_n_train_steps={RESUME_STEP}"]
BASE_TINY = [*PAPER_TINY, "~model.refine", "callbacks=[default,unfreeze_backbone]",
             "callbacks.unfreeze_backbone.unfreeze_at_epoch=1"]
SHARP_TRAINED = ("network.refine.", "network.mask_head.conv_kernel.", "network.mask_head.conv_search.")


def sharp_tiny(base_ckpt: Path) -> list[str]:
    return [*PAPER_TINY, "callbacks=[default]", f"model.train_only=[{','.join(p[8:-1] for p in SHARP_TRAINED)}]",
            f"model.init_from={base_ckpt}", "model.loss.score=0.0", "model.loss.box=0.0"]


def stage_state(path: Path) -> dict[str, torch.Tensor]:
    """The network's weights and BatchNorm statistics in a checkpoint (no weight average in these runs)."""
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    return {k: v for k, v in ckpt["state_dict"].items() if k.startswith("network.")}


def run_and_resume(tmp_path: Path, overrides: list[str]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """The uninterrupted run (saving step RESUME_STEP on the way) and the run resumed from that step's file."""
    train_tiny(tmp_path / "uninterrupted", *overrides)
    step_ckpt = tmp_path / "uninterrupted" / "checkpoints" / "every_steps.ckpt"
    assert torch.load(step_ckpt, map_location="cpu", weights_only=True)["global_step"] == RESUME_STEP
    train_tiny(tmp_path / "resumed", *overrides, f"ckpt_path={step_ckpt}")
    return stage_state(tmp_path / "uninterrupted" / "checkpoints" / "last.ckpt"), \
        stage_state(tmp_path / "resumed" / "checkpoints" / "last.ckpt")


@pytest.fixture(scope="module")
def base_stage(tmp_path_factory) -> tuple[Path, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    root = tmp_path_factory.mktemp("base")
    uninterrupted, resumed = run_and_resume(root, BASE_TINY)
    return root / "uninterrupted" / "checkpoints" / "last.ckpt", uninterrupted, resumed


def test_the_base_stage_resumed_mid_epoch_keeps_imagenet_statistics_and_trains_the_unfrozen_stage(base_stage):
    _, uninterrupted, resumed = base_stage
    assert_same_weights(resumed, uninterrupted)
    statistics = {k: v for k, v in resumed.items() if k.startswith("network.backbone.") and "running_" in k}
    assert statistics and all(torch.equal(v, torch.zeros_like(v) if "mean" in k else torch.ones_like(v))
                              for k, v in statistics.items())  # frozen (conv1, layer1) and unfrozen stages alike
    step_ckpt = base_stage[0].with_name("every_steps.ckpt")
    at_resume = stage_state(step_ckpt)
    moved = [k for k, v in resumed.items() if k.startswith("network.backbone.") and not torch.equal(v, at_resume[k])]
    assert moved and all(".layer2." in k for k in moved)  # the steps after the resume trained the unfrozen stage


def test_the_sharp_stage_resumed_mid_epoch_changes_nothing_but_its_trained_parts(base_stage, tmp_path):
    base_ckpt, _, _ = base_stage
    uninterrupted, resumed = run_and_resume(tmp_path, sharp_tiny(base_ckpt))
    assert_same_weights(resumed, uninterrupted)
    start = stage_state(base_ckpt)
    frozen = {k: v for k, v in resumed.items() if not k.startswith(SHARP_TRAINED)}
    assert any("running_mean" in k for k in frozen) and frozen.keys() <= start.keys()
    changed = [k for k, v in frozen.items() if not torch.equal(v, start[k])]
    assert not changed, f"frozen weights or BatchNorm statistics moved: {changed[:5]}"
    assert any(not torch.equal(v, uninterrupted_v) for (k, v), uninterrupted_v in
               zip(resumed.items(), stage_state(tmp_path / "uninterrupted" / "checkpoints" / "every_steps.ckpt")
                   .values(), strict=True) if k.startswith(SHARP_TRAINED))  # the trained parts did train


def test_a_command_re_run_into_its_run_folder_replaces_last_ckpt_and_says_so(tmp_path, caplog):
    train_tiny(tmp_path / "run", "trainer.max_steps=1")
    train_tiny(tmp_path / "run", "trainer.max_steps=2")
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    assert sorted(p.name for p in last.parent.glob("last*")) == ["last.ckpt"]  # no last-v1.ckpt beside it
    assert torch.load(last, map_location="cpu", weights_only=True)["global_step"] == 2  # the new run's
    assert f"{last} holds an earlier run's checkpoint (step 1); this run's last.ckpt replaces it" in caplog.text
