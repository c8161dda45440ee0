"""Tracker configs: the release's values reach TrackerConfig, and bad keys or values are refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from siammask.tracking import TrackerConfig

CONF = Path(__file__).resolve().parents[2] / "conf"

# (penalty_k, window_influence, lr, seg_thr) of experiments/siammask_sharp/config_<name>.json in the release.
RELEASE_HP = {"vot": (0.04, 0.42, 0.25, 0.30), "vot18": (0.10, 0.41, 0.32, 0.15), "davis": (0.04, 0.4, 1.0, 0.35)}


@pytest.mark.parametrize("name", sorted(RELEASE_HP))
def test_tracker_presets_carry_the_release_hyper_parameters(name: str) -> None:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("track", overrides=[f"tracker={name}", "input=x", "bbox=[1,2,3,4]"])
    config = TrackerConfig.from_mapping(cfg.tracker)
    assert (config.penalty_k, config.window_influence, config.lr, config.seg_thr) == RELEASE_HP[name]
    assert (config.exemplar_size, config.search_size, config.context_amount) == (127, 255, 0.5)
    assert (config.min_contour_area, config.min_size, config.box_mode) == (100, 10, "min_area_rect")
    assert (config.geometry, config.refine) == ("release", True)  # the release's arithmetic, test.py --refine


def test_synthetic_preset_keeps_the_exact_geometry_of_the_training_crops() -> None:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("eval", overrides=["benchmark=synthetic"])
    assert TrackerConfig.from_mapping(cfg.tracker).geometry == "exact"


def test_track_defaults_to_the_release_demo_settings() -> None:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("track", overrides=["input=x", "bbox=[1,2,3,4]"])
    assert TrackerConfig.from_mapping(cfg.tracker).lr == RELEASE_HP["davis"][2]
    assert cfg.ckpt_path is None and cfg.device == "cpu"


def test_from_mapping_accepts_dictconfig_and_refuses_unknown_keys() -> None:
    assert TrackerConfig.from_mapping(OmegaConf.create({"lr": 0.3})).lr == 0.3
    with pytest.raises(ValueError, match=r"unknown tracker config key\(s\) \['window'\]"):
        TrackerConfig.from_mapping({"window": 0.4})


@pytest.mark.parametrize("values, message", [
    ({"box_mode": "polygon"}, "box_mode must be one of"),
    ({"mask_enabled": False}, "reads the mask"),
    ({"lr": 1.5}, r"lr must lie in \[0, 1\]"),
    ({"penalty_k": -0.1}, "penalty_k"),
    ({"exemplar_size": 300}, "exemplar_size < search_size"),
])
def test_invalid_values_are_refused_with_their_name(values: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrackerConfig.from_mapping(values)
