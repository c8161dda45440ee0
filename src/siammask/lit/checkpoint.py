"""Rebuild a trained network from a checkpoint of this project or an official release file, without Lightning."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from siammask.anchors import AnchorSpec
from siammask.checkpoints import (
    check_device,
    describe_foreign,
    load_network_weights,
    read_weights_file,
    release_is_sharp,
    release_preset,
    state_dict_of,
    weights_format,
)
from siammask.lit.network_config import build_network, release_model_config
from siammask.models import SiamMask

log = logging.getLogger(__name__)


def load_network(ckpt_path: str | Path, map_location: str | torch.device = "cpu") -> SiamMask:
    """The network of a checkpoint, in eval mode; its architecture comes from the stored hyper-parameters."""
    return load_trained(ckpt_path, map_location)[0]


def load_trained(ckpt_path: str | Path, map_location: str | torch.device = "cpu") -> tuple[SiamMask, AnchorSpec]:
    """The network of a checkpoint and the anchors it was trained with, from one read of the file.

    Takes this project's checkpoints (the architecture from their hyper-parameters), the official release's
    files as published (SiamMask_VOT.pth, SiamMask_VOT_LD.pth, SiamMask_DAVIS.pth, base-stage files) and pysot's
    siammask_r50_l3 model.pth (the same network): the paper network of experiment=siammask_sharp / siammask_base,
    every tensor mapped strictly. The device and the file are checked before anything is built.
    """
    device = check_device(map_location)
    path = Path(ckpt_path).expanduser()
    payload = read_weights_file(path)
    fmt = weights_format(payload, path)
    if fmt in ("release", "pysot"):
        state = state_dict_of(payload, path)
        sharp = release_is_sharp(state)
        model = release_model_config(sharp)
        anchors = AnchorSpec(**cast(dict[str, Any], OmegaConf.to_container(model.anchors, resolve=True)))
        network = build_network(model.backbone, model.neck, model.head, model.refine, anchors.num_anchors)
        summary = load_network_weights(network, state, path)
        log.info("%s: official SiamMask weights (%s file, %s stage), mapped %s; their settings: %s", path, fmt,
                 "sharp" if sharp else "base", summary["mapped"], release_preset(path, fmt))
        return network.eval().to(device), anchors
    if fmt != "project":
        raise ValueError(describe_foreign(state_dict_of(payload, path), path))
    assert isinstance(payload, dict)  # weights_format calls only a dict a project checkpoint
    hparams = payload["hyper_parameters"]
    anchors = AnchorSpec(**(hparams.get("anchors") or {}))
    network = build_network(without_weight_files(hparams["backbone"]), hparams["neck"], hparams["head"], hparams.get("refine"),
                            anchors.num_anchors)
    state = {k.removeprefix("network."): v for k, v in payload["state_dict"].items() if k.startswith("network.")}
    network.load_state_dict(state)
    return network.eval().to(device), anchors


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
                    out_path: str | Path) -> tuple[Path, dict[str, str]]:
    """Write a checkpoint that eval.py / track.py load (``ckpt_path=``) from foreign network weights ``state``
    read from ``source`` (e.g. the official release's SiamMask_DAVIS.pth), with the ``model`` config that builds
    their network; returns its path and what was mapped.

    Every tensor of the network must come from the file (:func:`siammask.checkpoints.load_network_weights`).
    """
    module = instantiate(model_cfg)
    summary = load_network_weights(module.network, state, source)
    out = Path(out_path).expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"hyper_parameters": dict(module.hparams), "state_dict": module.state_dict(),
                "converted_from": str(source)}, out)
    return out, summary
