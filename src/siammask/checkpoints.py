"""Loading weights safely: ``weights_only=True`` everywhere, so a checkpoint can never run code."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

# Prefixes under which backbone weights appear in known files: Lightning checkpoints of this project,
# the official SiamMask release ("features.features."), DataParallel ("module.").
BACKBONE_PREFIXES = ("network.backbone.", "features.features.", "module.", "backbone.")


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensor dict of a plain state dict, a Lightning checkpoint or a release file ({'state_dict': ...})."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"{str(path)!r} is not a readable weights file: {error}") from error
    state = payload.get("state_dict", payload) if isinstance(payload, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{str(path)!r} holds no state dict of tensors")
    return state


def load_backbone_weights(backbone: nn.Module, path: str | Path) -> None:
    """Load the backbone part of ``path`` into ``backbone``, failing if no tensor matches."""
    state = read_state_dict(path)
    own = backbone.state_dict()
    picked: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        for prefix in ("", *BACKBONE_PREFIXES):
            name = key[len(prefix):] if key.startswith(prefix) else None
            if name in own and own[name].shape == value.shape:
                picked[name] = value
                break
    if not picked:
        raise ValueError(f"no tensor of {str(path)!r} matches this backbone (looked for prefixes {BACKBONE_PREFIXES})")
    backbone.load_state_dict(picked, strict=False)
