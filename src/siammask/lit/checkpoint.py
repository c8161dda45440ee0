"""Rebuild a trained network from a Lightning checkpoint of this project, without Lightning at run time."""

from __future__ import annotations

from pathlib import Path

import torch

from siammask.anchors import AnchorSpec
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
    network = build_network(hparams["backbone"], hparams["neck"], hparams["head"], hparams.get("refine"),
                            anchors.num_anchors)
    state = {k.removeprefix("network."): v for k, v in checkpoint["state_dict"].items() if k.startswith("network.")}
    network.load_state_dict(state)
    return network.eval().to(map_location), anchors
