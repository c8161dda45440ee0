"""experiment=finetune through train.py: starts from a checkpoint, trains neck / heads / refine on a custom store
with the backbone frozen, validates on held-out videos of the same folder; mixtures with weights compose."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from custom_videos import write_custom_videos
from hydra import compose, initialize_config_dir
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from model_fixtures import default_checkpoint
from siammask.datamodules.prepare import prepare, resolve_config

ROOT = Path(__file__).resolve().parents[1]


def compose_train(overrides: list[str]):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose("train", overrides=overrides)


def prepare_custom(root: Path, out: Path, **settings) -> Path:
    prepare("custom", resolve_config("custom", {"root": str(root), "out": str(out), "workers": 1, **settings}))
    return out


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> tuple[Path, Path]:
    """Train and val stores of one folder of 5 videos, video4 held out."""
    base = tmp_path_factory.mktemp("finetune")
    videos = write_custom_videos(base / "videos", videos=5, frames=3)
    return (prepare_custom(videos, base / "train", val_videos=["video4"]),
            prepare_custom(videos, base / "val", split="val", val_videos=["video4"]))


def test_a_mixture_of_custom_and_public_stores_takes_a_weight_per_store(stores):
    train, val = stores
    mixture = (f"data.datasets={{mine: {{path: '{train}', num_use: 30, frame_range: 20}}, "
               f"public: {{path: '{val}', num_use: 10, frame_range: 100}}}}")
    cfg = compose_train(["experiment=finetune", "model.init_from=x.ckpt", "data.path=null", mixture,
                         "data.batch_size=4", "data.min_steps_per_epoch=1"])
    module = instantiate(cfg.data)
    module.setup("fit")
    specs = module.train_dataset.specs
    assert [(s.source.name, s.num_use, s.frame_range) for s in specs] == [("mine", 30, 20), ("public", 10, 100)]
    assert len(module.train_dataset) == 40
    picks = [module.train_dataset.plan(i).template.source for i in range(40)]
    assert picks.count(0) == 30 and picks.count(1) == 10


@pytest.mark.slow
def test_finetune_trains_the_heads_from_the_checkpoint_and_validates_on_held_out_videos(stores, tmp_path):
    train, val = stores
    search_size = 127  # small crops keep the test fast; the network is fully convolutional
    before = default_checkpoint(tmp_path / "before.ckpt", search_size)
    run_dir = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "train.py", "experiment=finetune", f"model.init_from={before}", f"data.path={train}",
         f"data.val_path={val}", "++trainer.max_steps=4", "data.batch_size=2", "data.min_steps_per_epoch=6",
         f"model.search_size={search_size}", "trainer.log_every_n_steps=1", "callbacks.progress_bar.refresh_rate=0",
         f"hydra.run.dir={run_dir}"], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    start = torch.load(before, map_location="cpu", weights_only=True)["state_dict"]
    after = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert after["global_step"] == 4
    state = after["current_model_state"]  # the raw weights (state_dict holds their average, rounded)
    backbone = [k for k in start if k.startswith("network.backbone.") and start[k].is_floating_point()]
    assert backbone and all(torch.equal(start[k], state[k]) for k in backbone)  # frozen, BN statistics included
    assert not torch.equal(start["network.score_head.conv_kernel.0.weight"], state["network.score_head.conv_kernel.0.weight"])
    with open(run_dir / "csv" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    # pairs of the held-out video, at the last step: the 4 steps end inside the first 6-step epoch
    assert [row["step"] for row in rows if row.get("val/loss")] == ["3"]


def test_finetune_without_a_checkpoint_stops_naming_model_init_from():
    cfg = compose_train(["experiment=finetune"])
    with pytest.raises(InstantiationException, match=r"pass model\.init_from="):
        instantiate(cfg.model)


def test_readme_overrides_for_the_release_weights_give_the_sharp_stage_architecture():
    release = ["model/backbone=paper_resnet50", "model.neck.out_channels=256", "model.head.hidden_channels=256",
               "model.search_size=255", "model.mask_positions_per_pair=null",
               "data.sampler.search_jitter.shift=64", "model.refine.negative_slope=0",
               "model.refine.batch_norm=false", "model.loss.mask_dice=0"]  # as README "Your own videos"
    finetune = compose_train(["experiment=finetune", "model.init_from=SiamMask_DAVIS.pth", *release]).model
    sharp = compose_train(["experiment=siammask_sharp"]).model
    # the weights' shapes must agree; how the sharp stage trains (143 crops cropped to 3x3 responses, refine's
    # initialisation) does not concern weights loaded from a file
    training_only = {"neck": {"search_crop_below"}, "refine": {"kaiming_a"}}
    for key in ("backbone", "neck", "head", "refine", "anchors", "exemplar_size", "mask_positions_per_pair"):
        if key in training_only:
            finetune[key], sharp[key] = ({k: v for k, v in stage[key].items() if k not in training_only[key]}
                                         for stage in (finetune, sharp))
        assert finetune[key] == sharp[key], key
