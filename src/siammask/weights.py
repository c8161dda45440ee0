"""Reading weights files, without building a network: a file checked and read safely (``weights_only=True``, so a
checkpoint can never run code), its tensors renamed from the official release's and pysot's names to this
project's, and a backbone's tensors loaded strictly. The layer below :mod:`siammask.checkpoints` (which rebuilds
networks) and the backbones that start from a file (:class:`~siammask.models.PaperResNet50`).
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
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


# pysot's (STVIR/pysot) siammask_r50_l3 model.pth holds the release's network under pysot/models/model_builder.py's
# names (resnet_atrous ResNet-50 to layer3, AdjustAllLayer, DepthwiseRPN, MaskCorr, Refine: the same layers and
# shapes as the release's ResDown, UP, MaskCorr, Refine) -> this project's names.
PYSOT_PREFIXES = {
    "neck.downsample.downsample.": "neck.downsample.",
    "rpn_head.cls.": "score_head.",
    "rpn_head.loc.": "box_head.",
    "refine_head.": "refine.",
}


def check_weights_file(path: str | Path) -> Path:
    """Refuse, naming the file, what torch would fail on obscurely: a missing path, a file that is not a torch
    weights file (e.g. text: torch says ``KeyError: 101``) or a truncated one (no zip directory at its end)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist (no such file)" if not path.exists() else
                                f"checkpoint {str(path)!r} is a directory, not a weights file")
    with path.open("rb") as file:
        head = file.read(4)
    if head[:2] != b"PK" and head[:1] != b"\x80":  # zip archive (torch >= 1.6) or a legacy pickle
        raise ValueError(f"checkpoint {str(path)!r} is not a PyTorch weights file (it starts with {head!r}; "
                         f"a .pth / .ckpt file is a zip archive or a pickle): pass the weights file itself")
    if head[:2] == b"PK":
        try:
            zipfile.ZipFile(path).close()
        except zipfile.BadZipFile as error:
            raise ValueError(f"checkpoint {str(path)!r} is truncated or damaged ({error}; "
                             f"{path.stat().st_size} bytes): download or copy it again") from error
    return path


def read_weights_file(path: str | Path) -> object:
    """The payload of a torch weights file (``weights_only=True``, onto the CPU), after
    :func:`check_weights_file`; a file torch still cannot read is named in the message."""
    path = check_weights_file(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"checkpoint {str(path)!r} could not be read as PyTorch weights ({detail}); "
                         f"download or copy it again") from error


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensor dict of a plain state dict, a Lightning checkpoint or a release file ({'state_dict': ...})."""
    return state_dict_of(read_weights_file(path), path)


def state_dict_of(payload: object, source: str | Path) -> dict[str, torch.Tensor]:
    state = payload.get("state_dict", payload) if isinstance(payload, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{str(source)!r} holds no state dict of tensors")
    return state


def network_state(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A SiamMask network's tensors under this project's names, from this project's checkpoints ("network."),
    the official release files (SiamMask_DAVIS.pth, SiamMask_VOT.pth, ...; "module." when saved from
    DataParallel), pysot's siammask_r50_l3 model.pth, or a plain network state dict."""
    renamed = {}
    for key, value in state.items():
        name = key.removeprefix("module.").removeprefix("network.")
        for foreign, own in (RELEASE_PREFIXES | PYSOT_PREFIXES).items():
            if name.startswith(foreign):
                name = own + name[len(foreign):]
                break
        renamed[name] = value
    return renamed


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
