"""What a NaN / inf / too large loss does: stop with the losses named, or skip the batch as the release does."""

import pytest
import pytorch_lightning as pl
import torch
from model_fixtures import light_model_kwargs, make_batch
from torch.utils.data import DataLoader

from siammask.lit import ThreeBranchModule


def fit_two_steps(module: ThreeBranchModule, tmp_path) -> pl.Trainer:
    batches = [make_batch(2, search_size=175) for _ in range(2)]
    trainer = pl.Trainer(max_steps=2, accelerator="cpu", logger=False, enable_progress_bar=False,
                         enable_model_summary=False, enable_checkpointing=False, default_root_dir=tmp_path,
                         limit_val_batches=0)
    trainer.fit(module, DataLoader(batches, batch_size=None))
    return trainer


def weights(module: ThreeBranchModule) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in module.named_parameters()}


def test_stop_policy_raises_naming_the_losses():
    module = ThreeBranchModule(**light_model_kwargs(), search_size=175)
    module.loss_weights["mask"] = float("nan")
    with pytest.raises(FloatingPointError, match=r"train loss nan at step 0: .*'mask'.*bad_loss=skip"):
        module.training_step(make_batch(2, search_size=175), 0)


@pytest.mark.parametrize("poison", ["nan", "above_max_loss"])
def test_skip_policy_leaves_the_weights_untouched_and_counts_the_skipped_batches(tmp_path, poison):
    kwargs = {**light_model_kwargs(), "search_size": 175, "bad_loss": "skip"}
    module = ThreeBranchModule(**kwargs, max_loss=1e-6 if poison == "above_max_loss" else 1e4)
    if poison == "nan":
        module.loss_weights["mask"] = float("nan")
    before = weights(module)
    trainer = fit_two_steps(module, tmp_path)
    assert all(torch.equal(before[n], p) for n, p in weights(module).items())
    assert float(trainer.callback_metrics["train/skipped_batches"]) == 2.0
    healthy = ThreeBranchModule(**kwargs, max_loss=1e4)  # the same run with finite, small losses does train
    before = weights(healthy)
    fit_two_steps(healthy, tmp_path / "healthy")
    assert any(not torch.equal(before[n], p) for n, p in weights(healthy).items())


def test_an_unknown_policy_is_refused():
    with pytest.raises(ValueError, match="model.bad_loss='ignore'"):
        ThreeBranchModule(**light_model_kwargs(), bad_loss="ignore")
