"""Refine trains on every backbone family, whichever strides the backbone offers (issue 14)."""

import pytest
import torch
from model_fixtures import light_model_kwargs, make_batch

from siammask.lit import ThreeBranchModule
from siammask.models import TimmBackbone

SEARCH = 175  # the smallest search crop make_batch supports: keeps each step cheap


@pytest.mark.parametrize("name, upsample", [
    ("convnext_atto", (2, 1, 1)),  # strides 4, 8, 8: the stride-2 level upsamples the stride-4 map
    ("efficientnet_b0", (1, 1, 1)),
    ("mobilenetv3_small_050", (1, 1, 1)),
    ("regnetx_002", (1, 1, 1)),
    ("resnet10t", (1, 1, 1)),
])
def test_two_optimisation_steps_with_refine_on_each_backbone_family(name, upsample):
    torch.manual_seed(0)
    module = ThreeBranchModule(**light_model_kwargs(refine=True, backbone=name), search_size=SEARCH,
                               mask_positions_per_pair=1)
    module.log = lambda *args, **kwargs: None
    assert module.network.refine.upsample == upsample
    before = module.network.refine.v0[0].weight.detach().clone()
    optimizer = torch.optim.SGD(module.parameters(), lr=1e-3)
    batch = make_batch(size=2, search_size=SEARCH)
    for _ in range(2):
        loss = module.training_step(batch, 0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        assert torch.isfinite(loss)
    assert not torch.equal(before, module.network.refine.v0[0].weight)  # the finest skip level is trained


@pytest.mark.parametrize("name", ["hrnet_w18_small", "swin_tiny_patch4_window7_224"])
def test_a_backbone_timm_cannot_dilate_is_refused_in_one_line_naming_it(name):
    with pytest.raises(ValueError) as error:
        TimmBackbone(name, [0, 1, 2, 3])
    message = str(error.value)
    assert "\n" not in message and f"backbone {name!r} cannot be used" in message and "output_stride=8" in message
