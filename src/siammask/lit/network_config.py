"""Network from its config: the one place that turns the Hydra ``model`` sub-configs into a SiamMask."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from siammask.models import SiamMask, build_siammask


def build_network(backbone: Mapping[str, Any], neck: Mapping[str, Any], head: Mapping[str, Any],
                  refine: Mapping[str, Any] | None, num_anchors: int) -> SiamMask:
    """``head`` holds ``score``, ``mask`` and optional ``box`` partial configs; ``refine`` may be None."""
    head = _as_config(head)
    return build_siammask(
        backbone=instantiate(_as_config(backbone)),
        neck=instantiate(_as_config(neck)),
        score_head=instantiate(head.score),
        mask_head=instantiate(head.mask),
        box_head=instantiate(head.box) if head.get("box") is not None else None,
        refine=instantiate(_as_config(refine)) if refine else None,
        num_anchors=num_anchors,
    )


def _as_config(cfg: Mapping[str, Any]) -> DictConfig:
    return cfg if isinstance(cfg, DictConfig) else OmegaConf.create(dict(cfg))


def release_model_config(sharp: bool, overrides: Sequence[str] = ()) -> DictConfig:
    """The ``model`` config of the official release's network: experiment=siammask_sharp's (with refine) or
    siammask_base's, composed from this package's configs (so the network has one description); ``overrides``
    are further Hydra overrides. Works inside a running Hydra app too (its global state is put back)."""
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from hydra.initialize import get_gh_backup, restore_gh_from_backup

    from siammask.config import register_resolvers

    register_resolvers()
    outer = get_gh_backup()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_module("siammask.conf", version_base="1.3"):
            cfg = compose("train", overrides=[f"experiment={'siammask_sharp' if sharp else 'siammask_base'}",
                                              "model.init_from=null", "model.train_only=null", *overrides])
    finally:
        restore_gh_from_backup(outer)
    model = cfg.model
    if "checkpoint_path" in model.backbone:  # the release file carries the backbone: no ImageNet file to read
        model.backbone.checkpoint_path = None
    return model
