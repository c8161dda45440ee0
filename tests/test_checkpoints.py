"""Checkpoint-file mistakes get a message naming the file (or device) and the problem, before any work: a text file,
a truncated file, a CUDA device on a machine without one; in track.py, eval.py and train.py alike."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from siammask.checkpoints import check_device, load_trained, release_model_config, weights_format
from siammask.tracking import TrackerConfig, load_tracker
from siammask.weights import read_state_dict, read_weights_file

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def text_file(tmp_path: Path) -> Path:
    path = tmp_path / "notes.ckpt"
    path.write_text("epoch 3, loss 0.21\n")
    return path


@pytest.fixture()
def truncated_file(tmp_path: Path) -> Path:
    path = tmp_path / "cut.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(1000)}}, path)
    path.write_bytes(path.read_bytes()[:1500])
    return path


def test_text_file_is_named_as_not_a_weights_file(text_file: Path) -> None:
    for read in (read_weights_file, read_state_dict, load_trained):
        with pytest.raises(ValueError, match=r"notes\.ckpt.* is not a PyTorch weights file \(it starts with b'epoc'"):
            read(text_file)


def test_truncated_file_is_named_as_truncated(truncated_file: Path) -> None:
    with pytest.raises(ValueError, match=r"cut\.ckpt.* is truncated or damaged .*1500 bytes"):
        load_trained(truncated_file)


def test_missing_file_and_directory_are_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"absent\.pth' does not exist"):
        read_weights_file(tmp_path / "absent.pth")
    with pytest.raises(FileNotFoundError, match="is a directory"):
        read_weights_file(tmp_path)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_device_without_a_gpu_is_refused_before_the_file_is_read(text_file: Path) -> None:
    with pytest.raises(ValueError, match="device=cuda but torch sees no CUDA GPU.*device=cpu"):
        load_tracker(text_file, TrackerConfig(), device="cuda")  # the device is checked first, the bad file is never read
    with pytest.raises(ValueError, match="not a device torch knows"):
        check_device("gpu0")


def test_foreign_tensor_file_says_what_it_holds(tmp_path: Path) -> None:
    path = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(1), "fc.bias": torch.zeros(1)}, path)
    assert weights_format(torch.load(path, weights_only=True), path) == "state_dict"
    with pytest.raises(ValueError, match=r"not a checkpoint of this project .* it holds conv1\.\*, fc\.\*"):
        load_trained(path)


def entry_point(script: str):
    """The code a top-level script runs (train.py -> siammask.cli.train)."""
    return importlib.import_module(f"siammask.cli.{script.removesuffix('.py')}")


@pytest.mark.parametrize("script, config, call, args", [
    ("track.py", "track", "run", ["input={tennis}", "bbox=[305,110,165,252]", "output_dir={out}"]),
    ("eval.py", "eval", "evaluate", ["output_dir={out}"]),
    ("train.py", "train", "train", ["paths.output_dir={out}"]),
])
def test_entry_points_name_a_text_checkpoint_instead_of_a_key_error(script: str, config: str, call: str,
                                                                    args: list[str], text_file: Path,
                                                                    tmp_path: Path, tennis_dir: Path) -> None:
    module = entry_point(script)
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config, overrides=[f"ckpt_path={text_file}", *(a.format(out=tmp_path / "out", tennis=tennis_dir) for a in args)])
    with pytest.raises(ValueError, match=rf"{text_file.name}' is not a PyTorch weights file"):
        getattr(module, call)(cfg)
    assert not (tmp_path / "out").exists()  # refused before any work


@pytest.mark.parametrize("sharp", [True, False])
def test_release_model_config_read_from_the_conf_files_equals_the_composed_experiment(sharp: bool) -> None:
    """The release network's config, read from the experiment and model files without Hydra's compose, is the
    ``model`` node train.py composes for experiment=siammask_sharp / siammask_base (the network has one
    description)."""
    experiment = "siammask_sharp" if sharp else "siammask_base"
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=[f"experiment={experiment}", "model.init_from=null", "model.train_only=null",
                                          "model.backbone.checkpoint_path=null"])
    composed = OmegaConf.to_container(cfg.model, resolve=True)
    assert OmegaConf.to_container(release_model_config(sharp), resolve=True) == composed
    assert (composed["refine"] != {}) == sharp  # the sharp stage has the refine module, the base stage none
