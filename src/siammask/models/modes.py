"""Run a module in eval mode for a while and give every submodule back its own mode afterwards.

``module.train(was_training)`` would also switch parts that were deliberately in eval mode (frozen
BatchNorms, see ``SiamMaskModule.freeze_batch_norm_statistics``) back to training.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn


@contextmanager
def eval_mode(module: nn.Module) -> Iterator[nn.Module]:
    modes = {m: m.training for m in module.modules()}
    module.eval()
    try:
        yield module
    finally:
        for part, training in modes.items():
            part.training = training
