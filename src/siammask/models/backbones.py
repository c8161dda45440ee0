"""Backbones: any timm model through ``features_only``, each owning its input normalisation.

A backbone returns a list of feature maps ordered by stride; the *last* one feeds the Siamese
heads (stride 8, as in the paper), the earlier ones are the skip features of the refine module
(strides 2, 4, 8, or the next coarser ones it upsamples). Channels and strides come from the model
itself (``channels``, ``reductions``).
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import timm
import torch
from timm.models import FeatureInfo
from torch import nn

SIAMESE_STRIDE = 8  # the paper's output stride for the correlation features (§3.1)


class InputNormalization(nn.Module):
    """Maps the project's input convention (RGB, 0-255, CHW) to what a backbone's weights expect.

    ``mean`` and ``std`` are on the 0-1 scale (timm's convention); ``bgr=True`` flips channels and,
    with ``scale_to_unit=False``, keeps raw 0-255 values (the official SiamMask ResNet-50 weights).
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, mean: Sequence[float] = (0.0, 0.0, 0.0), std: Sequence[float] = (1.0, 1.0, 1.0),
                 bgr: bool = False, scale_to_unit: bool = True) -> None:
        super().__init__()
        scale = 255.0 if scale_to_unit else 1.0
        self.bgr = bgr
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1) * scale, persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1) * scale, persistent=False)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if image.dim() != 4 or image.shape[1] != 3:
            raise ValueError(f"expected images as (B, 3, H, W) RGB 0-255, got shape {tuple(image.shape)}")
        x = image.to(self.mean.dtype)  # fp32, or bf16 in a network cast for bf16 tracking
        if self.bgr:
            x = x.flip(1)
        return (x - self.mean) / self.std


class Backbone(nn.Module):
    """What the network reads from any backbone, so a new one plugs in without touching the network.

    ``forward`` takes images as (B, 3, H, W) RGB 0-255 and returns feature maps ordered by stride, the last at
    stride 8; ``channels[i]`` and ``reductions[i]`` are map i's width and stride in input pixels.
    """

    channels: list[int]
    reductions: list[int]


class TimmBackbone(Backbone):
    """A timm model cut into feature stages with output stride 8 (later stages dilated, as in the paper)."""

    def __init__(self, name: str, out_indices: Sequence[int], output_stride: int = SIAMESE_STRIDE,
                 pretrained: bool = False, checkpoint_path: str | None = None,
                 mean: Sequence[float] | None = None, std: Sequence[float] | None = None) -> None:
        super().__init__()
        if name not in timm.list_models():
            close = timm.list_models(f"*{name.split('_')[0]}*")[:8]
            raise ValueError(f"unknown timm backbone {name!r}; similar names: {close}")
        self.name = name
        self.model = _checked_create(name, out_indices, output_stride, pretrained, checkpoint_path)
        feature_info = cast(FeatureInfo, self.model.feature_info)  # every features_only model carries one
        self.channels = list(feature_info.channels())
        self.reductions = list(feature_info.reduction())
        effective = [min(r, output_stride) for r in self.reductions]
        if effective[-1] != SIAMESE_STRIDE:
            raise ValueError(
                f"backbone {name!r} with out_indices={list(out_indices)} gives stride {effective[-1]} for its last "
                f"feature, SiamMask needs {SIAMESE_STRIDE}: pick a deeper index or output_stride=8 (this model "
                f"may not support dilation)")
        self.reductions = effective
        cfg = cast(dict[str, Any], self.model.pretrained_cfg)
        self.normalize = InputNormalization(mean if mean is not None else cfg.get("mean", (0.485, 0.456, 0.406)),
                                            std if std is not None else cfg.get("std", (0.229, 0.224, 0.225)))

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        return self.model(self.normalize(image))


def _checked_create(name: str, out_indices: Sequence[int], output_stride: int, pretrained: bool,
                    checkpoint_path: str | None) -> nn.Module:
    """timm's model, or one line naming the backbone when timm refuses its features or its output stride.

    Some models assert or raise a bare TypeError on ``output_stride`` (HRNet: ``assert output_stride == 32``;
    ViT, Swin: no such argument); building them again without it tells that apart from other mistakes.
    """
    try:
        return _create_timm_model(name, out_indices, output_stride, pretrained, checkpoint_path)
    except (AssertionError, TypeError, IndexError) as error:
        detail = f"{type(error).__name__}: {error}".rstrip(": ")
        if output_stride != 32 and _builds_undilated(name, out_indices):
            raise ValueError(
                f"backbone {name!r} cannot be used: timm cannot dilate it to output_stride={output_stride} "
                f"({detail}), and SiamMask needs stride-{SIAMESE_STRIDE} features; pick a CNN such as "
                f"convnext_nano, resnet18 or efficientnet_b0") from error
        raise ValueError(f"backbone {name!r} with out_indices={list(out_indices)} cannot be built by timm's "
                         f"features_only ({detail})") from error


def _builds_undilated(name: str, out_indices: Sequence[int]) -> bool:
    try:
        _create_timm_model(name, out_indices, 32, pretrained=False, checkpoint_path=None)
    except (AssertionError, TypeError, IndexError, RuntimeError, ValueError):
        return False
    return True


def _create_timm_model(name: str, out_indices: Sequence[int], output_stride: int, pretrained: bool,
                       checkpoint_path: str | None) -> nn.Module:
    kwargs: dict[str, Any] = {"features_only": True, "out_indices": tuple(out_indices)}
    if output_stride != 32:
        kwargs["output_stride"] = output_stride
    if checkpoint_path:
        path = Path(checkpoint_path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"backbone checkpoint_path {str(path)!r} does not exist")
        return timm.create_model(name, pretrained=True, pretrained_cfg_overlay={"file": str(path)}, **kwargs)
    if not pretrained:
        return timm.create_model(name, pretrained=False, **kwargs)
    if not _hub_reachable():
        raise RuntimeError(
            f"pretrained weights for {name!r} need the Hugging Face hub, which this machine cannot reach. "
            f"Download them elsewhere and pass model.backbone.checkpoint_path=<file>, or set "
            f"model.backbone.pretrained=false")
    try:
        return timm.create_model(name, pretrained=True, **kwargs)
    except Exception as error:  # the hub raises many types; all mean "no weights here"
        raise RuntimeError(
            f"could not obtain pretrained weights for {name!r} ({type(error).__name__}: {error}). Offline machines "
            f"cannot download them: fetch the file elsewhere and pass model.backbone.checkpoint_path=<file>, "
            f"or train from scratch with model.backbone.pretrained=false") from error


def _hub_reachable(host: str = "huggingface.co", timeout_s: float = 3.0) -> bool:
    """A quick connect test, so offline machines fail in seconds instead of after the hub's retries."""
    try:
        socket.create_connection((host, 443), timeout=timeout_s).close()
        return True
    except OSError:
        return False
