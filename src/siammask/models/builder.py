"""Network from its config: the one place that turns the Hydra ``model`` sub-configs into a SiamMask."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from siammask.models.network import SiamMask, build_siammask


def build_network(backbone: Mapping[str, Any], neck: Mapping[str, Any], head: Mapping[str, Any],
                  refine: Mapping[str, Any] | None, num_anchors: int) -> SiamMask:
    """``head`` holds ``score``, ``mask`` and optional ``box`` partial configs; ``refine`` may be None or have no
    ``_target_`` (model/refine=none, whose settings from an experiment such as ``quick`` then apply to nothing)."""
    head = _as_config(head)
    refine = _as_config(refine) if refine else None
    return build_siammask(
        backbone=instantiate(_as_config(backbone)),
        neck=instantiate(_as_config(neck)),
        score_head=instantiate(head.score),
        mask_head=instantiate(head.mask),
        box_head=instantiate(head.box) if head.get("box") is not None else None,
        refine=instantiate(refine) if refine is not None and refine.get("_target_") else None,
        num_anchors=num_anchors,
    )


def _as_config(cfg: Mapping[str, Any]) -> DictConfig:
    return cfg if isinstance(cfg, DictConfig) else OmegaConf.create(dict(cfg))
