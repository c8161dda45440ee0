"""Thin LightningModules over the plain-PyTorch network: targets, losses, metrics, optimisation.

The modules load lazily, so ``siammask.lit.checkpoint`` (rebuilding a network for tracking) runs without Lightning.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["SiamMaskModule", "ThreeBranchModule", "TwoBranchModule"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("siammask.lit.module"), name)
    raise AttributeError(f"module 'siammask.lit' has no attribute {name!r}")
