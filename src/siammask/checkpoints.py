"""Loading weights safely: ``weights_only=True`` everywhere, so a checkpoint can never run code."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

import torch
from torch import nn

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


def load_network_weights(network: nn.Module, state: Mapping[str, torch.Tensor], source: str | Path) -> None:
    """Load every tensor of ``network`` from ``state`` (any naming :func:`network_state` knows), read from
    ``source``; refuse partial or foreign files, naming the parts that differ (e.g. a release base model, no
    ``refine_model``, for a network built with refine)."""
    state = network_state(state)
    own = network.state_dict()
    problems = {
        "missing in the file": _parts(own.keys() - state.keys()),
        "not in the network": _parts(state.keys() - own.keys()),
        "of another shape": _parts(k for k in own.keys() & state.keys() if own[k].shape != state[k].shape),
    }
    problems = {what: parts for what, parts in problems.items() if parts}
    if problems:
        detail = "; ".join(f"{what}: {parts}" for what, parts in problems.items())
        raise ValueError(f"{str(source)!r} does not fit this network ({detail})")
    network.load_state_dict(state)


def _parts(keys: Iterable[str]) -> str:
    """Tensor names summarised by their module, e.g. ``refine.* (26)``."""
    counts = Counter(key.split(".")[0] for key in keys)
    return ", ".join(f"{part}.* ({n})" for part, n in sorted(counts.items()))


def load_backbone_weights(backbone: nn.Module, path: str | Path) -> None:
    """Load every tensor of ``backbone`` from ``path``: a backbone's own state dict (e.g. the release's ImageNet
    ``resnet.model``, whose conv5 ``layer4`` and ``fc`` this backbone does not have) or a whole network's under any
    naming :func:`network_state` knows (only its ``backbone.*`` part is read).

    Strict, because a tensor left at its random initialisation trains silently worse: every backbone tensor must
    be in the file with its shape (BatchNorm's ``num_batches_tracked`` counters excepted, older files lack them),
    and a file tensor inside one of the backbone's modules must exist in it; otherwise the error lists them.
    """
    own = backbone.state_dict()
    state = network_state(read_state_dict(path))
    if any(key.startswith("backbone.") for key in state):
        state = {k.removeprefix("backbone."): v for k, v in state.items() if k.startswith("backbone.")}
    modules = {name for name, _ in backbone.named_children()}
    picked = {k: v for k, v in state.items() if k.split(".")[0] in modules}
    if not picked:
        raise ValueError(f"no tensor of {str(path)!r} matches this backbone (read as a backbone's or a whole "
                         f"network's state dict)")
    problems = {
        "missing in the file": sorted(k for k in own.keys() - picked.keys()
                                      if not k.endswith("num_batches_tracked")),
        "not in the backbone": sorted(picked.keys() - own.keys()),
        "of another shape": [f"{k} {tuple(picked[k].shape)} in the file, {tuple(own[k].shape)} here"
                             for k in sorted(own.keys() & picked.keys()) if own[k].shape != picked[k].shape],
    }
    problems = {what: keys for what, keys in problems.items() if keys}
    if problems:
        detail = "; ".join(f"{what} ({len(keys)}): {', '.join(keys[:12])}{' ...' if len(keys) > 12 else ''}"
                           for what, keys in problems.items())
        raise ValueError(f"{str(path)!r} does not fit this backbone, these tensors would stay random or be "
                         f"dropped: {detail}. (For the paper ResNet-50: a torchvision / timm ResNet-50 has 1x1 "
                         f"projection shortcuts in layer2 and layer3 where the release has 3x3; use the release's "
                         f"ImageNet resnet.model)")
    backbone.load_state_dict(picked, strict=False)  # strict apart from the num_batches_tracked counters
