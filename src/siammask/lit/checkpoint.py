"""Rebuild a trained network from a Lightning checkpoint of this project, without Lightning at run time."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate

from siammask.anchors import AnchorSpec
from siammask.checkpoints import load_network_weights
from siammask.lit.network_config import build_network
from siammask.models import SiamMask


def load_network(ckpt_path: str | Path, map_location: str | torch.device = "cpu") -> SiamMask:
    """The network of a checkpoint, in eval mode; its architecture comes from the stored hyper-parameters."""
    return load_trained(ckpt_path, map_location)[0]


def load_trained(ckpt_path: str | Path, map_location: str | torch.device = "cpu") -> tuple[SiamMask, AnchorSpec]:
    """The network of a checkpoint and the anchors it was trained with, from one read of the file."""
    path = Path(ckpt_path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist (train one with `make train`)")
    checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    hparams = checkpoint.get("hyper_parameters") if isinstance(checkpoint, dict) else None
    if not hparams or "backbone" not in hparams:
        raise ValueError(f"{str(path)!r} is not a checkpoint of this project (no network hyper-parameters inside)")
    anchors = AnchorSpec(**(hparams.get("anchors") or {}))
    network = build_network(without_weight_files(hparams["backbone"]), hparams["neck"], hparams["head"],
                            hparams.get("refine"), anchors.num_anchors)
    state = {k.removeprefix("network."): v for k, v in checkpoint["state_dict"].items() if k.startswith("network.")}
    network.load_state_dict(state)
    return network.eval().to(map_location), anchors


def without_weight_files(backbone: Mapping[str, Any]) -> dict[str, Any]:
    """The backbone config without its starting weights (e.g. the ImageNet ``resnet.model`` of a paper run): the
    checkpoint holds all weights, so rebuilding it must not need the original file or the hub."""
    plain = dict(backbone)
    if plain.get("checkpoint_path"):
        plain["checkpoint_path"] = None
    if plain.get("pretrained"):
        plain["pretrained"] = False
    return plain


def convert_weights(model_cfg: Mapping[str, Any], state: Mapping[str, torch.Tensor], source: str | Path,
                    out_path: str | Path) -> Path:
    """Write a checkpoint that eval.py / track.py load (``ckpt_path=``) from foreign network weights ``state``
    read from ``source`` (e.g. the official release's SiamMask_DAVIS.pth), with the ``model`` config that builds
    their network.

    Every tensor of the network must come from the file (:func:`siammask.checkpoints.load_network_weights`).
    """
    module = instantiate(model_cfg)
    load_network_weights(module.network, state, source)
    out = Path(out_path).expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"hyper_parameters": dict(module.hparams), "state_dict": module.state_dict(),
                "converted_from": str(source)}, out)
    return out
