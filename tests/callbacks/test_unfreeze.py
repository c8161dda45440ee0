"""The paper's backbone schedule follows the epoch: a run resumed at any epoch trains the stages it should."""

import pytorch_lightning as pl
import torch
from model_fixtures import light_model_kwargs, make_batch
from siammask.callbacks.unfreeze import UnfreezeBackboneStages
from torch.utils.data import DataLoader

from siammask.lit import ThreeBranchModule


def stage_trains(module: ThreeBranchModule, stage: str) -> bool:
    return all(p.requires_grad for n, p in module.network.backbone.named_parameters() if f".{stage}." in n)


def test_a_run_that_starts_after_the_unfreeze_epoch_trains_the_stages_with_one_lower_lr_group():
    module = ThreeBranchModule(**light_model_kwargs())
    callback = UnfreezeBackboneStages(unfreeze_at_epoch=2, stages=["layer2", "layer3"], lr_multiplier=0.1)
    callback.freeze_before_training(module)
    optimizer = torch.optim.SGD([p for p in module.parameters() if p.requires_grad], lr=0.01)
    callback.finetune_function(module, 1, optimizer)
    assert not stage_trains(module, "layer2") and len(optimizer.param_groups) == 1
    callback.finetune_function(module, 5, optimizer)  # first epoch seen: 5 (as after a resume), not 2
    assert stage_trains(module, "layer2") and stage_trains(module, "layer3") and not stage_trains(module, "layer1")
    assert len(optimizer.param_groups) == 2 and optimizer.param_groups[1]["lr"] == 0.001
    bns = [m for m in module.network.backbone.modules() if isinstance(m, torch.nn.BatchNorm2d)
           and any(p.requires_grad for p in m.parameters())]
    assert bns and not any(bn.training for bn in bns)  # release: statistics of unfrozen stages stay frozen
    callback.finetune_function(module, 6, optimizer)
    assert len(optimizer.param_groups) == 2  # never added twice


def fit(module: ThreeBranchModule, root, max_epochs: int, ckpt_path=None) -> pl.Trainer:
    batches = [make_batch(2, search_size=175) for _ in range(2)]
    trainer = pl.Trainer(max_epochs=max_epochs, accelerator="cpu", logger=False, enable_progress_bar=False,
                         enable_model_summary=False, default_root_dir=root, limit_val_batches=0,
                         callbacks=[UnfreezeBackboneStages(unfreeze_at_epoch=1, stages=["layer2"]),
                                    pl.callbacks.ModelCheckpoint(dirpath=root, filename="epoch_{epoch}",
                                                                 save_top_k=-1)])
    trainer.fit(module, DataLoader(batches, batch_size=None), ckpt_path=ckpt_path)
    return trainer


def test_resuming_after_the_unfreeze_epoch_keeps_training_the_unfrozen_stage(tmp_path):
    kwargs = {**light_model_kwargs(), "search_size": 175}
    fit(ThreeBranchModule(**kwargs), tmp_path, max_epochs=2)  # epoch 0 frozen, epoch 1 unfrozen
    resumed = ThreeBranchModule(**kwargs)
    trainer = fit(resumed, tmp_path / "resumed", max_epochs=3, ckpt_path=tmp_path / "epoch_epoch=1.ckpt")
    assert trainer.current_epoch == 3 and stage_trains(resumed, "layer2")
    assert len(trainer.optimizers[0].param_groups) == 2  # the restored group, none added
    start = torch.load(tmp_path / "epoch_epoch=1.ckpt", map_location="cpu", weights_only=True)["state_dict"]
    moved = [n for n, p in resumed.network.backbone.named_parameters()
             if not torch.equal(p.detach(), start[f"network.backbone.{n}"])]
    assert moved and all(".layer2." in n for n in moved)
