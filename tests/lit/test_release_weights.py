"""The official release's weight files map onto the paper network: names, shapes, a converted checkpoint that
tracks with exactly those weights, and clear refusals of files that do not fit."""

import importlib.util
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate

from siammask.checkpoints import load_network_weights, network_state, read_state_dict
from siammask.lit.checkpoint import convert_weights, load_trained

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("convert_release", ROOT / "scripts" / "convert_release.py")
convert_release = importlib.util.module_from_spec(spec)
spec.loader.exec_module(convert_release)

# Written from the release's module tree (experiments/siammask_sharp/custom.py), independently of the code's table.
RELEASE_TO_OURS = {"features.features.": "backbone.", "features.downsample.downsample.": "neck.downsample.",
                   "rpn_model.cls.": "score_head.", "rpn_model.loc.": "box_head.",
                   "mask_model.mask.": "mask_head.", "refine_model.": "refine."}
RELEASE_SHAPES = {
    "features.features.conv1.weight": (64, 3, 7, 7),
    "features.features.layer3.5.conv3.weight": (1024, 256, 1, 1),
    "features.downsample.downsample.0.weight": (256, 1024, 1, 1),
    "rpn_model.cls.head.3.weight": (10, 256, 1, 1),
    "rpn_model.loc.head.3.bias": (20,),
    "mask_model.mask.head.3.weight": (3969, 256, 1, 1),
    "refine_model.deconv.weight": (256, 32, 15, 15),
    "refine_model.post2.weight": (1, 4, 3, 3),
}


def release_file(tmp_path: Path, network: torch.nn.Module, drop: str | None = None) -> tuple[Path, dict]:
    """The network's tensors, randomised, under the release's names as a DataParallel-saved file."""
    generator = torch.Generator().manual_seed(0)
    ours = {k: (torch.rand(v.shape, generator=generator) + 0.5 if k.endswith("running_var")
                else 0.02 * torch.randn(v.shape, generator=generator)) if v.is_floating_point() else v.clone()
            for k, v in network.state_dict().items()}
    inverse = {own: release for release, own in RELEASE_TO_OURS.items()}
    release = {}
    for key, value in ours.items():
        prefix = next(p for p in inverse if key.startswith(p))
        release["module." + inverse[prefix] + key[len(prefix):]] = value
    if drop:
        release = {k: v for k, v in release.items() if not k.startswith("module." + drop)}
    path = tmp_path / "SiamMask_release.pth"
    torch.save({"epoch": 20, "state_dict": release}, path)
    return path, ours


def network_of(model_cfg) -> torch.nn.Module:
    return instantiate(model_cfg).network


@pytest.fixture(scope="module")
def sharp_cfg():
    return convert_release.release_model_config(["module.refine_model.post2.bias"], [])


def test_release_names_land_on_tensors_of_the_same_shape(sharp_cfg):
    own = network_of(sharp_cfg).state_dict()
    renamed = network_state({k: torch.zeros(shape) for k, shape in RELEASE_SHAPES.items()})
    for (release, shape), ours in zip(RELEASE_SHAPES.items(), renamed):
        assert tuple(own[ours].shape) == shape, release


def test_converted_release_file_tracks_with_exactly_its_weights(sharp_cfg, tmp_path):
    network = network_of(sharp_cfg)
    path, ours = release_file(tmp_path, network)
    ckpt = convert_weights(sharp_cfg, read_state_dict(path), path, tmp_path / "converted.ckpt")
    loaded, anchors = load_trained(ckpt)
    for key, value in loaded.state_dict().items():
        torch.testing.assert_close(value, ours[key], rtol=0, atol=0, msg=key)
    assert tuple(anchors.ratios) == (0.33, 0.5, 1.0, 2.0, 3.0) and loaded.mask_output_size == 127
    network.load_state_dict(ours)
    network.eval()
    template, search = torch.rand(1, 3, 127, 127) * 255, torch.rand(1, 3, 255, 255) * 255
    with torch.no_grad():
        expected = network(network.embed_template(template), search).score
        got = loaded(loaded.embed_template(template), search).score
    torch.testing.assert_close(got, expected)


def test_base_release_file_builds_the_base_network_and_is_refused_by_a_sharp_one(sharp_cfg, tmp_path):
    network = network_of(sharp_cfg)
    path, _ = release_file(tmp_path, network, drop="refine_model.")
    state = read_state_dict(path)
    load_network_weights(network_of(convert_release.release_model_config(state, [])), state, path)  # base: fits
    with pytest.raises(ValueError, match=r"missing in the file: refine\.\* \(\d+\)"):
        load_network_weights(network, state, path)


def test_foreign_and_reshaped_tensors_are_named(sharp_cfg):
    network = network_of(sharp_cfg)
    state = {k: v.clone() for k, v in network.state_dict().items()}
    state["tracker_head.weight"] = torch.zeros(3)
    state["score_head.head.3.bias"] = torch.zeros(6)
    with pytest.raises(ValueError, match=r"not in the network: tracker_head\.\* \(1\).*of another shape: score_head"):
        load_network_weights(network, state, "foreign.pth")
