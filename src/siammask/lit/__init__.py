"""Thin LightningModules over the plain-PyTorch network: targets, losses, metrics, optimisation.

Nothing outside training imports this package: checkpoints are read and networks rebuilt by
:mod:`siammask.checkpoints`, without Lightning.
"""

from siammask.lit.module import SiamMaskModule, ThreeBranchModule, TwoBranchModule

__all__ = ["SiamMaskModule", "ThreeBranchModule", "TwoBranchModule"]
