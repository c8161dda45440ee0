"""PairDataModule: batches, epoch propagation to (persistent) workers and through Lightning, DDP slices, config."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from siammask.datamodules.pair_datamodule import VAL_SEED_OFFSET, EpochDistributedSampler, PairDataModule
from siammask.datamodules.synthetic import SyntheticVideos

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"


def small_source(seed: int = 0, num_videos: int = 6) -> dict:
    return {"source": SyntheticVideos(num_videos=num_videos, num_frames=8, image_size=(160, 120), seed=seed),
            "num_use": -1, "frame_range": 4}


def datamodule(**kwargs) -> PairDataModule:
    defaults = {"train_sources": [small_source()], "batch_size": 4, "num_workers": 0, "seed": 3,
                    "sampler": {"samples_per_epoch": 12, "photometric": {"gray": 0.25}}}
    return PairDataModule(**{**defaults, **kwargs})


def expected_batch(dataset, indices, epoch: int) -> dict[str, torch.Tensor]:
    samples = [dataset.render(dataset.plan(i, epoch=epoch)) for i in indices]
    return {key: torch.stack([s[key] for s in samples]) for key in samples[0]}


def assert_batches_equal(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key, value in a.items():
        assert torch.equal(value, b[key]), key


def test_train_batches_have_the_sample_format():
    batch = next(iter(datamodule().train_dataloader()))
    assert batch["template"].shape == (4, 3, 127, 127) and batch["template"].dtype == torch.uint8
    assert batch["search"].shape == (4, 3, 255, 255) and batch["search_mask"].shape == (4, 255, 255)
    assert batch["search_bbox"].shape == (4, 4) and batch["search_bbox"].dtype == torch.float32
    assert batch["has_mask"].dtype == torch.bool and batch["is_negative"].shape == (4,)


def test_ddp_ranks_read_disjoint_slices_that_cover_the_epoch():
    seen = []
    for rank in range(2):
        dm = datamodule()
        dm.trainer = SimpleNamespace(world_size=2, global_rank=rank)
        sampler = dm.train_dataloader().sampler
        assert isinstance(sampler, EpochDistributedSampler) and sampler.num_replicas == 2
        seen.append(list(sampler))
    assert not set(seen[0]) & set(seen[1]) and sorted(seen[0] + seen[1]) == list(range(12))


def test_sampler_set_epoch_reaches_a_persistent_worker():
    dm = datamodule(num_workers=1, persistent_workers=True)
    loader = dm.train_dataloader()
    assert_batches_equal(next(iter(loader)), expected_batch(dm.train_dataset, range(4), epoch=0))
    loader.sampler.set_epoch(1)
    assert_batches_equal(next(iter(loader)), expected_batch(dm.train_dataset, range(4), epoch=1))


class RecordingModule(pl.LightningModule):
    """Keeps the first batch of every epoch; trains nothing."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(()))
        self.first_batches: dict[int, dict] = {}

    def training_step(self, batch, batch_idx):
        self.first_batches.setdefault(self.current_epoch, {k: v.clone() for k, v in batch.items()})
        return self.weight * 0.0

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_lightning_fit_advances_the_data_epoch_in_persistent_workers():
    dm = datamodule(num_workers=1, persistent_workers=True)
    module = RecordingModule()
    trainer = pl.Trainer(max_epochs=2, limit_train_batches=2, accelerator="cpu", devices=1, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(module, datamodule=dm)
    for epoch in (0, 1):
        assert_batches_equal(module.first_batches[epoch], expected_batch(dm.train_dataset, range(4), epoch))
    assert not torch.equal(module.first_batches[0]["search"], module.first_batches[1]["search"])


def test_validation_uses_its_own_seed_and_sampler_overrides():
    dm = datamodule(val_sources=[small_source(seed=1, num_videos=3)],
                    val_sampler={"negative_rate": 0.0, "search_jitter": {"shift": 12, "scale": 0.18},
                                 "samples_per_epoch": None})
    dm.setup("fit")
    assert dm.val_dataset.seed == dm.seed + VAL_SEED_OFFSET and dm.val_dataset.negative_rate == 0.0
    assert dm.val_dataset.search_jitter.shift == 12 and len(dm.val_dataset) == 3
    batch = next(iter(dm.val_dataloader()))
    assert not batch["is_negative"].any() and batch["has_mask"].all()


def test_no_validation_sources_gives_no_validation_loader():
    assert datamodule().val_dataloader() == []


def test_synthetic_config_instantiates_and_augment_override_reaches_the_sampler():
    overrides = ["+crop=paper", "+data=synthetic", "data.augment=false", "data.num_workers=0",
                 "data.train_sources.0.source.num_videos=5", "data.val_sources.0.source.num_videos=2",
                 "data.min_steps_per_epoch=1", "data.batch_size=2"]
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(overrides=overrides)
    dm = instantiate(cfg.data)
    dm.setup("fit")
    assert isinstance(dm, PairDataModule) and not dm.train_dataset.augment and not dm.val_dataset.augment
    assert len(dm.train_dataset) == 5 * 2 and len(dm.val_dataset) == 2  # training videos carry two targets each
    assert dm.train_dataset.search_jitter.shift == 64 and dm.train_dataset.negative_rate == 0.2
    assert dm.train_dataset.specs[0].source.seed != dm.val_dataset.specs[0].source.seed
    plan = dm.train_dataset.plan(0)
    assert plan.search_pose.shift_xy == (0.0, 0.0) and not plan.flip


@pytest.mark.parametrize("kwargs", [{"batch_size": 0}, {"num_workers": -1}])
def test_bad_loader_arguments_are_refused(kwargs):
    with pytest.raises(ValueError):
        datamodule(**kwargs)


class RankRecorder(pl.LightningModule):
    """Appends (epoch, per-sample box sums) of every batch to a file per rank."""

    def __init__(self, folder: str):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(()))
        self.folder = folder

    def training_step(self, batch, batch_idx):
        with open(Path(self.folder) / f"rank{self.global_rank}.txt", "a") as f:
            f.write(" ".join([str(self.current_epoch)] + [f"{v:.4f}" for v in batch["search_bbox"].sum(1).tolist()])
                    + "\n")
        return self.weight * 0.0

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


@pytest.mark.slow
def test_two_process_ddp_ranks_get_disjoint_interleaved_samples_and_new_epochs(tmp_path):
    dm = datamodule(num_workers=1)
    trainer = pl.Trainer(accelerator="cpu", devices=2, strategy="ddp_spawn", max_epochs=2, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(RankRecorder(str(tmp_path)), datamodule=dm)
    dm.setup("fit")
    for rank in (0, 1):
        rows = [line.split() for line in (tmp_path / f"rank{rank}.txt").read_text().splitlines()]
        assert [int(r[0]) for r in rows] == [0, 1]  # 12 samples / 2 ranks / batch 4: one batch per epoch
        for epoch, row in zip((0, 1), rows):
            indices = range(rank, 8, 2)  # DistributedSampler interleaves ranks
            expected = [float(dm.train_dataset.render(dm.train_dataset.plan(i, epoch))["search_bbox"].sum())
                        for i in indices]
            assert [float(v) for v in row[1:]] == pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize("num_workers", [0, 1])
def test_a_loader_restored_mid_epoch_reads_the_rest_of_that_epoch_in_order(num_workers):
    stopped = datamodule(num_workers=num_workers, persistent_workers=False).train_dataloader()
    stopped.sampler.set_epoch(2)
    batches = iter(stopped)
    next(batches)
    state = stopped.state_dict()
    assert state == {"epoch": 2, "batches": 1}

    dm = datamodule(num_workers=num_workers, persistent_workers=False)  # a new process: dataset at epoch 0
    resumed = dm.train_dataloader()
    resumed.load_state_dict(state)
    rest = list(resumed)
    assert len(rest) == 2
    for batch, first in zip(rest, (4, 8)):
        assert_batches_equal(batch, expected_batch(dm.train_dataset, range(first, first + 4), epoch=2))
    assert resumed.state_dict() == {"epoch": 2, "batches": 3}
    assert len(list(resumed)) == 3  # the next pass is a whole epoch again


def test_a_loader_saved_at_the_end_of_an_epoch_starts_the_next_one_whole():
    loader = datamodule().train_dataloader()
    loader.load_state_dict({"epoch": 0, "batches": 3})
    assert len(list(loader)) == 3
