"""The anchor-free box family against hand computations: point targets (l, t, r, b and centre-ness), the decode /
distances round trip, the generalised IoU loss, and the tracker's choice among its candidates."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from siammask.models import SearchOutput
from siammask.points import PointSpec, PointTargetAssigner, PointTargets
from siammask.tracking import Tracker, TrackerConfig

# A 5 x 5 map of a 64-pixel crop at stride 8: points at 16, 24, 32, 40, 48 on each axis.
SPEC = PointSpec(stride=8)
BOX_XYXY = torch.tensor([[20.0, 22.0, 44.0, 50.0]])


def test_points_inside_the_box_are_positive_with_their_side_distances_and_centreness() -> None:
    targets = PointTargetAssigner(SPEC)(BOX_XYXY, torch.tensor([False]), score_size=5, search_size=64)
    distances = SPEC.distances(BOX_XYXY, 5, 64)
    # point (row 2, col 2) at (32, 32): l 12, t 10, r 12, b 18; centre-ness sqrt(12/12 * 10/18)
    assert distances[0, :, 2, 2].tolist() == [12.0, 10.0, 12.0, 18.0]
    assert float(targets.centreness[0, 2, 2]) == pytest.approx(math.sqrt(10 / 18))
    # point (row 1, col 1) at (24, 24): l 4, t 2, r 20, b 26
    assert distances[0, :, 1, 1].tolist() == [4.0, 2.0, 20.0, 26.0]
    assert float(targets.centreness[0, 1, 1]) == pytest.approx(math.sqrt(4 / 20 * 2 / 26))
    # inside: x in (20, 44) -> cols 1..3 (16 and 48 outside), y in (22, 50) -> rows 1..4 (y = 48 inside, 16 not)
    expected = torch.zeros(5, 5)
    expected[1:5, 1:4] = 1
    assert torch.equal(targets.labels[0], expected)
    assert float(targets.centreness[0, 0, 2]) == 0.0
    # the mask is trained where centre-ness >= 0.5: (2, 2) and (3, 2) (0.745 each); (2, 1) has 0.333
    assert targets.positive_positions()[0].nonzero().tolist() == [[2, 2], [3, 2]]


def test_a_negative_pair_has_no_positive() -> None:
    targets = PointTargetAssigner(SPEC)(BOX_XYXY, torch.tensor([True]), score_size=5, search_size=64)
    assert targets.labels.sum() == 0 and not targets.positive_positions().any()


def test_decoding_the_encoded_distances_gives_the_box_back_at_every_positive() -> None:
    distances = SPEC.distances(BOX_XYXY, 5, 64)
    inside = (distances > 0).all(1)
    box_map = torch.log(distances.clamp(min=1e-6) / SPEC.stride)
    decoded = SPEC.decode(box_map, 64)[inside]
    torch.testing.assert_close(decoded, BOX_XYXY.expand(int(inside.sum()), 4))


def test_giou_loss_of_a_hand_case_weighted_by_centreness() -> None:
    # One point per pair at (1, 1) (stride 1, 2-pixel crop); a zero box map decodes to [0, 0, 2, 2].
    # Pair 0: truth [1, 1, 3, 3]: IoU 1/7, enclosing area 9, GIoU 1/7 - 2/9; pair 1: truth = prediction, GIoU 1.
    spec = PointSpec(stride=1)
    truth = torch.tensor([[1.0, 1.0, 3.0, 3.0], [0.0, 0.0, 2.0, 2.0]])
    weight = torch.tensor([0.5, 1.5]).view(2, 1, 1)
    targets = PointTargets(torch.ones(2, 1, 1), truth, weight, torch.ones(2, 1, 1, dtype=torch.bool), spec, 2)
    losses = targets.losses(torch.zeros(2, 2, 1, 1), torch.zeros(2, 4, 1, 1), {})
    giou_loss = 1 - (1 / 7 - 2 / 9)
    assert float(losses["box"]) == pytest.approx((0.5 * giou_loss + 1.5 * 0.0) / 2.0, rel=1e-6)
    assert float(losses["centreness"]) == pytest.approx(math.log(2))  # zero logits against any target
    assert float(losses["score"]) == pytest.approx(0.5 * math.log(2))  # positives only: the negative half is 0


class _PointNetwork(torch.nn.Module):
    """Preset anchor-free outputs for the tracker (score [cls, centre-ness], box log-distances / stride)."""

    def __init__(self, score: torch.Tensor, box: torch.Tensor) -> None:
        super().__init__()
        self.output = SearchOutput(score, box, None, [])
        self.score_head = SimpleNamespace(out_channels=2)
        self.box_head = SimpleNamespace(out_channels=4)

    def embed_template(self, template: torch.Tensor) -> torch.Tensor:
        return torch.zeros(template.shape[0], 1, 1, 1)

    def forward(self, template_feature: torch.Tensor, search: torch.Tensor, with_mask: bool = True) -> SearchOutput:
        return self.output


def test_tracker_picks_the_best_class_times_centreness_and_moves_by_its_distances() -> None:
    size = 25
    score = torch.full((1, 2, size, size), -10.0, dtype=torch.float64)
    score[0, :, 10, 14] = torch.tensor([3.0, -3.0], dtype=torch.float64)  # confident but off-centre: 0.045
    score[0, :, 12, 9] = torch.tensor([2.0, 2.0], dtype=torch.float64)  # 0.881 x 0.881 = 0.776
    box = torch.zeros(1, 4, size, size, dtype=torch.float64)
    box[0, :, 12, 9] = torch.log(torch.tensor([24.0, 16.0, 40.0, 48.0], dtype=torch.float64) / 8)
    config = TrackerConfig(penalty_k=0.0, window_influence=0.0, lr=1.0, mask_enabled=False, box_mode="box_branch")
    tracker = Tracker(_PointNetwork(score, box), config, "cpu", decoder=PointSpec())
    image = np.zeros((480, 640, 3), dtype=np.uint8)
    tracker.init(image, np.array([200.0, 150.0, 260.0, 230.0]))  # w 60, h 80, centre (230, 190)
    result = tracker.track(image)[0]

    p = 1 / (1 + math.exp(-2)) ** 2 * 1.0
    scale = 127 / math.sqrt((60 + 70) * (80 + 70))  # crop pixels per image pixel
    point_x, point_y = 127.5 + (9 - 12) * 8, 127.5  # the point of (row 12, col 9)
    left, top, right, bottom = point_x - 24, point_y - 16, point_x + 40, point_y + 48  # crop pixels
    cx = 230 + ((left + right) / 2 - 127.5) / scale
    cy = 190 + ((top + bottom) / 2 - 127.5) / scale
    w = 60 * (1 - p) + (right - left) / scale * p  # size learning rate: penalty 1 x probability x lr 1
    h = 80 * (1 - p) + (bottom - top) / scale * p
    assert result.score == pytest.approx(p)
    np.testing.assert_allclose(result.box_xyxy, [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], atol=1e-6)
