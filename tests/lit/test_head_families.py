"""The anchor-free head in the LightningModules: trains in the three-branch module, is refused with a clear message
in the two-branch one and with another family's targets."""

import pytest
import torch
from model_fixtures import light_model_kwargs, make_batch

from siammask.lit import ThreeBranchModule, TwoBranchModule

POINTS = {"_target_": "siammask.points.PointSpec"}


def anchor_free_kwargs(two_branch: bool = False) -> dict:
    kwargs = light_model_kwargs(two_branch=two_branch)
    kwargs["head"]["decoder"] = POINTS
    if not two_branch:
        kwargs["targets"] = {"_target_": "siammask.points.PointTargetAssigner"}
    return kwargs


def test_anchor_free_three_branch_step_logs_its_three_box_losses_and_a_box_iou():
    torch.manual_seed(0)
    module = ThreeBranchModule(**anchor_free_kwargs())
    assert module.network.score_head.out_channels == 2 and module.network.box_head.out_channels == 4
    values = {}
    module.log = lambda name, value, **kwargs: values.__setitem__(name, float(torch.as_tensor(value).detach()))
    loss = module.training_step(make_batch(), 0)
    loss.backward()
    assert {"train/loss_score", "train/loss_centreness", "train/loss_box", "train/loss_mask", "train/box_iou"} <= set(values)
    assert torch.isfinite(loss)


def test_anchor_free_is_refused_by_the_two_branch_module():
    with pytest.raises(ValueError, match="no box branch.*model=three_branch"):
        TwoBranchModule(**anchor_free_kwargs(two_branch=True))


def test_anchor_targets_for_an_anchor_free_head_are_refused():
    kwargs = anchor_free_kwargs()
    kwargs["targets"] = {"_target_": "siammask.anchors.AnchorTargetAssigner"}
    with pytest.raises(ValueError, match="assigns targets for AnchorSpec.*PointSpec.*model/targets=anchor_free"):
        ThreeBranchModule(**kwargs)
