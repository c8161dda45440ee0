"""Train in channels-last memory format: oneDNN's convolutions on CPU (and cuDNN's tensor-core kernels) work in
NHWC, so NCHW weights and activations are reordered around every convolution, forward and backward.

The weights are converted in ``setup``, before the strategy moves or wraps the model and before the optimiser
exists (its state then takes the same layout). Activations follow the weights: a convolution with channels-last
weights returns channels-last maps. Values are those of NCHW training up to float rounding; checkpoints load into
either layout.
"""

from __future__ import annotations

import pytorch_lightning as pl
import torch


class ChannelsLast(pl.Callback):
    """Convert the module's 4-D parameters and buffers to ``torch.channels_last`` before fitting."""

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        pl_module.to(memory_format=torch.channels_last)
