import math

import torch
import torch.nn.functional as F

from siammask.anchors import AnchorTargets
from siammask.losses import anchor_score_loss, box_regression_loss, mask_dice_loss, mask_loss, similarity_loss


def test_anchor_score_loss_weighs_positives_and_negatives_half_each():
    score = torch.zeros(1, 2, 1, 2)  # k = 1, S = 1x2: background channel 0, foreground channel 1
    score[0, 1, 0, 0] = math.log(3.0)  # p(fg) = 3/4 at the positive
    labels = torch.tensor([[[[1.0, 0.0]]]])  # one positive, one negative with p = 1/2
    expected = 0.5 * -math.log(0.75) + 0.5 * -math.log(0.5)
    assert math.isclose(float(anchor_score_loss(score, labels)), expected, rel_tol=1e-6)


def test_box_loss_is_l1_over_positives_weighted_and_averaged_over_pairs():
    box = torch.zeros(2, 4, 1, 1)  # k = 1, S = 1
    deltas = torch.tensor([1.0, -2.0, 0.5, 0.0]).view(1, 1, 1, 1, 4).repeat(2, 1, 1, 1, 1)
    weight = torch.tensor([1.0, 0.0]).view(2, 1, 1, 1)
    targets = AnchorTargets(torch.ones(2, 1, 1, 1), deltas, weight)
    assert math.isclose(float(box_regression_loss(box, targets, beta=0.0)), 3.5 / 2)
    # smooth-L1 with beta 1: 0.5 -> 0.125, 1 -> 0.5, 2 -> 1.5
    assert math.isclose(float(box_regression_loss(box, targets, beta=1.0)), (0.5 + 1.5 + 0.125) / 2)


def test_mask_loss_equals_bce_after_upsampling_and_is_zero_without_positives():
    torch.manual_seed(0)
    logits, labels = torch.randn(3, 63, 63), (torch.rand(3, 127, 127) > 0.5).float()
    up = F.interpolate(logits[:, None], size=(127, 127), mode="bilinear", align_corners=False)[:, 0]
    assert torch.allclose(mask_loss(logits, labels), F.binary_cross_entropy_with_logits(up, labels))
    # the release's soft-margin loss on +-1 labels is the same function
    assert torch.allclose(mask_loss(logits, labels), F.soft_margin_loss(up, labels * 2 - 1))
    empty = torch.zeros(0, 63, 63, requires_grad=True)
    value = mask_loss(empty, torch.zeros(0, 127, 127))
    value.backward()
    assert float(value) == 0.0


def test_mask_dice_loss_is_one_minus_smoothed_dice_per_row_averaged():
    labels = torch.zeros(2, 4, 4)
    labels[:, :2, :2] = 1  # 4 foreground pixels each
    logits = torch.full((2, 4, 4), -30.0)  # p ~ 0 everywhere
    logits[0, :2, :2] = 30.0  # first RoW exactly right: dice (2*4 + 1) / (4 + 4 + 1) = 1
    logits[1] = 0.0  # second RoW p = 1/2 everywhere: (2*2 + 1) / (8 + 4 + 1)
    expected = (0.0 + (1 - 5 / 13)) / 2
    assert math.isclose(float(mask_dice_loss(logits, labels)), expected, rel_tol=1e-5)
    empty = torch.zeros(0, 63, 63, requires_grad=True)
    value = mask_dice_loss(empty, torch.zeros(0, 127, 127))
    value.backward()
    assert float(value) == 0.0


def test_similarity_loss_balances_one_positive_against_many_negatives():
    score = torch.zeros(1, 1, 2, 2)
    labels = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])
    # every cell has logit 0 -> BCE log 2; half the weight on 1 positive, half on 3 negatives
    assert math.isclose(float(similarity_loss(score, labels)), math.log(2), rel_tol=1e-6)
