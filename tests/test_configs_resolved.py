"""What each experiment, data file and tracker preset resolves to, written out by hand: configs inherit from each other
and interpolate one crop node, so a moved value must not change what any of them trains or tracks with."""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

from siammask.crop import PAPER_CROP
from siammask.hydra_glue import register_resolvers
from siammask.tracking import TrackerConfig

CONF = Path(__file__).resolve().parents[1] / "conf"
register_resolvers()

THREE = "siammask.anchors.AnchorTargetAssigner"
SCHEDULE = "siammask.schedules.WarmupLogDecayLR"
CALLBACKS = {"checkpoint_every_minutes", "checkpoint_every_steps", "ddp_trainable", "lr_monitor", "model_checkpoint",
             "progress_bar", "rng_state", "save_on_signal"}
RELEASE_SAMPLER = {"exemplar_size": 127, "context_amount": 0.5, "template_jitter": {"shift": 4, "scale": 0.05},
                   "negative_rate": 0.2, "flip": 0.0}
RELEASE_PHOTOMETRIC = {"gray": 0.25, "colour": 1.0, "template_blur": 0.0, "search_blur": 0.18, "blur_limit": [3, 7]}
RELEASE_VAL_SAMPLER = {"template_jitter": {"shift": 0, "scale": 0.0}, "search_jitter": {"shift": 12, "scale": 0.18},
                       "negative_rate": 0.0, "photometric": None}
PAPER_MODEL = {"model.exemplar_size": 127, "model.anchors.stride": 8, "model.bad_loss": "skip", "model.max_loss": 1.0e4,
               "model.backbone._target_": "siammask.models.PaperResNet50", "trainer.max_epochs": 20,
               "data._target_": "siammask.datamodules.lmdb_source.LmdbDataModule", "tracker.search_size": 255}

# Selected values per experiment, as the experiment files held them before inheritance and the crop node.
EXPERIMENTS = {
    "quick": {
        "tags": ["quick", "synthetic"], "callbacks": CALLBACKS | {"ema", "channels_last"}, "model._target_": "siammask.lit.ThreeBranchModule",
        "model.exemplar_size": 127, "model.search_size": 191, "model.anchors.stride": 8, "trainer.max_steps": 720,
        "model.refine.negative_slope": 0.1, "model.loss.mask_dice": 6.0,
        "model.targets": {"_target_": THREE, "positive_iou": 0.6, "negative_iou": 0.3, "max_positives": 16,
                          "total_samples": 256, "negative_pair_samples": 16, "negative_radius": 3},
        "model.scheduler": {"_target_": SCHEDULE, "warmup_fraction": 0.05, "warmup_start_factor": 0.1,
                            "end_factor": 0.1},
        "model.backbone.name": "regnetx_002", "model.refine._target_": "siammask.models.Refine",
        "model.bad_loss": "stop", "data._target_": "siammask.datamodules.pair_datamodule.PairDataModule",
        "data.sampler": {**RELEASE_SAMPLER, "search_size": 191, "search_jitter": {"shift": 48, "scale": 0.18},
                         "samples_per_epoch": None, "photometric": RELEASE_PHOTOMETRIC},
        "data.val_sampler": RELEASE_VAL_SAMPLER, "tracker.search_size": 255, "tracker.exemplar_size": 127,
    },
    "finetune": {
        "tags": ["finetune", "custom"], "callbacks": CALLBACKS | {"ema", "channels_last", "validate_at_end"}, "model.search_size": 191,
        "model.targets.total_samples": 256, "model.backbone.name": "regnetx_002",
        "model.scheduler": {"_target_": SCHEDULE, "warmup_fraction": 0.1, "warmup_start_factor": 0.1,
                            "end_factor": 0.1},
        "data._target_": "siammask.datamodules.lmdb_source.LmdbDataModule", "data.name": "custom", "data.frame_range": 20,
        "data.datasets": None, "data.sampler.search_size": 191, "data.sampler.search_jitter.shift": 48,
        "data.sampler.samples_per_epoch": None, "data.sampler.pick": "video", "trainer.max_steps": 300,
    },
    "siammask_base": {
        **PAPER_MODEL, "tags": ["paper", "base"], "callbacks": CALLBACKS | {"unfreeze_backbone"},
        "model._target_": "siammask.lit.ThreeBranchModule", "model.search_size": 255, "model.refine": {},
        "model.targets.total_samples": 64, "model.optimizer.lr": 0.005,
        "model.scheduler": {"_target_": SCHEDULE, "warmup_fraction": 0.25, "warmup_start_factor": 0.2,
                            "end_factor": 0.5},
        "data.sampler": {**RELEASE_SAMPLER, "search_size": 255, "search_jitter": {"shift": 64, "scale": 0.18},
                         "samples_per_epoch": 600000, "pick": "video",
                         "photometric": {**RELEASE_PHOTOMETRIC, "blur_kernel": "release"}},
        "data.val_sampler": {**RELEASE_VAL_SAMPLER, "samples_per_epoch": 1000},
    },
    "siammask_sharp": {
        **PAPER_MODEL, "tags": ["paper", "sharp"], "callbacks": CALLBACKS, "model.search_size": 143,
        "model.init_from": None, "model.refine.kaiming_a": 1.0, "model.targets.total_samples": 64,
        "model.optimizer.lr": 0.01,
        "model.loss": {"score": 0.0, "box": 0.0, "mask": 36.0, "box_beta": 0.0, "mask_dice": 0.0},
        "model.scheduler": {"_target_": SCHEDULE, "warmup_fraction": 0.0, "warmup_start_factor": 1.0,
                            "end_factor": 0.25},
        "data.sampler.search_size": 143, "data.sampler.search_jitter": {"shift": 8, "scale": 0.18},
        "data.sampler.negative_rate": 0.0, "data.sampler.samples_per_epoch": 200000, "data.val_datasets": None,
    },
    "siammask_two_branch": {
        **PAPER_MODEL, "tags": ["paper", "two_branch"], "callbacks": CALLBACKS | {"unfreeze_backbone"},
        "model._target_": "siammask.lit.TwoBranchModule", "model.search_size": 255, "model.head.box": None,
        "model.targets": {"_target_": "siammask.anchors.CentreLabeller", "radius": 16.0},
        "model.loss": {"score": 1.0, "box": 1.2, "mask": 32.0, "box_beta": 0.0, "mask_dice": 0.0}, "model.refine": {},
        "model.scheduler": {"_target_": SCHEDULE, "warmup_fraction": 0.25, "warmup_start_factor": 0.2,
                            "end_factor": 0.5},
        "data.sampler.samples_per_epoch": 600000, "data.sampler.search_jitter.shift": 64,
    },
}

RELEASE_VOT = {"penalty_k": 0.04, "window_influence": 0.42, "lr": 0.25, "seg_thr": 0.30, "context_amount": 0.5,
               "exemplar_size": 127, "search_size": 255, "min_contour_area": 100, "min_size": 10,
               "box_mode": "min_area_rect", "mask_enabled": True, "refine": True, "geometry": "release"}
TRACKERS = {  # config_vot.json, config_davis.json, config_vot18.json, and the synthetic tuning (docs/tuning.md)
    "vot": RELEASE_VOT,
    "davis": {**RELEASE_VOT, "window_influence": 0.4, "lr": 1.0, "seg_thr": 0.35},
    "vot18": {**RELEASE_VOT, "penalty_k": 0.10, "window_influence": 0.41, "lr": 0.32, "seg_thr": 0.15},
    "synthetic": {**RELEASE_VOT, "seg_thr": 0.45, "window_influence": 0.2, "geometry": "exact"},
}

STORES = {  # name, frame range, validation pairs per epoch
    "coco": ("coco", 1, -1), "det": ("det", 1, -1), "vid": ("vid", 100, 1000), "ytb_vos": ("ytb_vos", 20, -1),
    "custom": ("custom", 20, -1), "got10k": ("got10k", 100, -1), "lasot": ("lasot", 100, -1),
    "trackingnet": ("trackingnet", 100, -1),
}


def resolved(config: str, overrides: list[str]) -> DictConfig:
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose(config, overrides=overrides)


def select(cfg: DictConfig, key: str):
    """The resolved value at ``key`` (plain containers); the run-time paths elsewhere stay unresolved."""
    value = OmegaConf.select(cfg, key, throw_on_missing=False)
    if key == "callbacks":
        return set(value)
    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value


@pytest.mark.parametrize("experiment", sorted(EXPERIMENTS))
def test_each_experiment_resolves_to_the_values_its_recipe_names(experiment):
    cfg = resolved("train", [f"experiment={experiment}", "model.backbone.checkpoint_path=/data/resnet.model"])
    got = {key: select(cfg, key) for key in EXPERIMENTS[experiment]}
    assert got == EXPERIMENTS[experiment]


@pytest.mark.parametrize("entry", ["eval", "track", "vot", "train", "select_checkpoint"])
@pytest.mark.parametrize("preset", sorted(TRACKERS))
def test_each_tracker_preset_resolves_to_the_release_values_it_cites_in_every_entry_config(preset, entry):
    tracker = select(resolved(entry, [f"tracker={preset}"]), "tracker")
    assert tracker == TRACKERS[preset]
    assert TrackerConfig.from_mapping(tracker).search_size == 255


@pytest.mark.parametrize("data", sorted(STORES))
def test_each_single_store_data_file_is_the_paper_mix_sampler_over_one_store(data):
    cfg = select(resolved("train", [f"data={data}"]), "data")
    name, frame_range, val_num_use = STORES[data]
    assert (cfg["name"], cfg["frame_range"], cfg["num_use"], cfg["val_num_use"]) == (name, frame_range, -1, val_num_use)
    assert cfg["path"].endswith(f"/{name}_train") and cfg["val_path"] is None
    assert cfg["datasets"] is None and cfg["val_datasets"] is None
    assert cfg["sampler"]["samples_per_epoch"] is None and cfg["val_sampler"]["samples_per_epoch"] is None
    assert cfg["sampler"]["pick"] == "video" and cfg["sampler"]["photometric"]["blur_kernel"] == "release"
    assert (cfg["batch_size"], cfg["num_workers"]) == (16, 0)  # experiment=quick's workers


def test_the_crop_node_is_what_code_defaults_read_and_moves_every_copy_that_must_agree():
    assert select(resolved("train", []), "crop") == {"exemplar_size": PAPER_CROP.exemplar_size,
                                             "search_size": PAPER_CROP.search_size,
                                             "context_amount": PAPER_CROP.context_amount, "stride": PAPER_CROP.stride}
    assert (TrackerConfig().exemplar_size, TrackerConfig().search_size, TrackerConfig().context_amount) == (127, 255, 0.5)
    cfg = {key: select(resolved("train", ["crop.exemplar_size=111", "crop.context_amount=0.6", "crop.search_size=271",
                                          "crop.stride=16", "experiment=siammask_base",
                                          "model.backbone.checkpoint_path=/x"]), key)
           for key in ("model", "data", "tracker")}
    assert (cfg["model"]["exemplar_size"], cfg["data"]["sampler"]["exemplar_size"], cfg["tracker"]["exemplar_size"]) \
        == (111, 111, 111)
    assert (cfg["data"]["sampler"]["context_amount"], cfg["tracker"]["context_amount"]) == (0.6, 0.6)
    assert (cfg["model"]["search_size"], cfg["data"]["sampler"]["search_size"], cfg["tracker"]["search_size"]) \
        == (271, 271, 271)
    assert cfg["model"]["anchors"]["stride"] == 16


def test_the_default_trains_at_its_own_search_size_and_tracks_at_the_crop_nodes():
    cfg = {key: select(resolved("train", ["crop.search_size=287"]), key) for key in ("model", "data", "tracker")}
    assert (cfg["model"]["search_size"], cfg["data"]["sampler"]["search_size"]) == (191, 191)
    assert cfg["tracker"]["search_size"] == 287


@pytest.mark.parametrize("experiment", ["quick", "finetune"])
def test_model_two_branch_keeps_its_centre_labels_under_an_experiment_that_tunes_the_anchor_sampling(experiment):
    cfg = resolved("train", [f"experiment={experiment}", "model=two_branch"])
    assert select(cfg, "model.targets") == {"_target_": "siammask.anchors.CentreLabeller", "radius": 16.0}
