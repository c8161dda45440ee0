"""Candidate choice and state update against hand computations with the release's formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from tracking_helpers import FakeNetwork, box_map, peaked_score, rectangle_mask_logits

from siammask.tracking import Tracker, TrackerConfig

IMAGE = np.zeros((480, 640, 3), dtype=np.uint8)
BOX_XYXY = np.array([200.0, 150.0, 260.0, 230.0])  # w 60, h 80, centre (230, 190)
VOT = TrackerConfig(penalty_k=0.04, window_influence=0.42, lr=0.25, mask_enabled=False, box_mode="box_branch")


def hann(n: int, size: int = 25) -> float:
    return 0.5 - 0.5 * math.cos(2 * math.pi * n / (size - 1))


def padded_side(w: float, h: float) -> float:
    p = (w + h) / 2
    return math.sqrt((w + p) * (h + p))


def anchor_wh(ratio: float) -> tuple[float, float]:
    """The release's anchor size for stride 8, scale 8 (widths truncated to whole pixels)."""
    w = int(math.sqrt(64 / ratio))
    return w * 8.0, int(w * ratio) * 8.0


def fake_tracker(score: torch.Tensor, box: torch.Tensor | None, config: TrackerConfig = VOT,
                 mask_logits: torch.Tensor | None = None) -> tuple[Tracker, FakeNetwork]:
    network = FakeNetwork(score, box, mask_logits if mask_logits is not None else torch.full((1, 63, 63), -20.0))
    return Tracker(network, config, "cpu"), network


def test_three_branch_moves_to_the_peak_anchor_by_its_deltas_with_penalised_lr() -> None:
    anchor, row, col, p = 2, 10, 14, 0.9  # ratio 1 -> 64 x 64
    deltas = (0.25, -0.125, math.log(1.2), math.log(0.8))
    tracker, _ = fake_tracker(peaked_score({(anchor, row, col): p}), box_map({(anchor, row, col): deltas}))
    tracker.init(IMAGE, BOX_XYXY)
    result = tracker.track(IMAGE)[0]

    # By hand: search region 255/127 x context side, so crop pixels per image pixel = 127 / context side.
    s_z = math.sqrt((60 + 70) * (80 + 70))
    scale = 127 / s_z
    aw, ah = anchor_wh(1.0)
    cx_crop = 0.25 * aw + 127.5 + (col - 12) * 8
    cy_crop = -0.125 * ah + 127.5 + (row - 12) * 8
    w_crop, h_crop = 1.2 * aw, 0.8 * ah
    ratio_change = max(r := (60 / 80) / (w_crop / h_crop), 1 / r)
    scale_change = max(s := padded_side(w_crop, h_crop) / padded_side(60 * scale, 80 * scale), 1 / s)
    penalty = math.exp(-(ratio_change * scale_change - 1) * 0.04)
    lr = penalty * p * 0.25
    cx = 230 + (cx_crop - 127.5) / scale
    cy = 190 + (cy_crop - 127.5) / scale
    w = 60 * (1 - lr) + w_crop / scale * lr
    h = 80 * (1 - lr) + h_crop / scale * lr
    assert penalty * p * 0.58 + hann(row) * hann(col) * 0.42 > 0.42  # the peak beats the window alone
    np.testing.assert_allclose(result.box_xyxy, [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], atol=1e-6)
    assert result.score == pytest.approx(p)
    assert result.mask is None
    np.testing.assert_allclose(result.polygon, [[cx - w / 2, cy - h / 2], [cx + w / 2, cy - h / 2],
                                                [cx + w / 2, cy + h / 2], [cx - w / 2, cy + h / 2]], atol=1e-6)


def test_shape_penalty_prefers_the_anchor_keeping_the_target_shape() -> None:
    # Same position and probability: anchor 1 (ratio 0.5, 88 x 40 crop px, no deltas) would change the
    # shape a lot; anchor 3 (ratio 2, 40 x 80) has deltas giving exactly the target's size in the crop.
    s_z = math.sqrt((60 + 70) * (80 + 70))
    scale = 127 / s_z
    w3, h3 = anchor_wh(2.0)
    keep = (0.0, 0.0, math.log(60 * scale / w3), math.log(80 * scale / h3))
    peaks = {(1, 12, 12): 0.8, (3, 12, 12): 0.8}
    tracker, _ = fake_tracker(peaked_score(peaks), box_map({(3, 12, 12): keep}))
    tracker.init(IMAGE, BOX_XYXY)
    result = tracker.track(IMAGE)[0]
    # Penalty 1 -> lr = 0.8 * 0.25 on an unchanged size: the box stays exactly the same.
    np.testing.assert_allclose(result.box_xyxy, BOX_XYXY, atol=1e-6)


def test_cosine_window_prefers_the_smaller_displacement() -> None:
    s_z = math.sqrt((60 + 70) * (80 + 70))
    scale = 127 / s_z
    w3, h3 = anchor_wh(2.0)
    keep = (0.0, 0.0, math.log(60 * scale / w3), math.log(80 * scale / h3))
    near, far = (3, 13, 12), (3, 12, 20)
    tracker, _ = fake_tracker(peaked_score({near: 0.7, far: 0.7}), box_map({near: keep, far: keep}))
    tracker.init(IMAGE, BOX_XYXY)
    result = tracker.track(IMAGE)[0]
    centre_y = (result.box_xyxy[1] + result.box_xyxy[3]) / 2
    assert centre_y == pytest.approx(190 + 8 / scale)  # one cell down, not 8 cells right


def test_state_is_clamped_inside_the_image_and_to_the_minimum_size() -> None:
    # A peak at the map corner with a tiny box drags the target out of a small image.
    tracker, _ = fake_tracker(peaked_score({(2, 0, 0): 0.99}), box_map({(2, 0, 0): (-3.0, -3.0, -4.0, -4.0)}),
                              TrackerConfig(penalty_k=0.0, lr=1.0, window_influence=0.0, mask_enabled=False,
                                            box_mode="box_branch"))
    image = np.zeros((120, 160, 3), dtype=np.uint8)
    tracker.init(image, [10, 10, 50, 60])
    result = tracker.track(image)[0]
    cx, cy = (result.box_xyxy[:2] + result.box_xyxy[2:]) / 2
    w, h = result.box_xyxy[2:] - result.box_xyxy[:2]
    assert (cx, cy) == (0.0, 0.0)  # release: centre clamped to [0, image size]
    assert (w, h) == pytest.approx((10.0, 10.0))  # release: size clamped to >= 10


def test_two_branch_takes_its_box_from_the_mask_with_penalised_lr() -> None:
    # Geometry chosen so the search crop is 1:1 with the image and a 127 x 127 mask lands pixel for pixel:
    # a 63.5-px square target has a context side of exactly 127; its search crop starts at (4, -16).
    box_xyxy = np.array([99.75, 79.75, 163.25, 143.25])
    score = torch.full((1, 1, 25, 25), -30.0, dtype=torch.float64)
    score[0, 0, 12, 12] = np.log(0.8 / 0.2)
    config = TrackerConfig(penalty_k=0.04, window_influence=0.4, lr=0.5, seg_thr=0.35, box_mode="box_branch")
    tracker, _ = fake_tracker(score, None, config, rectangle_mask_logits(127, (20, 60), (30, 90)))
    image = np.zeros((240, 320, 3), dtype=np.uint8)
    tracker.init(image, box_xyxy)
    result = tracker.track(image)[0]

    # The RoW of the centre response starts at (4 + 64, -16 + 64): the mask covers x 98..158, y 68..108.
    expected = np.zeros((240, 320), dtype=np.uint8)
    expected[68:108, 98:158] = 1
    np.testing.assert_array_equal(result.mask, expected)
    np.testing.assert_allclose(sorted(map(tuple, result.rotated_box)),
                               [(98, 68), (98, 108), (158, 68), (158, 108)], atol=1e-4)
    ratio_change = max(r := 1.0 / (60 / 40), 1 / r)
    scale_change = max(s := padded_side(60, 40) / padded_side(63.5, 63.5), 1 / s)
    lr = math.exp(-(ratio_change * scale_change - 1) * 0.04) * 0.8 * 0.5
    w, h = 63.5 * (1 - lr) + 60 * lr, 63.5 * (1 - lr) + 40 * lr
    # The centre moves to the mask box's centre (128, 88); box_branch reports the tracked box.
    np.testing.assert_allclose(result.box_xyxy, [128 - w / 2, 88 - h / 2, 128 + w / 2, 88 + h / 2], atol=1e-9)
    assert result.score == pytest.approx(0.8)


def test_two_branch_without_mask_moves_to_the_response_and_keeps_its_size() -> None:
    box_xyxy = np.array([99.75, 79.75, 163.25, 143.25])
    score = torch.full((1, 1, 25, 25), -30.0, dtype=torch.float64)
    score[0, 0, 13, 11] = 2.0
    tracker, _ = fake_tracker(score, None, TrackerConfig(box_mode="box_branch"), torch.full((1, 127, 127), -20.0))
    image = np.zeros((240, 320, 3), dtype=np.uint8)
    tracker.init(image, box_xyxy)
    result = tracker.track(image)[0]
    np.testing.assert_allclose(result.box_xyxy, box_xyxy + np.array([-8, 8, -8, 8]), atol=1e-9)
    assert result.mask.sum() == 0


def test_mask_is_decoded_once_per_frame_and_only_at_the_chosen_positions() -> None:
    peaks = {(2, 9, 15): 0.9}
    score, box = peaked_score(peaks, targets=3), box_map({}, targets=3)
    score[1] = peaked_score({(0, 14, 11): 0.9})[0]
    tracker, network = fake_tracker(score, box, TrackerConfig(), torch.full((3, 63, 63), -20.0))
    tracker.init(IMAGE, np.stack([BOX_XYXY, BOX_XYXY + 100, BOX_XYXY + 50]))
    tracker.track(IMAGE)
    tracker.track(IMAGE)
    assert network.search_batches == [3, 3]  # one network call per frame for all targets
    assert network.mask_calls == [([0, 1, 2], [9, 14, 9], [15, 11, 15])] * 2


# ----- the release's precision (geometry=release): float32 ranking and decoding, as tools/test.py siamese_track -----
RELEASE_VOT = TrackerConfig(penalty_k=0.04, window_influence=0.42, lr=0.25, mask_enabled=False, box_mode="box_branch",
                            geometry="release")
# A near-tie at the map centre (cosine window 1, equal probability): anchor 2 (64 x 64) and anchor 4 (32 x 96) with
# these deltas have penalties that differ by ~1e-10 in float64 (anchor 4 ahead) and are equal in float32, where the
# first candidate in the release's flat order (anchor 2) wins.
TIE_A, TIE_B = (2, 12, 12), (4, 12, 12)
TIE_DELTAS_A = (0.0, 0.0, 0.1, -0.05)
TIE_DELTAS_B = (0.0, 0.0, 0.5294387187, 0.02)


def penalty_in(dtype: type[np.floating], ratio: float, log_wh: tuple[float, float]) -> float:
    """The release's penalty formula for the tie's target, every step in ``dtype`` (float64 quantities it meets are
    cast to it first, as numpy 1.x casts a float64 scalar meeting a float32 array)."""
    scale = 127 / math.sqrt((60 + 70) * (80 + 70))
    aw, ah = anchor_wh(ratio)
    d = np.array(log_wh, dtype=dtype)
    w, h = np.exp(d[:1]) * dtype(aw), np.exp(d[1:]) * dtype(ah)
    side = np.sqrt((w + (w + h) * 0.5) * (h + (w + h) * 0.5))
    s = side / dtype(padded_side(60 * scale, 80 * scale))
    r = dtype((60 * scale) / (80 * scale)) / (w / h)
    return float(np.exp(-(np.maximum(r, 1 / r) * np.maximum(s, 1 / s) - 1) * dtype(0.04))[0])


def test_the_hand_built_near_tie_breaks_one_way_in_float64_and_ties_in_float32() -> None:
    """The premise of the next test, by an independent computation."""
    assert penalty_in(np.float64, 3.0, TIE_DELTAS_B[2:]) > penalty_in(np.float64, 1.0, TIE_DELTAS_A[2:])
    assert penalty_in(np.float32, 3.0, TIE_DELTAS_B[2:]) == penalty_in(np.float32, 1.0, TIE_DELTAS_A[2:])


@pytest.mark.parametrize(("geometry", "winner", "ratio"), [("exact", TIE_DELTAS_B, 3.0), ("release", TIE_DELTAS_A, 1.0)])
def test_release_geometry_ranks_candidates_in_float32_as_the_release(geometry: str, winner: tuple[float, ...],
                                                                    ratio: float) -> None:
    config = TrackerConfig(**{**VOT.__dict__, "geometry": geometry})
    peaks = {TIE_A: 0.8, TIE_B: 0.8}
    tracker, _ = fake_tracker(peaked_score(peaks), box_map({TIE_A: TIE_DELTAS_A, TIE_B: TIE_DELTAS_B}), config)
    tracker.init(IMAGE, BOX_XYXY)
    result = tracker.track(IMAGE)[0]
    scale = 127 / math.sqrt((60 + 70) * (80 + 70))
    aw, ah = anchor_wh(ratio)
    lr = penalty_in(np.float64, ratio, winner[2:]) * 0.8 * 0.25
    w = 60 * (1 - lr) + math.exp(winner[2]) * aw / scale * lr
    h = 80 * (1 - lr) + math.exp(winner[3]) * ah / scale * lr
    np.testing.assert_allclose(result.box_xyxy, [230 - w / 2, 190 - h / 2, 230 + w / 2, 190 + h / 2], atol=1e-3)


def test_release_geometry_decodes_the_chosen_box_in_float32() -> None:
    """siamese_track: ``delta * anchor + anchor centre`` on the crop-centred float32 anchors, divided by scale_x as
    float32, added to the float64 centre; sizes ``exp(delta) * anchor`` / scale_x in float32."""
    anchor, row, col = 2, 9, 15  # 64 x 64, 3 cells up and 3 right of the centre
    deltas = (0.123456789, -0.3, math.log(1.3), math.log(0.7))
    tracker, _ = fake_tracker(peaked_score({(anchor, row, col): 0.99}), box_map({(anchor, row, col): deltas}),
                              RELEASE_VOT)
    tracker.init(IMAGE, BOX_XYXY)
    box = tracker.track(IMAGE)[0].box_xyxy
    d = np.array(deltas, dtype=np.float32)
    scale_x = np.float32(127 / math.sqrt((60 + 70) * (80 + 70)))
    cx = float(np.float32(d[0] * np.float32(64) + np.float32(24)) / scale_x) + 230
    cy = float(np.float32(d[1] * np.float32(64) + np.float32(-24)) / scale_x) + 190
    np.testing.assert_array_equal((box[:2] + box[2:]) / 2, [cx, cy])
