"""The official release's weight files map onto the paper network: names, shapes, the files loaded directly or
converted track with exactly those weights, and clear refusals of files that do not fit (pysot's included)."""

import importlib.util
import logging
from pathlib import Path

import pytest
import torch
from command_line import run_command
from hydra.errors import InstantiationException
from hydra.utils import instantiate

from siammask.checkpoints import convert_weights, load_network_weights, load_trained, release_model_config
from siammask.weights import network_state, read_state_dict

ROOT = Path(__file__).resolve().parents[2]

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


def release_file(tmp_path: Path, network: torch.nn.Module, drop: str | None = None,
                 name: str = "SiamMask_release.pth") -> tuple[Path, dict]:
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
    path = tmp_path / name
    torch.save({"epoch": 20, "state_dict": release}, path)
    return path, ours


def network_of(model_cfg) -> torch.nn.Module:
    return instantiate(model_cfg).network


@pytest.fixture(scope="module")
def sharp_cfg():
    return release_model_config(sharp=True)


def test_release_names_land_on_tensors_of_the_same_shape(sharp_cfg):
    own = network_of(sharp_cfg).state_dict()
    renamed = network_state({k: torch.zeros(shape) for k, shape in RELEASE_SHAPES.items()})
    for (release, shape), ours in zip(RELEASE_SHAPES.items(), renamed):
        assert tuple(own[ours].shape) == shape, release


def test_converted_release_file_tracks_with_exactly_its_weights(sharp_cfg, tmp_path):
    network = network_of(sharp_cfg)
    path, ours = release_file(tmp_path, network)
    ckpt, summary = convert_weights(sharp_cfg, read_state_dict(path), path, tmp_path / "converted.ckpt")
    assert summary["mapped"].startswith("backbone.* (") and "refine.* (" in summary["mapped"]
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
    load_network_weights(network_of(release_model_config(sharp=False)), state, path)  # base: fits
    with pytest.raises(ValueError, match=r"missing in the file: refine\.\* \(\d+\)"):
        load_network_weights(network, state, path)


def test_foreign_and_reshaped_tensors_are_named(sharp_cfg):
    network = network_of(sharp_cfg)
    state = {k: v.clone() for k, v in network.state_dict().items()}
    state["tracker_head.weight"] = torch.zeros(3)
    state["score_head.head.3.bias"] = torch.zeros(6)
    with pytest.raises(ValueError, match=r"not in the network: tracker_head\.\* \(1\).*of another shape: score_head"):
        load_network_weights(network, state, "foreign.pth")


def test_release_file_as_ckpt_path_loads_directly_and_suggests_its_preset(sharp_cfg, tmp_path, caplog):
    network = network_of(sharp_cfg)
    path, ours = release_file(tmp_path, network, name="SiamMask_DAVIS.pth")
    with caplog.at_level(logging.INFO):
        loaded, anchors = load_trained(path)
    for key, value in loaded.state_dict().items():
        torch.testing.assert_close(value, ours[key], rtol=0, atol=0, msg=key)
    assert loaded.mask_output_size == 127 and anchors.num_anchors == 5
    assert "sharp stage" in caplog.text and "tracker=davis" in caplog.text


def test_base_stage_release_file_loads_as_the_base_network(sharp_cfg, tmp_path):
    path, _ = release_file(tmp_path, network_of(sharp_cfg), drop="refine_model.", name="SiamMask_VOT_base.pth")
    loaded, _ = load_trained(path)
    assert loaded.refine is None and loaded.mask_output_size == 63


def test_release_file_as_init_from_is_mapped_strictly(sharp_cfg, tmp_path):
    path, ours = release_file(tmp_path, network_of(sharp_cfg))
    module = instantiate(sharp_cfg, init_from=str(path))
    torch.testing.assert_close(module.network.refine.post2.weight, ours["refine.post2.weight"], rtol=0, atol=0)
    state = {k: v for k, v in torch.load(path, weights_only=True)["state_dict"].items()}
    state["module.rpn_model.cls.extra.weight"] = torch.zeros(2)
    torch.save({"state_dict": state}, tmp_path / "extra.pth")
    with pytest.raises(InstantiationException, match=r"extra\.pth.*not in the network: score_head\.\* \(1\)"):
        instantiate(sharp_cfg, init_from=str(tmp_path / "extra.pth"))


def pysot_names(network: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A pysot siammask_r50_l3 model.pth's naming (pysot/models/model_builder.py: backbone, neck, rpn_head,
    mask_head, refine_head), over this network's tensors."""
    ours_to_pysot = {"backbone.": "backbone.", "neck.downsample.": "neck.downsample.downsample.",
                     "score_head.": "rpn_head.cls.", "box_head.": "rpn_head.loc.", "mask_head.": "mask_head.",
                     "refine.": "refine_head."}
    out = {}
    for key, value in network.state_dict().items():
        prefix = next(p for p in ours_to_pysot if key.startswith(p))
        out[ours_to_pysot[prefix] + key[len(prefix):]] = value
    return out


def test_pysot_model_loads_as_the_release_network_with_its_preset(sharp_cfg, tmp_path, caplog):
    network = network_of(sharp_cfg)
    ours = {k: torch.randn(v.shape) if v.is_floating_point() else v for k, v in network.state_dict().items()}
    network.load_state_dict(ours)
    path = tmp_path / "model.pth"
    torch.save({"epoch": 19, "state_dict": pysot_names(network)}, path)
    with caplog.at_level(logging.INFO):
        loaded, _ = load_trained(path)
    for key, value in loaded.state_dict().items():
        torch.testing.assert_close(value, ours[key], rtol=0, atol=0, msg=key)
    assert "pysot file, sharp stage" in caplog.text and "tracker=vot18" in caplog.text


def test_convert_release_prints_what_it_mapped(sharp_cfg, tmp_path, capsys):
    path, _ = release_file(tmp_path, network_of(sharp_cfg), name="SiamMask_VOT.pth")
    spec = importlib.util.spec_from_file_location("convert_release", ROOT / "scripts" / "convert_release.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert run_command(script.main, f"weights={path}", f"out={tmp_path / 'out.ckpt'}", run_dir=tmp_path / "run") == 0
    printed = capsys.readouterr().out
    assert "sharp stage" in printed and "mapped backbone.* (" in printed
    assert "tracker=vot" in printed and (tmp_path / "out.ckpt").is_file()
