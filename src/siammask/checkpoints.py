"""Loading weights safely: ``weights_only=True`` everywhere, so a checkpoint can never run code."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

# Prefixes under which backbone weights appear in known files: Lightning checkpoints of this project,
# the official SiamMask release ("features.features."), DataParallel ("module.").
BACKBONE_PREFIXES = ("network.backbone.", "features.features.", "module.", "backbone.")

# The official release's module names (foolwood/SiamMask experiments/siammask_{base,sharp}/custom.py: ResDown,
# ResDownS, UP, MaskCorr, Refine) -> this project's; below these prefixes the names are the same.
RELEASE_PREFIXES = {
    "features.features.": "backbone.",
    "features.downsample.": "neck.",
    "rpn_model.cls.": "score_head.",
    "rpn_model.loc.": "box_head.",
    "mask_model.mask.": "mask_head.",
    "refine_model.": "refine.",
}


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


def network_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A SiamMask network's tensors under this project's names, from this project's checkpoints ("network."),
    the official release files (SiamMask_DAVIS.pth, SiamMask_VOT.pth, ...; "module." when saved from
    DataParallel) or a plain network state dict."""
    renamed = {}
    for key, value in state.items():
        name = key.removeprefix("module.").removeprefix("network.")
        for release, own in RELEASE_PREFIXES.items():
            if name.startswith(release):
                name = own + name[len(release):]
                break
        renamed[name] = value
    return renamed


def load_network_weights(network: nn.Module, path: str | Path) -> None:
    """Load every tensor of ``network`` from ``path`` (see :func:`network_state`); refuse partial or foreign files.

    A mismatch names the parts that differ, e.g. a release base model (no ``refine_model``) for a network
    built with refine.
    """
    state = network_state(read_state_dict(path))
    own = network.state_dict()
    problems = {
        "missing in the file": _parts(own.keys() - state.keys()),
        "not in the network": _parts(state.keys() - own.keys()),
        "of another shape": _parts(k for k in own.keys() & state.keys() if own[k].shape != state[k].shape),
    }
    problems = {what: parts for what, parts in problems.items() if parts}
    if problems:
        detail = "; ".join(f"{what}: {parts}" for what, parts in problems.items())
        raise ValueError(f"{str(path)!r} does not fit this network ({detail})")
    network.load_state_dict(state)


def _parts(keys) -> str:
    """Tensor names summarised by their module, e.g. ``refine.* (26)``."""
    counts: dict[str, int] = {}
    for key in keys:
        part = key.split(".")[0]
        counts[part] = counts.get(part, 0) + 1
    return ", ".join(f"{part}.* ({n})" for part, n in sorted(counts.items()))


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
