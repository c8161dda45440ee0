"""Mask warp-back, the mask's box / rotated box, and the box modes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from tracking_helpers import FakeNetwork, box_map, peaked_score

from siammask.geometry import CropWindow
from siammask.tracking import Tracker, TrackerConfig
from siammask.tracking.postprocess import mask_shape, paste_region, support_bounds

# A 63.5-px square target centred at (131.5, 111.5): its search crop is 1:1 with the image, starting at
# (4, -16), and the centre response's 127-px RoW starts at (68, 48).
ALIGNED_BOX_XYXY = np.array([99.75, 79.75, 163.25, 143.25])
ROW_ORIGIN = np.array([68, 48])


def pasted_mask(probability: np.ndarray, window: CropWindow, image_hw: tuple[int, int],
                threshold: float) -> np.ndarray:
    """The tracker's warp-back: only where the mask can exceed the threshold."""
    mask = np.zeros(image_hw, dtype=np.uint8)
    bounds = support_bounds(probability, threshold, window, image_hw)
    if bounds is not None:
        x0, y0, x1, y1 = bounds
        mask[y0:y1, x0:x1] = paste_region(probability, window, bounds) > threshold
    return mask


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("background", ["blurred", "just_below_threshold"])
def test_restricted_warp_back_equals_the_full_image_warp(seed: int, background: str) -> None:
    rng = np.random.default_rng(seed)
    image_hw = (120, 170)
    window = CropWindow(rng.uniform(-40, 210), rng.uniform(-40, 160), rng.uniform(20, 300),
                        int(rng.choice([63, 127])))
    blob = np.zeros((window.out_size, window.out_size), dtype=np.float32)
    r0, c0 = rng.integers(0, window.out_size - 10, size=2)
    blob[r0:r0 + rng.integers(1, 30), c0:c0 + rng.integers(1, 30)] = 1.0
    if background == "blurred":
        probability = cv2.GaussianBlur(blob, (7, 7), 2.0) * rng.uniform(0.5, 1.0)
    else:  # the worst case for the support: any weight on a blob pixel lifts a neighbour above 0.3
        probability = np.where(blob > 0, 1.0, 0.2999).astype(np.float32)
    full = (window.paste_back(probability, image_hw) > 0.3).astype(np.uint8)
    np.testing.assert_array_equal(pasted_mask(probability, window, image_hw, 0.3), full)


@pytest.mark.parametrize("size, out_size", [(127.0, 127), (126.0, 63)])
def test_crop_then_warp_back_returns_the_mask_to_the_same_pixels(size: float, out_size: int) -> None:
    image_hw = (150, 200)
    window = CropWindow(37 + size / 2, 11 + size / 2, size, out_size)  # integer origin (37, 11)
    mask = np.zeros(image_hw, dtype=np.uint8)
    mask[11 + 20:11 + 60, 37 + 30:37 + 90] = 1  # edges on even offsets from the origin
    crop = window.crop(mask.astype(np.float32))
    np.testing.assert_array_equal(pasted_mask(crop, window, image_hw, 0.5), mask)


def test_mask_shape_of_an_axis_aligned_rectangle_encloses_its_pixels_exactly() -> None:
    mask = np.zeros((50, 80), dtype=np.uint8)
    mask[10:20, 30:50] = 1
    shape = mask_shape(mask)
    np.testing.assert_array_equal(shape.minmax_xyxy, [30, 10, 50, 20])
    np.testing.assert_allclose(sorted(map(tuple, shape.rotated_box)), [(30, 10), (30, 20), (50, 10), (50, 20)],
                               atol=1e-4)


def test_mask_shape_recovers_a_rotated_rectangle() -> None:
    centre, sides, angle = (100.0, 80.0), (60.0, 30.0), 30.0
    mask = np.zeros((160, 200), dtype=np.uint8)
    corners = cv2.boxPoints((centre, sides, angle))
    # Fill the pixels whose centres fall inside the rectangle.
    ys, xs = np.mgrid[0:160, 0:200] + 0.5
    inside = np.stack([cv2.pointPolygonTest(corners, (float(x), float(y)), False) >= 0
                       for x, y in zip(xs.ravel(), ys.ravel())]).reshape(160, 200)
    mask[inside] = 1
    (cx, cy), (w, h), a = cv2.minAreaRect(mask_shape(mask).rotated_box.astype(np.float32))
    long_side, short_side = max(w, h), min(w, h)
    assert (cx, cy) == pytest.approx(centre, abs=0.75)
    assert long_side == pytest.approx(60, abs=1.5) and short_side == pytest.approx(30, abs=1.5)
    long_axis_angle = (a if w >= h else a + 90) % 180
    assert long_axis_angle == pytest.approx(30, abs=2)


def test_mask_shape_keeps_the_largest_part_and_ignores_specks() -> None:
    mask = np.zeros((60, 60), dtype=np.uint8)
    mask[5:15, 5:15] = 1  # area of the contour through pixel centres: 81
    assert mask_shape(mask, min_contour_area=100) is None
    mask[30:50, 20:45] = 1
    np.testing.assert_array_equal(mask_shape(mask, offset_xy=(7, 3), min_contour_area=100).minmax_xyxy,
                                  [27, 33, 52, 53])


def aligned_tracker(mask_logits: torch.Tensor, box_mode: str) -> tuple[Tracker, np.ndarray]:
    """A fake three-branch tracker whose chosen RoW is the centre one, 1:1 with the image; returns its image."""
    network = FakeNetwork(peaked_score({(2, 12, 12): 0.9}), box_map({}), mask_logits)
    tracker = Tracker(network, TrackerConfig(box_mode=box_mode), "cpu")
    image = np.zeros((240, 320, 3), dtype=np.uint8)
    tracker.init(image, ALIGNED_BOX_XYXY)
    return tracker, image


def rotated_mask_logits() -> tuple[torch.Tensor, np.ndarray]:
    """127 x 127 logits of a filled rotated rectangle, and that rectangle's corners in RoW pixels."""
    corners = cv2.boxPoints(((60.0, 70.0), (70.0, 30.0), 25.0))
    binary = np.zeros((127, 127), dtype=np.uint8)
    cv2.fillPoly(binary, [np.round(corners).astype(np.int32)], 1)
    return torch.from_numpy(np.where(binary > 0, 20.0, -20.0)).float()[None], binary


@pytest.mark.parametrize("box_mode", ["box_branch", "mask_minmax", "min_area_rect"])
def test_box_mode_decides_polygon_and_box(box_mode: str) -> None:
    logits, binary = rotated_mask_logits()
    tracker, image = aligned_tracker(logits, box_mode)
    result = tracker.track(image)[0]
    ys, xs = np.nonzero(binary)
    expected_mask = np.zeros((240, 320), dtype=np.uint8)
    expected_mask[ys + ROW_ORIGIN[1], xs + ROW_ORIGIN[0]] = 1
    np.testing.assert_array_equal(result.mask, expected_mask)
    minmax = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]) + np.tile(ROW_ORIGIN, 2)
    # Whatever the mode, box_xyxy is the tracker's box: the 64 x 64 anchor at the centre, no deltas: size
    # change 64 / 63.5, lr = penalty x 0.9 x 0.25.
    lr = np.exp(-(64 / 63.5 - 1) * 0.04) * 0.9 * 0.25
    w = 63.5 * (1 - lr) + 64 * lr
    tracked_xyxy = [131.5 - w / 2, 111.5 - w / 2, 131.5 + w / 2, 111.5 + w / 2]
    np.testing.assert_allclose(result.box_xyxy, tracked_xyxy, atol=1e-9)
    if box_mode == "box_branch":
        x0, y0, x1, y1 = tracked_xyxy
        np.testing.assert_allclose(result.polygon, [[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    elif box_mode == "mask_minmax":
        np.testing.assert_allclose(result.polygon, [[minmax[0], minmax[1]], [minmax[2], minmax[1]],
                                                    [minmax[2], minmax[3]], [minmax[0], minmax[3]]])
    else:
        np.testing.assert_allclose(result.polygon, result.rotated_box)
    # Whatever the mode, the rotated box is the minimum-area rectangle of all the mask's pixel squares.
    ys, xs = np.nonzero(expected_mask)
    squares = (np.stack([xs, ys], 1)[:, None, :] + np.array([[0, 0], [1, 0], [1, 1], [0, 1]])[None]).reshape(-1, 2)
    (_, _), expected_wh, _ = cv2.minAreaRect(squares.astype(np.float32))
    (_, _), wh, angle = cv2.minAreaRect(result.rotated_box.astype(np.float32))
    assert sorted(wh) == pytest.approx(sorted(expected_wh), abs=1e-3)
    assert min(angle % 90, 90 - angle % 90) > 15  # tilted like the mask (25 degrees)


def test_tiny_mask_falls_back_to_the_tracked_box() -> None:
    logits = torch.full((1, 127, 127), -20.0)
    logits[0, 60:66, 60:66] = 20.0  # 36 px, below the release's 100
    tracker, image = aligned_tracker(logits, "min_area_rect")
    result = tracker.track(image)[0]
    assert result.mask.sum() == 36
    x0, y0, x1, y1 = result.box_xyxy
    np.testing.assert_allclose(result.rotated_box, [[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    assert x1 - x0 == pytest.approx(63.5, abs=0.2)
