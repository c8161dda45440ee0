"""Small stores of one's own videos: every epoch has batches, stores without pairs are refused at start,
held-out videos go to the validation split, and train.py trains every step it is asked to on a tiny store."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from custom_videos import write_custom_videos
from siammask.datamodules.lmdb_source import LmdbDataModule
from siammask.datamodules.lmdb_store import StoreError, read_store
from siammask.datamodules.prepare import prepare, resolve_config
from siammask.datamodules.readers.base import BAD_ANNOTATION

ROOT = Path(__file__).resolve().parents[2]


def prepare_custom(root: Path, out: Path, **settings) -> dict:
    return prepare("custom", resolve_config("custom", {"root": str(root), "out": str(out), "workers": 1,
                                                       **settings}))


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """4 videos x 2 objects = 8 tracks of 3 frames (the issue's case: fewer tracks than one batch of 16)."""
    base = tmp_path_factory.mktemp("small")
    out = base / "store"
    prepare_custom(write_custom_videos(base / "videos", videos=4, frames=3), out)
    return out


def test_a_store_of_fewer_tracks_than_a_batch_gets_an_epoch_of_min_steps(store, caplog):
    module = LmdbDataModule(path=str(store), name="custom", frame_range=20, batch_size=16, num_workers=0,
                            min_steps_per_epoch=5)
    with caplog.at_level(logging.INFO, logger="siammask.datamodules.pair_datamodule"):
        loader = module.train_dataloader()
    assert len(module.train_dataset) == 5 * 16 and len(loader) == 5
    assert "custom: 8 tracks, 24 frames; 80 pairs per epoch, 5 steps per epoch (batch 16 x 1 processes)" \
        in caplog.text
    first = next(iter(loader))
    assert first["search"].shape[0] == 16


def test_an_epoch_is_never_shortened_below_the_sources_num_use(store):
    module = LmdbDataModule(path=str(store), num_use=40, batch_size=4, num_workers=0, min_steps_per_epoch=2)
    module.setup("fit")
    assert len(module.train_dataset) == 40


def test_a_given_samples_per_epoch_below_one_batch_is_refused(store):
    module = LmdbDataModule(path=str(store), batch_size=16, num_workers=0, sampler={"samples_per_epoch": 8})
    with pytest.raises(ValueError, match=r"samples_per_epoch=8 is less than one batch \(16 pairs x 1 processes\)"):
        module.setup("fit")


def test_a_store_of_single_frame_tracks_is_refused_naming_it(tmp_path):
    out = tmp_path / "single"
    prepare_custom(write_custom_videos(tmp_path / "videos", videos=2, frames=1), out)
    assert read_store(out)[1].num_tracks == 4
    with pytest.raises(StoreError, match=rf"{out}: none of its 4 tracks has two frames"):
        LmdbDataModule(path=str(out), name="custom")


def test_an_empty_folder_as_store_is_refused_naming_it(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(StoreError, match=rf"datasets\.custom\.path: .*{tmp_path / 'empty'}"):
        LmdbDataModule(path=str(tmp_path / "empty"), name="custom")


def test_prepare_splits_held_out_videos_into_the_validation_store(tmp_path):
    videos = write_custom_videos(tmp_path / "videos", videos=3, frames=2)
    train = prepare_custom(videos, tmp_path / "train", val_videos=["video1"])
    val = prepare_custom(videos, tmp_path / "val", split="val", val_videos=["video1"])
    assert (train["videos"], val["videos"]) == (2, 1)
    assert list(read_store(tmp_path / "val")[1].video_names) == ["video1"]
    with pytest.raises(FileNotFoundError, match=r"val_videos \['nope'\]: no such video folder"):
        prepare_custom(videos, tmp_path / "x", val_videos=["nope"])


def test_masks_that_disagree_with_the_frames_are_listed_naming_the_file(tmp_path):
    videos = write_custom_videos(tmp_path / "videos", videos=2, frames=3)
    (videos / "video0" / "masks" / "00000.png").write_bytes((videos / "video0" / "masks" / "00001.png").read_bytes())
    small = videos / "video0" / "masks" / "00002.png"
    from PIL import Image
    Image.open(small).resize((80, 60)).save(small)
    (videos / "video1" / "masks" / "00009.png").write_bytes(small.read_bytes())
    summary = prepare_custom(videos, tmp_path / "out")
    failures = {(f["reason"], Path(f["file"]).name, f["detail"]) for f in summary["failures"]}
    assert (BAD_ANNOTATION, "00002.png", "mask is 80x60, image 160x120") in failures
    assert any(reason == BAD_ANNOTATION and name == "00009.png" and "mask without a frame" in detail
               for reason, name, detail in failures)


@pytest.mark.slow
def test_train_on_a_prepared_custom_store_runs_every_step_asked(store, tmp_path):
    """Done-when check of the issue: 8 tracks, batch 16 gave zero batches per epoch before."""
    steps = 3
    result = subprocess.run(
        [sys.executable, "train.py", "data=custom", f"data.path={store}", f"++trainer.max_steps={steps}",
         "data.batch_size=16", "data.min_steps_per_epoch=2", "model.search_size=127", "data.pin_memory=false",
         "++trainer.max_time=null", "trainer.log_every_n_steps=1", "callbacks.progress_bar.refresh_rate=0",
         f"hydra.run.dir={tmp_path}"], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    checkpoint = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert checkpoint["global_step"] == steps  # over two epochs of 2 steps
    assert "8 tracks, 24 frames; 32 pairs per epoch, 2 steps per epoch" in result.stdout + result.stderr


def test_under_ddp_every_process_gets_min_steps_of_its_own(store):
    from types import SimpleNamespace

    module = LmdbDataModule(path=str(store), batch_size=4, num_workers=0, min_steps_per_epoch=3)
    module.trainer = SimpleNamespace(world_size=2, global_rank=1)
    loader = module.train_dataloader()
    assert len(module.train_dataset) == 3 * 4 * 2 and len(loader) == 3
