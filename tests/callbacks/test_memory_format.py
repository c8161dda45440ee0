"""Channels-last training: the same loss and gradients as NCHW, the weights converted before fitting starts."""

from __future__ import annotations

import copy

import pytorch_lightning as pl
import torch
from model_fixtures import light_model_kwargs, make_batch
from siammask.callbacks.memory_format import ChannelsLast

from siammask.lit.module import ThreeBranchModule


def _loss_and_grads(module: ThreeBranchModule, batch: dict) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    module.log = lambda *args, **kwargs: None  # no trainer attached
    torch.manual_seed(1)  # the random mask positions per pair
    loss = module.training_step(batch, 0)
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in module.named_parameters() if p.grad is not None}


def test_channels_last_converts_weights_and_trains_the_same() -> None:
    torch.manual_seed(0)
    nchw = ThreeBranchModule(**light_model_kwargs(refine=True))
    nhwc = copy.deepcopy(nchw)
    ChannelsLast().setup(pl.Trainer(logger=False, enable_checkpointing=False), nhwc, "fit")

    convs = {n: p for n, p in nhwc.named_parameters() if p.dim() == 4 and min(p.shape[-2:]) > 1}
    assert convs, "the model has spatial convolutions"
    assert all(p.is_contiguous(memory_format=torch.channels_last) for p in convs.values())
    assert not any(nchw.get_parameter(n).is_contiguous(memory_format=torch.channels_last) for n in convs)

    batch = make_batch(2, search_size=255)
    loss_nchw, grads_nchw = _loss_and_grads(nchw, batch)
    loss_nhwc, grads_nhwc = _loss_and_grads(nhwc, batch)
    torch.testing.assert_close(loss_nhwc, loss_nchw, rtol=1e-4, atol=1e-5)
    assert grads_nhwc.keys() == grads_nchw.keys()
    for name, grad in grads_nchw.items():
        # relative to the whole gradient: BatchNorm and the first convolution sum ~10^5 terms per value, in
        # another order (a bias whose gradient is 0 up to rounding, before another BatchNorm: the absolute term)
        assert float((grads_nhwc[name] - grad).norm()) <= 1e-3 * float(grad.norm()) + 1e-5, name
