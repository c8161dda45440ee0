"""load_tracker by preset name: the values a command composes for ``tracker=<name>``, and no silent preset-less
tracker from an empty config."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from test_track_script import save_tiny_checkpoint

from siammask.tracking import TrackerConfig, load_tracker
from siammask.tracking.loading import tracker_preset, tracker_presets

CONF = Path(__file__).resolve().parents[2] / "conf"


def test_the_shipped_presets_are_listed():
    assert tracker_presets() == sorted(p.stem for p in (CONF / "tracker").glob("*.yaml"))
    assert {"davis", "vot", "vot18"} <= set(tracker_presets())


@pytest.mark.parametrize("name", sorted(p.stem for p in (CONF / "tracker").glob("*.yaml")))
def test_a_preset_by_name_is_what_hydra_composes_for_tracker_equals_name(name):
    with initialize_config_dir(str(CONF), version_base="1.3"):
        composed = OmegaConf.to_container(compose("track", overrides=[f"tracker={name}"]).tracker, resolve=True)
    assert tracker_preset(name) == composed


def test_load_tracker_takes_a_preset_name_and_refuses_an_empty_config_or_an_unknown_name(tmp_path):
    ckpt = tmp_path / "tiny.ckpt"
    save_tiny_checkpoint(ckpt)
    tracker = load_tracker(ckpt, "davis")
    assert tracker.config == TrackerConfig.from_mapping(tracker_preset("davis"))
    assert (tracker.config.lr, tracker.config.seg_thr, tracker.config.window_influence) == (1.0, 0.35, 0.4)
    shipped = "davis, release_default, synthetic, vot, vot18"  # conf/tracker/*.yaml
    with pytest.raises(ValueError, match=r"tracker_cfg is empty: name a preset \(load_tracker\(ckpt, \"davis\"\); "
                                         rf"one of {shipped}\)"):
        load_tracker(ckpt, {})
    with pytest.raises(ValueError, match=f"no tracker preset 'DAVIS': choose one of {shipped}"):
        load_tracker(ckpt, "DAVIS")
