"""tracker.geometry=release: each formula of the release's tracker (tools/test.py) on hand-computed cases, and the
choice between the two geometries."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from tracking_helpers import FakeNetwork, box_map, peaked_score

from siammask.tracking import Tracker, TrackerConfig
from siammask.tracking.geometry import (
    ReleaseMaskWindow,
    ReleaseSearchWindow,
    release_crop,
    release_crop_origin,
    release_pad_colour,
    release_search_side,
    search_window,
)
from siammask.tracking.postprocess import mask_shape


@pytest.mark.parametrize("centre, side, origin", [
    (387.5, 415, 180),  # tennis init: round(387.5 - 208) = round(179.5), half to even
    (236.0, 415, 28),
    (10.25, 4, 8),  # round(7.75)
    (3.0, 2, 2),  # round(1.5) = 2
    (4.0, 2, 2),  # round(2.5) = 2, not 3
    (0.5, 3, -2),  # round(-1.5) = -2
])
def test_crop_origin_rounds_centre_minus_half_side_plus_one(centre: float, side: int, origin: int) -> None:
    assert release_crop_origin(centre, side) == origin


def test_search_side_is_the_unrounded_context_square_times_instance_over_exemplar() -> None:
    # Tennis init box 165 x 252: p = 208.5, s_z = sqrt(373.5 * 460.5) = 414.72 (the template crop rounds it to 415).
    s_x, scale = release_search_side(165, 252, 0.5, 127, 255)
    s_z = np.sqrt(373.5 * 460.5)
    assert s_z == pytest.approx(414.7249, abs=1e-4) and round(s_z) == 415
    assert s_x == pytest.approx(s_z * 255 / 127) and round(s_x) == 833
    assert scale == pytest.approx(127 / s_z)


def test_pad_colour_is_the_mean_truncated_to_integers() -> None:
    image = np.zeros((10, 10, 3), dtype=np.uint8)
    image[:, :, 0] = 11
    image[:1, :, 0] = 2  # mean 10.1
    image[:, :5, 1] = 41  # mean 20.5
    image[:1, :1, 2] = 99  # mean 0.99
    np.testing.assert_array_equal(release_pad_colour(image), [10, 20, 0])


def ramp_image() -> np.ndarray:
    """6 x 6 x 3 image whose pixel (x, y) holds x + 10 y in every channel."""
    values = np.arange(6)[None, :] + 10 * np.arange(6)[:, None]
    return np.repeat(values[:, :, None], 3, axis=2).astype(np.uint8)


def test_crop_inside_the_image_is_the_pixel_block_from_the_rounded_origin() -> None:
    crop = release_crop(ramp_image(), (2.0, 3.0), 3, 3, np.zeros(3, np.uint8))  # origin (round(0), round(1))
    np.testing.assert_array_equal(crop[:, :, 0], [[10, 11, 12], [20, 21, 22], [30, 31, 32]])


def test_crop_over_the_border_is_padded_with_the_given_colour() -> None:
    crop = release_crop(ramp_image(), (0.5, 0.5), 3, 3, np.array([7, 8, 9], np.uint8))  # origin (-2, -2)
    np.testing.assert_array_equal(crop[:, :, 0], [[7, 7, 7], [7, 7, 7], [7, 7, 0]])
    np.testing.assert_array_equal(crop[0, 0], [7, 8, 9])


def test_crop_is_resized_with_half_pixel_bilinear_sampling() -> None:
    image = np.zeros((5, 5, 3), dtype=np.uint8)
    image[:, 3] = 100  # the 2 x 2 block at origin (round(1.5), round(1.5)) = (2, 2) reads 0, 100 along x
    crop = release_crop(image, (3.0, 3.0), 2, 4, np.zeros(3, np.uint8))
    # Output column u samples (u + 0.5) / 2 - 0.5 of the patch: -0.25 (clamped), 0.25, 0.75, 1.25 (clamped).
    np.testing.assert_array_equal(crop[0, :, 0], [0, 25, 75, 100])


def test_search_boxes_decode_around_the_tracked_centre_at_the_unrounded_scale() -> None:
    window = ReleaseSearchWindow((100.0, 50.0), side=511, scale=0.5, out_size=255, image_hw=(300, 400))
    np.testing.assert_allclose(window.points_to_image(np.array([127.5 + 10, 127.5 - 4])), [120, 42])


def test_mask_paste_affine_is_the_release_crop_back_mapping() -> None:
    # Search crop of side 200 around (100, 50); the RoW two responses right of the centre (crop x 143.5).
    window = ReleaseSearchWindow((100.0, 50.0), side=200, scale=255 / 199.6, out_size=255, image_hw=(120, 300))
    row = window.mask_window(143.5, 127.5, 127, 63)
    s = 200 / 255  # image pixels per crop pixel
    sub_x0, sub_y0, sub_side = 100 - 100 + 80 * s, 50 - 100 + 64 * s, 127 * s  # crop_box[0] + (dx - 4) * 8 * s
    k = 63 / sub_side
    expected = [[(300 - 1) / (300 * k), 0, (300 - 1) / (300 * k) * sub_x0 * k],
                [0, (120 - 1) / (120 * k), (120 - 1) / (120 * k) * sub_y0 * k]]
    np.testing.assert_allclose(row.affine, expected, rtol=1e-12)


@pytest.mark.parametrize("threshold", [0.3, 0.6])
def test_mask_pasted_over_its_support_equals_the_release_full_image_warp(threshold: float) -> None:
    rng = np.random.default_rng(0)
    mask = cv2.GaussianBlur(rng.random((63, 63)).astype(np.float32), (0, 0), 4)
    mask = (mask - mask.min()) / (mask.max() - mask.min())
    row = ReleaseMaskWindow.of((40.3, -12.7), 150.2, 63, (120, 160))
    full = cv2.warpAffine(mask, row.affine, (160, 120), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=-1)  # the release's crop_back(mask, back_box, (W, H), padding=-1)
    x0, y0, x1, y1 = row.support_bounds(mask, threshold, (120, 160))
    region = row.paste_region(mask, (x0, y0, x1, y1)) > threshold
    outside = (full > threshold).copy()
    outside[y0:y1, x0:x1] = False
    assert not outside.any() and region.sum() > 100
    assert (region != (full[y0:y1, x0:x1] > threshold)).sum() <= 2  # fixed-point sampling may flip an edge pixel


def test_rotated_box_fits_pixel_centres_in_release_and_pixel_squares_in_exact() -> None:
    mask = np.zeros((10, 10), dtype=np.uint8)
    mask[1:4, 2:6] = 1  # columns 2..5, rows 1..3
    release = mask_shape(mask, pixel_corners=False).rotated_box
    exact = mask_shape(mask).rotated_box
    np.testing.assert_allclose(np.sort(release, axis=0), [[2, 1], [2, 1], [5, 3], [5, 3]])
    np.testing.assert_allclose(np.sort(exact, axis=0), [[2, 1], [2, 1], [6, 4], [6, 4]])


def test_geometry_picks_the_window_kind_and_an_unknown_one_is_refused() -> None:
    exact = search_window("exact", np.array([100.0, 50.0]), np.array([165.0, 252.0]), 0.5, 127, 255, (480, 854))
    release = search_window("release", np.array([100.0, 50.0]), np.array([165.0, 252.0]), 0.5, 127, 255, (480, 854))
    assert exact.window.size == pytest.approx(414.7249 * 255 / 127, abs=1e-3)
    assert (release.side, release.centre_xy) == (833, (100.0, 50.0))
    with pytest.raises(ValueError, match="geometry must be one of"):
        TrackerConfig(geometry="rounded")


def test_release_tracker_feeds_the_network_the_release_crops() -> None:
    """Template and search crops of a tracker on geometry=release are the release's pixel blocks, resized."""
    seen: list[torch.Tensor] = []

    class Recording(FakeNetwork):
        def embed_template(self, template: torch.Tensor) -> torch.Tensor:
            seen.append(template)
            return super().embed_template(template)

        def forward(self, template_feature: torch.Tensor, search: torch.Tensor, with_mask: bool = True):
            seen.append(search)
            return super().forward(template_feature, search, with_mask)

    rng = np.random.default_rng(1)
    image = rng.integers(0, 255, (300, 400, 3), dtype=np.uint8)
    tracker = Tracker(Recording(peaked_score({(2, 12, 12): 0.9}), box_map({}), torch.zeros(1, 63, 63)),
                      TrackerConfig(geometry="release"), "cpu")
    tracker.init(image, np.array([150.0, 100.0, 210.0, 180.0]))  # 60 x 80 at (180, 140): s_z = sqrt(130 * 150)
    tracker.track(image)
    pad = np.asarray(cv2.mean(image)[:3]).astype(np.uint8)
    s_z = np.sqrt(130 * 150)
    template = release_crop(image, (180.0, 140.0), round(s_z), 127, pad)
    search = release_crop(image, (180.0, 140.0), round(s_z * 255 / 127), 255, pad)
    np.testing.assert_array_equal(seen[0][0].permute(1, 2, 0).numpy(), template)
    np.testing.assert_array_equal(seen[1][0].permute(1, 2, 0).numpy(), search)
