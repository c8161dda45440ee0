"""Network from its config: the one place that turns the Hydra ``model`` sub-configs into a SiamMask."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from siammask.anchors import AnchorSpec
from siammask.box_coding import BoxDecoder
from siammask.models.network import SiamMask, build_siammask


def build_network(backbone: Mapping[str, Any], neck: Mapping[str, Any], head: Mapping[str, Any],
                  refine: Mapping[str, Any] | None, decoder: BoxDecoder) -> SiamMask:
    """``head`` holds ``score``, ``mask`` and optional ``box`` partial configs and ``levels`` (default 1);
    ``refine`` may be None, or settings without a ``_target_`` (``model/refine=none`` under an experiment that tunes
    the refine's settings, as experiment=quick): no refine; ``decoder``: the box family (:func:`box_decoder`)."""
    head = _as_config(head)
    refine = _as_config(refine) if refine else None
    return build_siammask(
        backbone=instantiate(_as_config(backbone)),
        neck=instantiate(_as_config(neck)),
        score_head=instantiate(head.score),
        mask_head=instantiate(head.mask),
        box_head=instantiate(head.box) if head.get("box") is not None else None,
        refine=instantiate(_as_config(refine)) if refine and "_target_" in refine else None,
        decoder=decoder,
        levels=int(head.get("levels") or 1),
    )


def box_decoder(head: Mapping[str, Any], anchors: Mapping[str, Any] | None) -> BoxDecoder:
    """The box family of a head config: its ``decoder`` (e.g. the anchor-free points of conf/model/head/anchor_free),
    else the anchors of ``model.anchors`` (the paper's heads)."""
    decoder = _as_config(head).get("decoder")
    return instantiate(decoder) if decoder is not None else AnchorSpec(**(anchors or {}))


def _as_config(cfg: Mapping[str, Any]) -> DictConfig:
    return cfg if isinstance(cfg, DictConfig) else OmegaConf.create(dict(cfg))
