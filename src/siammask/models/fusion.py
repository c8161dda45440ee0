"""Inference-only rewrites of a trained network that keep its outputs: BatchNorm folded into the convolution before it.

In eval mode a BatchNorm is an affine map per channel, which the preceding convolution's weights and bias absorb:
one pass over each feature map instead of two.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

Network = TypeVar("Network", bound=nn.Module)


def fold_batchnorm(network: Network, probe: Callable[[Network], torch.Tensor]) -> int:
    """Fold every BatchNorm that reads a convolution's output directly into that convolution, in place; returns how
    many were folded. The network must be in eval mode.

    The pairs are found by running ``probe(network)`` once (a module's structure does not say which layer feeds
    which); the folded network is checked against the original on the same probe.
    """
    if network.training:
        raise ValueError("fold_batchnorm needs a network in eval mode (BatchNorm on running statistics)")
    produced: dict[int, tuple[torch.Tensor, int, str]] = {}  # tensors kept alive so their ids stay theirs
    pairs: dict[tuple[str, str], None] = {}  # ordered set: a pair seen twice (template and search) folds once
    names = {module: name for name, module in network.named_modules()}

    def conv_output(module: nn.Module, args: tuple, out: torch.Tensor) -> None:
        produced[id(out)] = (out, out._version, names[module])

    def bn_input(module: nn.Module, args: tuple, out: torch.Tensor) -> None:
        source = produced.get(id(args[0]))
        if source is not None and source[1] == args[0]._version:  # not changed in place since (an inplace ReLU)
            pairs[(source[2], names[module])] = None

    hooks = [module.register_forward_hook(conv_output if isinstance(module, nn.Conv2d) else bn_input)
             for module in names if isinstance(module, (nn.Conv2d, nn.BatchNorm2d))]
    with torch.no_grad():
        try:
            reference = probe(network)
        finally:
            for hook in hooks:
                hook.remove()
        produced.clear()
        replacements: list[tuple[str, nn.Module]] = []
        for conv_name, bn_name in pairs:
            conv, bn = network.get_submodule(conv_name), network.get_submodule(bn_name)
            assert isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d)  # the hooks pair only these
            replacements += [(conv_name, fuse_conv_bn_eval(conv, bn)), (bn_name, _after_normalisation(bn))]
        for name, replacement in replacements:
            _replace(network, name, replacement)
        folded = probe(network)
    scale = float(reference.abs().max()) or 1.0
    if not torch.allclose(folded / scale, reference / scale, atol=1e-4):
        raise RuntimeError("folding BatchNorm changed the network's outputs: a convolution's output is read by "
                           "more than its BatchNorm; track without fold_batchnorm")
    return len(pairs)


def _after_normalisation(bn: nn.BatchNorm2d) -> nn.Module:
    """What remains of a BatchNorm once folded: nothing, or the activation a timm ``BatchNormAct2d`` carries."""
    if type(bn) is nn.BatchNorm2d:
        return nn.Identity()
    drop, act = getattr(bn, "drop", None), getattr(bn, "act", None)
    if isinstance(drop, nn.Module) and isinstance(act, nn.Module):
        return nn.Sequential(drop, act)
    raise TypeError(f"cannot fold {type(bn).__name__}: only BatchNorm2d and timm's BatchNormAct2d")


def _replace(network: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(network.get_submodule(parent) if parent else network, child, module)
