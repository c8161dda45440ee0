import math

import torch

from siammask.anchors import (
    AnchorSpec,
    AnchorTargetAssigner,
    CentreLabeller,
    decode_boxes,
    encode_boxes,
    position_centres,
)


def test_anchor_sizes_are_the_release_integer_sizes():
    # stride 8 -> area 64; ratio r: w = int(sqrt(64 / r)), h = int(w * r); times scale 8.
    sizes = AnchorSpec().base_sizes().tolist()
    assert sizes == [[104, 32], [88, 40], [64, 64], [40, 80], [32, 96]]


def test_anchor_grid_is_centred_on_the_search_crop_with_stride_8():
    grid = AnchorSpec().grid(25, 255)
    assert grid.shape == (5, 25, 25, 4)
    assert grid[2, 12, 12, :2].tolist() == [127.5, 127.5]
    assert grid[0, 0, 0, :2].tolist() == [127.5 - 96, 127.5 - 96]
    assert grid[0, 3, 7, :2].tolist() == [127.5 + (7 - 12) * 8, 127.5 + (3 - 12) * 8]
    assert torch.allclose(position_centres(26, 255, 8)[[0, -1]], torch.tensor([27.5, 227.5]))


def test_box_encoding_round_trips_and_matches_a_hand_computed_delta():
    anchors = torch.tensor([[100.0, 50.0, 64.0, 32.0]])
    box = torch.tensor([[116.0, 42.0, 128.0, 16.0]])
    delta = encode_boxes(box, anchors)
    assert torch.allclose(delta, torch.tensor([[0.25, -0.25, math.log(2), math.log(0.5)]]))
    assert torch.allclose(decode_boxes(delta, anchors), box)


def test_target_assignment_marks_exactly_the_anchors_above_the_iou_threshold():
    assign = AnchorTargetAssigner(max_positives=100, total_samples=10_000)
    box = torch.tensor([[127.5 - 32, 127.5 - 32, 127.5 + 32, 127.5 + 32]])  # the 64x64 anchor at the centre
    targets = assign(box, torch.tensor([False]), 25, 255)
    labels = targets.labels[0]
    assert labels[2, 12, 12] == 1
    # the square anchor one cell (8 px) away: IoU = 56*64 / (2*64*64 - 56*64) = 0.778 -> positive;
    # two cells: 48*64 / (8192 - 3072) = 0.6 -> positive (>= 0.6); three cells: 40/88 = 0.4545 -> ignored
    assert labels[2, 12, 13] == 1 and labels[2, 12, 14] == 1 and labels[2, 12, 15] == -1
    assert labels[2, 0, 0] == 0  # far away: IoU 0 <= 0.3
    assert torch.allclose(targets.deltas[0, 2, 12, 12], torch.zeros(4), atol=1e-6)
    positives = int((labels == 1).sum())
    assert torch.allclose(targets.box_weight.sum(), torch.tensor(1.0))
    assert torch.allclose(targets.box_weight[0][labels == 1], torch.full((positives,), 1 / positives))


def test_sampling_keeps_at_most_16_positives_and_64_samples_per_pair():
    assign = AnchorTargetAssigner()
    box = torch.tensor([[96.0, 96.0, 160.0, 160.0], [88.0, 108.0, 168.0, 148.0]])
    targets = assign(box, torch.tensor([False, False]), 25, 255, torch.Generator().manual_seed(0))
    pos = (targets.labels == 1).flatten(1).sum(1)
    neg = (targets.labels == 0).flatten(1).sum(1)
    assert (pos <= 16).all() and (pos > 0).all()
    assert torch.equal(pos + neg, torch.tensor([64, 64]))


def test_negative_pairs_sample_16_negatives_inside_the_centre_7x7_patch():
    assign = AnchorTargetAssigner()
    box = torch.tensor([[100.0, 100.0, 150.0, 150.0]])
    targets = assign(box, torch.tensor([True]), 25, 255, torch.Generator().manual_seed(1))
    labels = targets.labels[0]
    assert int((labels == 1).sum()) == 0 and int((labels == 0).sum()) == 16
    rows, cols = torch.nonzero(labels == 0, as_tuple=True)[1:]
    assert ((rows - 12).abs() <= 3).all() and ((cols - 12).abs() <= 3).all()
    assert targets.box_weight.sum() == 0


def test_siamfc_labels_are_the_cells_within_16_pixels_of_the_target_centre():
    label = CentreLabeller(8, 16.0)
    box = torch.tensor([[120.0, 120.0, 135.0, 135.0], [0.0, 0.0, 10.0, 10.0]])
    labels = label(box, torch.tensor([False, True]), 25, 255)
    # centre (127.5, 127.5) = cell (12, 12); cells within 2 cells: 13 (a radius-2 disc on the grid)
    assert int(labels[0].sum()) == 13 and labels[0, 12, 12] == 1 and labels[0, 12, 14] == 1 and labels[0, 13, 14] == 0
    assert labels[1].sum() == 0
