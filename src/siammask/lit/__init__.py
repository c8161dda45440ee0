"""Thin LightningModules over the plain-PyTorch network: targets, losses, metrics, optimisation."""

from siammask.lit.module import SiamMaskModule, ThreeBranchModule, TwoBranchModule

__all__ = ["SiamMaskModule", "ThreeBranchModule", "TwoBranchModule"]
